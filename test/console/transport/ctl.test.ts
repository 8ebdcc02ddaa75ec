// `weir ctl` client logic (runCtl) against a control socket server started
// here: exit codes 0/1/2, stdin mode, `ipvsadm -R` taking stdin as input.

import { MAX_REQUEST_BYTES } from "../../../src/console/transport/framing.js";
import { describe, it, expect, beforeEach, afterEach, vi } from "vitest";
import fs from "node:fs";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import { startCtlServer, type CtlServer } from "../../../src/console/transport/socket.js";
import { ctlLine, runCtl } from "../../../src/console/transport/ctl.js";
import { buildCli } from "../../../src/cli.js";
import { fakeInterpreter, quietLog, sink, source, type FakeInterpreter } from "./fake.js";

let dir: string;
let sockPath: string;
let server: CtlServer | undefined;
let interp: FakeInterpreter;

beforeEach(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), "weir-ctl-"));
  sockPath = path.join(dir, "ctl.sock");
  interp = fakeInterpreter();
  server = await startCtlServer({ path: sockPath, interpreter: interp, log: quietLog });
});

afterEach(async () => {
  await server?.close();
  server = undefined;
  fs.rmSync(dir, { recursive: true, force: true });
});

async function ctl(line: string | undefined, stdinText = "", isTTY = false, socketPath = sockPath) {
  const stdout = sink();
  const stderr = sink();
  const code = await runCtl({ socketPath, line, stdin: source(stdinText, isTTY), stdout, stderr });
  return { code, out: stdout.text(), err: stderr.text() };
}

describe("weir ctl", () => {
  it("exits 0 and prints a multi-line reply", async () => {
    expect(await ctl("multi")).toEqual({ code: 0, out: "one\ntwo\nthree\n", err: "" });
  });

  it("prints nothing for an empty ok reply", async () => {
    expect(await ctl("echo")).toEqual({ code: 0, out: "", err: "" });
  });

  it("exits 1 on an error reply, printed on stderr", async () => {
    expect(await ctl("bad word")).toEqual({ code: 1, out: "", err: "error: unknown word 'word' at 1\n" });
  });

  it("exits 2 with a clear message when the socket is missing", async () => {
    const r = await ctl("echo hi", "", false, path.join(dir, "nothing.sock"));
    expect(r.code).toBe(2);
    expect(r.err).toMatch(/^weir ctl: cannot reach the appliance at .*nothing\.sock: no such socket \(is 'weir run' running\?\)\n$/);
  });

  it("exits 2 when the connection is refused (stale socket, no server)", async () => {
    const stale = path.join(dir, "stale.sock");
    const other = path.join(dir, "other.sock");
    const tmp = net.createServer();
    await new Promise<void>((r) => tmp.listen(other, r));
    fs.linkSync(other, stale);
    await new Promise<void>((r) => tmp.close(() => r()));
    const r = await ctl("echo hi", "", false, stale);
    expect(r.code).toBe(2);
    expect(r.err).toContain("connection refused");
  });

  it("exits 2 when the appliance goes away before replying", async () => {
    const p = path.join(dir, "rude.sock");
    const rude = net.createServer((s) => s.on("data", () => s.destroy()));
    await new Promise<void>((r) => rude.listen(p, r));
    const r = await ctl("echo hi", "", false, p);
    await new Promise<void>((r2) => rude.close(() => r2()));
    expect(r.code).toBe(2);
    expect(r.err).toContain("closed the connection");
  });

  it("attaches stdin to `ipvsadm -R` when stdin is not a terminal", async () => {
    const rules = "-A -t 10.0.0.1:80 -s rr\n-a -t 10.0.0.1:80 -r 10.0.1.1:80 -m\n-a -t 10.0.0.1:80 -r 10.0.1.2:80 -m\n";
    expect(await ctl("ipvsadm -R", rules)).toEqual({ code: 0, out: "restored 3 rules\n", err: "" });
    expect(interp.calls[0].ctx.input).toBe(rules);
    await ctl("ipvsadm --restore -n", "x\n");
    expect(interp.calls[1].ctx.input).toBe("x\n");
  });

  it("does not read a terminal stdin for `ipvsadm -R`, nor stdin for other lines", async () => {
    await ctl("ipvsadm -R", "ignored\n", true);
    await ctl("input", "also ignored\n");
    expect(interp.calls.map((c) => c.ctx.input)).toEqual([undefined, undefined]);
  });

  it("refuses attached input over the request limit locally with exit 1", async () => {
    const r = await ctl("ipvsadm -R", "z".repeat(MAX_REQUEST_BYTES + 1));
    expect(r.code).toBe(1);
    expect(r.err.startsWith(`error: request larger than ${MAX_REQUEST_BYTES} bytes`)).toBe(true);
    expect(interp.calls).toEqual([]);
  });

  it("without a line sends each stdin line; exit 0 when all succeed", async () => {
    const r = await ctl(undefined, "echo one\n\n# a comment\nmulti\r\necho two");
    expect(r).toEqual({ code: 0, out: "one\none\ntwo\nthree\ntwo\n", err: "" });
    expect(interp.calls.map((c) => c.line)).toEqual(["echo one", "multi", "echo two"]);
  });

  it("without a line exits 1 if any line failed, and still runs the rest", async () => {
    const r = await ctl(undefined, "echo one\nbad thing\necho three\n");
    expect(r).toEqual({ code: 1, out: "one\nthree\n", err: "error: unknown word 'thing' at 1\n" });
  });

  it("without a line stops at `exit`", async () => {
    const r = await ctl(undefined, "echo one\nexit\necho never\n");
    expect(r.code).toBe(0);
    expect(interp.calls.map((c) => c.line)).toEqual(["echo one"]);
  });

  it("without a line and empty stdin exits 0", async () => {
    expect(await ctl(undefined, "")).toEqual({ code: 0, out: "", err: "" });
  });
});

