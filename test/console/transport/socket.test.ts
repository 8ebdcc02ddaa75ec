// The control socket server: file mode, stale and live sockets, the JSON-lines
// framing (multi-line replies, attached input, several requests per
// connection, bad and oversized frames), the connection cap and the idle
// timeout.

import { describe, it, expect, beforeEach, afterEach } from "vitest";
import fs from "node:fs";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import { startCtlServer, type CtlServer } from "../../../src/console/transport/socket.js";
import { MAX_REQUEST_BYTES } from "../../../src/console/transport/framing.js";
import { fakeInterpreter, quietLog, type FakeInterpreter } from "./fake.js";

let dir: string;
let sockPath: string;
let server: CtlServer | undefined;
let interp: FakeInterpreter;

beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), "weir-ctl-"));
  sockPath = path.join(dir, "run", "ctl.sock");
  interp = fakeInterpreter();
});

afterEach(async () => {
  await server?.close();
  server = undefined;
  fs.rmSync(dir, { recursive: true, force: true });
});

const start = async () => (server = await startCtlServer({ path: sockPath, interpreter: interp, log: quietLog }));

/** Sends raw bytes, half-closes, and collects the reply frames. */
function exchange(p: string, payload: string | Buffer): Promise<unknown[]> {
  return new Promise((resolve, reject) => {
    const s = net.connect(p);
    const parts: Buffer[] = [];
    s.on("data", (c: Buffer) => parts.push(c));
    s.on("error", reject);
    s.on("close", () => {
      const text = Buffer.concat(parts).toString("utf8");
      resolve(text.split("\n").filter((l) => l !== "").map((l) => JSON.parse(l)));
    });
    s.end(payload);
  });
}

const req = (o: object) => JSON.stringify(o) + "\n";

