// The serial console: prompt, replies, `exit` and new sessions, line editing
// (tab completion, history, Ctrl-C) through readline, the banner, and a real
// pseudo-terminal device opened by path.

import { describe, it, expect, afterEach } from "vitest";
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { PassThrough } from "node:stream";
import { startSerialConsole, consoleBanner, makeCompleter, PROMPT, type SerialConsole } from "../../../src/console/transport/serial.js";
import { fakeInterpreter, quietLog, sink } from "./fake.js";
import { requireOrFail } from "../../helpers/requires.js";

let con: SerialConsole | undefined;
let child: ChildProcess | undefined;
afterEach(async () => {
  await con?.close();
  con = undefined;
  child?.kill();
  child = undefined;
});

async function until(cond: () => boolean, ms = 5000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error("timed out");
    await new Promise((r) => setTimeout(r, 10));
  }
}

describe("serial console", () => {
  it("prompts, prints replies, and starts a new session after `exit`", async () => {
    const interp = fakeInterpreter();
    const input = new PassThrough();
    const output = sink();
    con = startSerialConsole({ interpreter: interp, input, output, terminal: false, banner: "BANNER", log: quietLog });
    input.write("echo hi\nmulti\n\nbad z\nexit\n");
    // Like a getty, a new session starts clean: what was typed ahead of it is dropped.
    await until(() => output.text().split("BANNER").length === 3);
    input.end("echo again\n");
    await con.closed;
    expect(output.text()).toBe(
      `BANNER\n${PROMPT}hi\n${PROMPT}one\ntwo\nthree\n${PROMPT}${PROMPT}error: unknown word 'z' at 1\n${PROMPT}` +
        `\nBANNER\n${PROMPT}again\n${PROMPT}`,
    );
    expect(interp.calls.map((c) => [c.line, c.ctx.source])).toEqual([
      ["echo hi", "serial"], ["multi", "serial"], ["bad z", "serial"], ["echo again", "serial"],
    ]);
  });

  it("ends for good after `exit` when it serves one session (process stdin)", async () => {
    const interp = fakeInterpreter();
    const input = new PassThrough();
    con = startSerialConsole({ interpreter: interp, input, output: sink(), terminal: false, once: true, log: quietLog });
    input.write("echo 1\nexit\necho 2\n");
    await con.closed;
    expect(interp.calls.map((c) => c.line)).toEqual(["echo 1"]);
    input.end();
  });

  it("completes with tab, recalls history, and clears the line on Ctrl-C (terminal mode)", async () => {
    const interp = fakeInterpreter();
    const input = new PassThrough();
    const output = sink();
    con = startSerialConsole({ interpreter: interp, input, output, terminal: true, banner: "B", log: quietLog });
    // readline completes asynchronously: wait for it before typing on.
    input.write("mul\t");
    await until(() => output.text().includes("multi"));
    input.write("\r");
    await until(() => interp.calls.length === 1);
    input.write("\x1b[A\r"); // up arrow: the last line again
    await until(() => interp.calls.length === 2);
    input.write("echo abc\x03echo x\r");
    await until(() => interp.calls.length === 3);
    expect(interp.calls.map((c) => c.line)).toEqual(["multi", "multi", "echo x"]);
    expect(output.text()).toContain("one\ntwo\nthree\n");
    expect(output.text()).toContain("^C");
    input.end();
    await con.closed;
  });

  it("completes whole-line prefixes of the interpreter's words", () => {
    const complete = makeCompleter(() => ["ip addr show", "ip link show", "ipvsadm", "help"]);
    expect(complete("ip")).toEqual([["ip addr show", "ip link show", "ipvsadm"], "ip"]);
    expect(complete("ip l")).toEqual([["ip link show"], "ip l"]);
    expect(complete("zz")).toEqual([[], "zz"]);
    expect(makeCompleter(() => { throw new Error("x"); })("a")).toEqual([[], "a"]);
  });

  it("shows the WebSocket console's URL, where its token is kept and the TLS fingerprint, never the token", () => {
    expect(consoleBanner()).not.toContain("WebSocket");
    const b = consoleBanner({ url: "https://10.0.0.5:8443/", tokenFile: "/config/ws-token", fingerprint: "AB:CD" });
    expect(b).toContain("WebSocket console: https://10.0.0.5:8443/  token in /config/ws-token");
    expect(b).toContain("TLS certificate SHA-256 fingerprint: AB:CD");
    // The option that printed it is gone: a token handed in anyway is not shown.
    expect(consoleBanner({ url: "https://x/", token: "tok123" } as Parameters<typeof consoleBanner>[0])).not.toContain("tok123");
  });

  it("refuses a device that is not a terminal", () => {
    expect(() => startSerialConsole({ interpreter: fakeInterpreter(), device: "/dev/null", log: quietLog })).toThrow(/not a terminal/);
  });

  const havePython = spawnSync("python3", ["-c", "import pty"]).status === 0;
  it.skipIf(requireOrFail(havePython, "python3 with pty"))("serves a tty device by path (a pseudo-terminal), session after session", async () => {
    // python3 holds the pty master and relays it to its stdin/stdout.
    const relay = [
      "import os, pty, select, sys",
      "m, s = pty.openpty()",
      "print(os.ttyname(s), flush=True)",
      "while True:",
      "    r, _, _ = select.select([m, 0], [], [])",
      "    if m in r:",
      "        try: d = os.read(m, 4096)",
      "        except OSError: d = b''",
      "        if d: os.write(1, d)",
      "    if 0 in r:",
      "        d = os.read(0, 4096)",
      "        if not d: break",
      "        os.write(m, d)",
    ].join("\n");
    child = spawn("python3", ["-c", relay], { stdio: ["pipe", "pipe", "inherit"] });
    let out = "";
    child.stdout!.on("data", (d: Buffer) => { out += d.toString(); });
    await until(() => out.includes("\n"));
    const dev = out.split("\n")[0];
    out = "";
    const interp = fakeInterpreter();
    con = startSerialConsole({ interpreter: interp, device: dev, banner: "Weir test banner", log: quietLog });
    await until(() => out.includes(PROMPT));
    expect(out).toContain("Weir test banner\r\n"); // the line discipline maps \n to \r\n
    child.stdin!.write("multi\r");
    await until(() => out.includes("three"));
    expect(out).toContain("one\r\ntwo\r\nthree\r\n");
    out = "";
    child.stdin!.write("exit\r");
    await until(() => out.includes("Weir test banner") && out.includes(PROMPT));
    out = "";
    child.stdin!.write("ech\t");
    await until(() => out.includes("o"));
    child.stdin!.write(" again\r");
    await until(() => interp.calls.length === 2);
    expect(interp.calls.map((c) => c.line)).toEqual(["multi", "echo again"]);
    await con.close();
    con = undefined;
  });
});