describe("weir ctl -- LINE", () => {
  // Word by word (`-- ipvsadm -L -n`) or the whole line as one argument
  // (`-- "ipvsadm -L -n"`), as birdc and `vtysh -c` take it.
  async function viaCli(words: string[]): Promise<string> {
    const out = vi.spyOn(process.stdout, "write").mockImplementation(() => true);
    try {
      await buildCli().parseAsync(["node", "weir", "ctl", "--ctl", sockPath, "--", ...words]);
    } finally {
      out.mockRestore();
      process.exitCode = undefined;
    }
    return interp.calls[interp.calls.length - 1].line;
  }

  it("sends the same line either way", async () => {
    expect(await viaCli(["ipvsadm", "-L", "-n"])).toBe("ipvsadm -L -n");
    expect(await viaCli(["ipvsadm -L -n"])).toBe("ipvsadm -L -n");
    expect(await viaCli(["save"])).toBe("save");
  });

  it("keeps quoting: a word-by-word word with blanks is quoted again, a whole line is sent as written", async () => {
    expect(await viaCli(["health", "add", "-t", "198.18.100.1:80", "-r", "198.19.0.11:80", "http", "path", "/a b"]))
      .toBe('health add -t 198.18.100.1:80 -r 198.19.0.11:80 http path "/a b"');
    expect(await viaCli(["health add -t 198.18.100.1:80 -r 198.19.0.11:80 http path '/a b'"]))
      .toBe("health add -t 198.18.100.1:80 -r 198.19.0.11:80 http path '/a b'");
  });

  it("turns words into a line", () => {
    expect(ctlLine([])).toBeUndefined();
    expect(ctlLine(["ipvsadm -A -t 198.18.100.1:80 -s rr"])).toBe("ipvsadm -A -t 198.18.100.1:80 -s rr");
    expect(ctlLine(["ipvsadm", "-A", "-t", "198.18.100.1:80"])).toBe("ipvsadm -A -t 198.18.100.1:80");
    expect(ctlLine(["echo", "it's", "", "#x", 'a"b\\c'])).toBe(`echo "it's" "" "#x" "a\\"b\\\\c"`);
    expect(ctlLine(["exit"])).toBe("exit");
  });
});