describe("control socket", () => {
  it("is created with mode 0600 (directory made if missing)", async () => {
    await start();
    const st = fs.statSync(sockPath);
    expect(st.isSocket()).toBe(true);
    expect(st.mode & 0o777).toBe(0o600);
  });

  it("answers several requests on one connection, in order, with multi-line replies", async () => {
    await start();
    const replies = await exchange(sockPath, req({ line: "slow 30" }) + req({ line: "multi" }) + req({ line: "bad x" }) + req({ line: "echo a b" }));
    expect(replies).toEqual([
      { ok: true, text: "slept 30" },
      { ok: true, text: "one\ntwo\nthree" },
      { ok: false, text: "error: unknown word 'x' at 1" },
      { ok: true, text: "a b" },
    ]);
    expect(interp.calls.every((c) => c.ctx.source === "socket")).toBe(true);
  });

  it("carries attached input with newlines and quotes intact", async () => {
    await start();
    const input = '-A -t 10.0.0.1:80 -s rr\n-a -t 10.0.0.1:80 -r 10.0.1.1:80 -m\n"quoted" \\ back\n';
    const replies = await exchange(sockPath, req({ line: "input", input }) + req({ line: "ipvsadm -R", input }));
    expect(replies).toEqual([{ ok: true, text: input }, { ok: true, text: "restored 3 rules" }]);
  });

  it("replies with an error to a malformed frame and keeps serving", async () => {
    await start();
    const replies = await exchange(sockPath, "not json\n" + req({ nope: 1 }) + req({ line: "x", input: 5 }) + req({ line: "echo ok" }));
    expect(replies).toEqual([
      { ok: false, text: "error: request is not valid JSON" },
      { ok: false, text: 'error: request has no string "line"' },
      { ok: false, text: 'error: request "input" is not a string' },
      { ok: true, text: "ok" },
    ]);
  });

  it("refuses a request over the limit with an error reply and closes", async () => {
    await start();
    const big = req({ line: "input", input: "x".repeat(MAX_REQUEST_BYTES) });
    const replies = await exchange(sockPath, req({ line: "echo first" }) + big + req({ line: "echo never" }));
    expect(replies).toEqual([
      { ok: true, text: "first" },
      { ok: false, text: `error: request larger than ${MAX_REQUEST_BYTES} bytes` },
    ]);
    expect(interp.calls.map((c) => c.line)).toEqual(["echo first"]);
  });

  it("accepts a request just under the limit", async () => {
    await start();
    const input = "y".repeat(MAX_REQUEST_BYTES - 100);
    const replies = (await exchange(sockPath, req({ line: "input", input }))) as { text: string }[];
    expect(replies[0].text.length).toBe(input.length);
  });

  it("ends the connection after `exit`", async () => {
    await start();
    const replies = await exchange(sockPath, req({ line: "echo 1" }) + req({ line: "exit" }) + req({ line: "echo 2" }));
    expect(replies).toEqual([{ ok: true, text: "1" }, { ok: true, text: "" }]);
  });

  it("removes a stale socket file at start", async () => {
    // A socket inode with no listener: hard-link a live socket, then close it.
    fs.mkdirSync(path.dirname(sockPath), { recursive: true });
    const other = path.join(dir, "other.sock");
    const tmp = net.createServer();
    await new Promise<void>((r) => tmp.listen(other, r));
    fs.linkSync(other, sockPath);
    await new Promise<void>((r) => tmp.close(() => r()));
    await start();
    expect(await exchange(sockPath, req({ line: "echo fresh" }))).toEqual([{ ok: true, text: "fresh" }]);
  });

  it("refuses to start when a live server answers on the path", async () => {
    await start();
    await expect(startCtlServer({ path: sockPath, interpreter: interp, log: quietLog })).rejects.toMatchObject({ code: "WEIR_ERR_CTL_IN_USE" });
    // The running server is untouched.
    expect(await exchange(sockPath, req({ line: "echo still" }))).toEqual([{ ok: true, text: "still" }]);
  });

  it("never removes a path that is not a socket", async () => {
    fs.mkdirSync(path.dirname(sockPath), { recursive: true });
    fs.writeFileSync(sockPath, "precious");
    await expect(startCtlServer({ path: sockPath, interpreter: interp, log: quietLog })).rejects.toMatchObject({ code: "WEIR_ERR_CTL_PATH" });
    expect(fs.readFileSync(sockPath, "utf8")).toBe("precious");
  });

  it("removes its socket file on close", async () => {
    await start();
    await server!.close();
    server = undefined;
    expect(fs.existsSync(sockPath)).toBe(false);
  });

  it("refuses a connection past maxConnections with an error reply, and takes one again once a slot is free", async () => {
    server = await startCtlServer({ path: sockPath, interpreter: interp, log: quietLog, maxConnections: 2 });
    const held = await Promise.all([0, 1].map(() => new Promise<net.Socket>((resolve) => {
      const s = net.connect(sockPath);
      s.on("error", () => {});
      s.once("connect", () => resolve(s));
    })));
    // Both held connections are served.
    for (const [i, s] of held.entries()) {
      s.write(req({ line: `echo held${i}` }));
      expect(await new Promise((r) => s.once("data", (d) => r(d.toString())))).toBe(`{"ok":true,"text":"held${i}"}\n`);
    }
    expect(await exchange(sockPath, req({ line: "echo third" }))).toEqual([{ ok: false, text: "error: too many control connections (at most 2)" }]);
    held[0].destroy();
    let r: unknown[] = [];
    for (let i = 0; i < 200; i++) { // until the server has seen the close
      r = await exchange(sockPath, req({ line: "echo again" }));
      if ((r[0] as { ok: boolean }).ok) break;
      await new Promise((w) => setTimeout(w, 10));
    }
    expect(r).toEqual([{ ok: true, text: "again" }]);
    held[1].destroy();
  });

  it("closes an idle connection, but never while a request runs", async () => {
    server = await startCtlServer({ path: sockPath, interpreter: interp, log: quietLog, idleTimeoutMs: 1500 });
    const idle = net.connect(sockPath);
    idle.on("error", () => {});
    await new Promise((r) => idle.once("close", r)); // sent nothing: closed by the server
    const busy = net.connect(sockPath);
    const got: Buffer[] = [];
    busy.on("data", (d: Buffer) => got.push(d));
    busy.write(req({ line: "slow 3000" })); // longer than the idle timeout, and not half-closed
    await new Promise((r) => busy.once("close", r));
    expect(Buffer.concat(got).toString()).toBe('{"ok":true,"text":"slept 3000"}\n');
  });

  it("turns an interpreter exception into an error reply", async () => {
    server = await startCtlServer({
      path: sockPath,
      log: quietLog,
      interpreter: { execute: async () => { throw new Error("boom"); }, commands: () => [] },
    });
    expect(await exchange(sockPath, req({ line: "x" }))).toEqual([{ ok: false, text: "error: internal error (see the appliance log)" }]);
  });
});
