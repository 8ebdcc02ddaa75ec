// `weir run`'s TLS options as users give them: half a configuration is a
// start-up error (never plain HTTP instead), and --tls-self-signed serves the
// console with the appliance's own certificate, made once and kept.

import { describe, expect, it } from "vitest";
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { readFileSync } from "node:fs";
import path from "node:path";
import { certFingerprint } from "../../src/console/transport/selfcert.js";
import { connectPinned } from "../../src/console/transport/pin.js";
import { tlsOptionsProblem } from "../../src/appliance/run.js";
import { WEIR, cleanupAfterEach } from "../helpers/weirproc.js";

const { track, tempDir } = cleanupAfterEach("weir-tls-");


const run = (args: string[]) => spawnSync(process.execPath, [WEIR, "run", ...args], { encoding: "utf8", timeout: 30_000 });

/** Starts `weir run` and resolves with the WebSocket console's URL from its log. */
function startWithWs(args: string[]): Promise<{ proc: ChildProcess; url: string }> {
  const proc = spawn(process.execPath, [WEIR, "run", ...args], { stdio: ["ignore", "ignore", "pipe"] });
  track(proc);
  return new Promise((resolve, reject) => {
    let err = "";
    const timer = setTimeout(() => reject(new Error(`no console within 20 s: ${err}`)), 20_000);
    proc.stderr!.on("data", (b) => {
      err += b;
      const m = /"url":"(https?:\/\/[^"]+)"/.exec(err);
      if (m) { clearTimeout(timer); resolve({ proc, url: m[1] }); }
    });
    proc.on("exit", (code) => { clearTimeout(timer); reject(new Error(`weir run exited ${code}: ${err}`)); });
  });
}

describe("weir run TLS options", () => {
  it("refuses half a TLS configuration at start-up, naming what is missing", () => {
    const d = tempDir();
    const base = ["--ctl", path.join(d, "ctl.sock"), "--ws", "127.0.0.1:0", "--ws-token-file", path.join(d, "tok")];
    const a = run([...base, "--tls-cert", path.join(d, "cert.pem")]);
    expect(a.status).toBe(2);
    expect(a.stderr).toMatch(/--tls-cert needs --tls-key/);
    const b = run([...base, "--tls-key", path.join(d, "key.pem")]);
    expect(b.status).toBe(2);
    expect(b.stderr).toMatch(/--tls-key needs --tls-cert/);
    expect(tlsOptionsProblem({ tlsSelfSigned: d, tlsCert: "c", tlsKey: "k", ws: "x:1" })).toMatch(/give one/);
    expect(tlsOptionsProblem({ tlsSelfSigned: d })).toMatch(/without --ws/);
    expect(tlsOptionsProblem({ tlsCert: "c", tlsKey: "k", ws: "x:1" })).toBeUndefined();
  });

  it("--tls-self-signed makes the certificate once and serves the console over TLS with it", async () => {
    const d = tempDir();
    const certDir = path.join(d, "tls");
    const args = ["--ctl", path.join(d, "ctl.sock"), "--ws", "127.0.0.1:0", "--ws-token-file", path.join(d, "tok"), "--tls-self-signed", certDir];
    const first = await startWithWs(args);
    expect(first.url).toMatch(/^https:\/\//);
    const fp = certFingerprint(readFileSync(path.join(certDir, "cert.pem")));
    const u = new URL(first.url);
    (await connectPinned(u.hostname, Number(u.port), fp)).destroy();
    first.proc.kill("SIGTERM");
    await new Promise((r) => first.proc.once("exit", r));
    // The next start keeps it: a pinned fingerprint stays valid across restarts.
    const second = await startWithWs(args);
    expect(certFingerprint(readFileSync(path.join(certDir, "cert.pem")))).toBe(fp);
    const u2 = new URL(second.url);
    (await connectPinned(u2.hostname, Number(u2.port), fp)).destroy();

    // weir console pins it: the right fingerprint gets a session, a wrong one is refused before the token goes out.
    const wss = `wss://${u2.host}`;
    const env = { ...process.env, WEIR_TOKEN: readFileSync(path.join(d, "tok"), "utf8").trim() };
    const con = (...extra: string[]) => spawnSync(process.execPath, [WEIR, "console", "--url", wss, ...extra], { input: "ipvsadm -L -n\n", encoding: "utf8", timeout: 30_000, env });
    const good = con("--fingerprint", fp);
    expect(good.status, good.stderr).toBe(0);
    expect(good.stdout).toContain("IP Virtual Server");
    const wrong = con("--fingerprint", "AA".repeat(32));
    expect(wrong.status).toBe(1);
    expect(wrong.stderr).toMatch(/not the pinned .*refusing to send the token/);
    const unpinned = con(); // a self-signed certificate with nothing to vouch for it
    expect(unpinned.status).not.toBe(0);
    const plain = spawnSync(process.execPath, [WEIR, "console", "--url", `ws://${u2.host}`, "--fingerprint", fp], { input: "", encoding: "utf8", timeout: 30_000, env });
    expect(plain.status).toBe(1);
    expect(plain.stderr).toMatch(/use a wss:\/\/ URL/);
  });
});
