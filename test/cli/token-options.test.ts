// Where `weir console` and `weir image upgrade` take the console token from:
// --token (discouraged: visible in ps), --token-file, $WEIR_TOKEN, the
// appliance's own token file.

import { describe, it, expect, beforeEach, afterEach } from "vitest";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { clientToken } from "../../src/console/transport/token.js";
import { runConsole } from "../../src/console/transport/ws-client.js";
import { uploadAndUpgrade } from "../../src/image/upgrade-client.js";
import { startWsConsole, type WsConsole } from "../../src/console/transport/ws.js";
import { fakeInterpreter, quietLog, sink, source } from "../console/transport/fake.js";

const TOKEN = "test-token-0123456789abcdefghijkl";
let dir: string;
let srv: WsConsole | undefined;
let savedEnv: string | undefined;

beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), "weir-token-"));
  savedEnv = process.env.WEIR_TOKEN;
  delete process.env.WEIR_TOKEN;
});
afterEach(async () => {
  await srv?.close();
  srv = undefined;
  if (savedEnv === undefined) delete process.env.WEIR_TOKEN;
  else process.env.WEIR_TOKEN = savedEnv;
  fs.rmSync(dir, { recursive: true, force: true });
});

function file(name: string, text: string): string {
  const p = path.join(dir, name);
  fs.writeFileSync(p, text, { mode: 0o600 });
  return p;
}

describe("clientToken", () => {
  it("takes --token, else --token-file, else $WEIR_TOKEN, else the default file", () => {
    const f = file("tok", "from-file\n");
    const d = file("default", "from-default\n");
    const env = { WEIR_TOKEN: "from-env" };
    expect(clientToken({ token: "from-arg", tokenFile: f, env, defaultFile: d })).toBe("from-arg");
    expect(clientToken({ tokenFile: f, env, defaultFile: d })).toBe("from-file");
    expect(clientToken({ env, defaultFile: d })).toBe("from-env");
    expect(clientToken({ env: {}, defaultFile: d })).toBe("from-default");
    expect(clientToken({ env: {}, defaultFile: path.join(dir, "none") })).toBeUndefined();
    expect(clientToken({ env: {}, defaultFile: false })).toBeUndefined();
  });

  it("refuses a --token-file that cannot be read or is empty, rather than trying elsewhere", () => {
    expect(() => clientToken({ tokenFile: path.join(dir, "none"), env: { WEIR_TOKEN: "x" } })).toThrow(`cannot read the token file ${path.join(dir, "none")}: ENOENT`);
    expect(() => clientToken({ tokenFile: file("empty", " \n") })).toThrow("is empty");
  });
});

describe("weir console and weir image upgrade without --token", () => {
  async function start(): Promise<WsConsole> {
    srv = await startWsConsole({
      interpreter: fakeInterpreter(), host: "127.0.0.1", port: 0, token: TOKEN, log: quietLog,
      uploads: { dir: path.join(dir, "uploads"), maxBytes: 1 << 20, allowMemoryFs: true, reserveBytes: 0 },
    });
    return srv;
  }

  async function consoleRun(o: { tokenFile?: string }) {
    const s = await start();
    const stdout = sink();
    const stderr = sink();
    const code = await runConsole({ url: s.wsUrl, tokenFile: o.tokenFile, stdin: source("echo hello\n"), stdout, stderr });
    return { code, out: stdout.text(), err: stderr.text() };
  }

  it("weir console reads the token from --token-file", async () => {
    expect(await consoleRun({ tokenFile: file("tok", `${TOKEN}\n`) })).toEqual({ code: 0, out: "hello\n", err: "" });
  });

  it("weir console takes $WEIR_TOKEN", async () => {
    process.env.WEIR_TOKEN = TOKEN;
    expect(await consoleRun({})).toEqual({ code: 0, out: "hello\n", err: "" });
  });

  it("weir console says so when --token-file cannot be read", async () => {
    const r = await consoleRun({ tokenFile: path.join(dir, "missing") });
    expect(r.code).toBe(1);
    expect(r.err).toBe(`weir console: cannot read the token file ${path.join(dir, "missing")}: ENOENT\n`);
  });

  it("weir image upgrade reads the token from --token-file or $WEIR_TOKEN, and says so when it has none", async () => {
    const s = await start();
    const bundle = file("weir.bundle", "not really a bundle");
    const run = async (o: { tokenFile?: string }) => {
      const out = sink();
      const err = sink();
      const code = await uploadAndUpgrade({ url: s.wsUrl, bundle, tokenFile: o.tokenFile, out, err });
      return { code, out: out.text(), err: err.text() };
    };
    const viaFile = await run({ tokenFile: file("tok", `${TOKEN}\n`) });
    expect(viaFile.code).toBe(0);
    expect(viaFile.out).toMatch(/^ran: image upgrade .*upload-[0-9a-f]+\n$/);
    process.env.WEIR_TOKEN = TOKEN;
    expect((await run({})).code).toBe(0);
    delete process.env.WEIR_TOKEN;
    expect(await run({})).toEqual({ code: 1, out: "", err: "weir image upgrade: no token (give --token-file FILE or set WEIR_TOKEN)\n" });
  });
});
