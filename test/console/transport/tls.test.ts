// The WebSocket console over TLS, with a self-signed certificate made here
// by openssl (node:crypto cannot make certificates).

import { describe, it, expect, beforeAll, afterAll } from "vitest";
import { spawnSync } from "node:child_process";
import fs from "node:fs";
import https from "node:https";
import os from "node:os";
import path from "node:path";
import { startWsConsole, type WsConsole } from "../../../src/console/transport/ws.js";
import { runConsole } from "../../../src/console/transport/ws-client.js";
import { fakeInterpreter, quietLog, sink, source } from "./fake.js";
import { open, send, upgradeStatus } from "./wshelp.js";
import { requireOrFail } from "../../helpers/requires.js";

const haveOpenssl = spawnSync("openssl", ["version"]).status === 0;
const TOKEN = "tls-test-token-0123456789abcdef";

describe.skipIf(requireOrFail(haveOpenssl, "openssl not found"))("WebSocket console over TLS (skipped: openssl not found)", () => {
  let dir: string;
  let ca: Buffer;
  let srv: WsConsole;

  beforeAll(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), "weir-tls-"));
    const certFile = path.join(dir, "cert.pem");
    const keyFile = path.join(dir, "key.pem");
    const r = spawnSync("openssl", [
      "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
      "-keyout", keyFile, "-out", certFile, "-days", "1", "-subj", "/CN=127.0.0.1",
      "-addext", "subjectAltName=IP:127.0.0.1",
    ], { encoding: "utf8" });
    if (r.status !== 0) throw new Error(`openssl failed: ${r.stderr}`);
    ca = fs.readFileSync(certFile);
    srv = await startWsConsole({
      interpreter: fakeInterpreter(), host: "127.0.0.1", port: 0, token: TOKEN, tls: { certFile, keyFile }, log: quietLog,
    });
  });
  afterAll(async () => {
    await srv?.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it("serves the page over https with the wss endpoint in its CSP", async () => {
    expect(srv.url).toBe(`https://127.0.0.1:${srv.port}/`);
    expect(srv.wsUrl).toBe(`wss://127.0.0.1:${srv.port}/ws`);
    const res = await new Promise<{ status: number; csp: string }>((resolve, reject) => {
      https.get(srv.url, { ca, agent: false }, (r) => {
        r.resume();
        resolve({ status: r.statusCode ?? 0, csp: String(r.headers["content-security-policy"]) });
      }).on("error", reject);
    });
    expect(res.status).toBe(200);
    expect(res.csp).toContain(`wss://127.0.0.1:${srv.port}`);
  });

  it("runs a line over wss with the token, and checks Origin against https", async () => {
    const c = await open(srv.wsUrl, { ca, origin: `https://127.0.0.1:${srv.port}` });
    send(c, { type: "auth", token: TOKEN });
    expect(await c.next()).toMatchObject({ type: "auth", ok: true });
    send(c, { type: "line", line: "multi" });
    expect(await c.next()).toEqual({ type: "reply", ok: true, text: "one\ntwo\nthree" });
    c.ws.terminate();
    expect(await upgradeStatus(srv.wsUrl, { ca, origin: `http://127.0.0.1:${srv.port}` })).toBe(403);
  });

  it("refuses clients that do not trust the certificate", async () => {
    await expect(open(srv.wsUrl)).rejects.toThrow(/self.signed|certificate/i);
  });

  it("works from `weir console` given the CA", async () => {
    const stdout = sink();
    const stderr = sink();
    const code = await runConsole({ url: `wss://127.0.0.1:${srv.port}`, token: TOKEN, ca, stdin: source("echo secure\n"), stdout, stderr });
    expect([code, stdout.text(), stderr.text()]).toEqual([0, "secure\n", ""]);
  });
});
