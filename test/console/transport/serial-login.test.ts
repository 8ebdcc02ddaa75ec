// The console password on the serial console: a login before each session
// (no echo, three tries, then the session starts over), set and cleared with
// `console-password` asking on the terminal, and the recovery shell's check.

import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { PassThrough } from "node:stream";
import { afterAll, afterEach, describe, expect, it } from "vitest";
import { startSerialConsole, PROMPT, type SerialConsole } from "../../../src/console/transport/serial.js";
import { consolePassword } from "../../../src/console/consolepassword.js";
import { hashPassword, readPasswordHash, verifyPassword, writePasswordHash } from "../../../src/console/password.js";
import { checkPasswordOnTerminal } from "../../../src/console/transport/password-prompt.js";
import type { Interpreter } from "../../../src/console/types.js";
import { fakeInterpreter, quietLog, sink } from "./fake.js";

const dir = fs.mkdtempSync(path.join(os.tmpdir(), "weir-pw-"));
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));
let con: SerialConsole | undefined;
afterEach(async () => {
  await con?.close();
  con = undefined;
});

async function until(cond: () => boolean, ms = 10000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error("timed out");
    await new Promise((r) => setTimeout(r, 10));
  }
}

describe("console password", () => {
  it("hashes with a salt and verifies; a malformed or hostile hash matches nothing", async () => {
    const h = await hashPassword("s3cret pass");
    expect(h).toMatch(/^scrypt\$32768\$8\$1\$/);
    expect(h).not.toContain("s3cret");
    expect(await hashPassword("s3cret pass")).not.toBe(h);
    expect(await verifyPassword("s3cret pass", h)).toBe(true);
    expect(await verifyPassword("s3cret pas", h)).toBe(false);
    expect(await verifyPassword("x", "plain")).toBe(false);
    expect(await verifyPassword("x", "scrypt$1073741824$8$1$AAAA$AAAA")).toBe(false);
  });

  it("asks for the password before each session, without echo, and starts over after three wrong ones", async () => {
    const hash = await hashPassword("letmein");
    const interp = fakeInterpreter();
    const input = new PassThrough();
    const output = sink();
    con = startSerialConsole({ interpreter: interp, input, output, terminal: true, banner: "BANNER", log: quietLog, passwordHash: () => hash, loginDelayMs: 1 });
    await until(() => output.text().includes("Password: "));
    input.write("echo no\r");
    await until(() => output.text().includes("Login incorrect"));
    input.write("letmein\r");
    await until(() => output.text().includes(PROMPT));
    input.write("echo yes\r");
    await until(() => interp.calls.length === 1);
    expect(interp.calls.map((c) => c.line)).toEqual(["echo yes"]); // the wrong password never ran as a line
    input.write("exit\r");
    await until(() => output.text().split("BANNER").length === 3);
    for (let i = 0; i < 3; i++) {
      const n = output.text().split("Login incorrect").length;
      input.write(`bad${i}\r`);
      await until(() => output.text().split("Login incorrect").length === n + 1);
    }
    await until(() => output.text().split("BANNER").length === 4); // over again, still locked
    const text = output.text();
    expect(text).not.toMatch(/letmein|bad0|bad1|echo no/);
    input.end();
  });

  it("console-password set asks twice on the serial console, and only there", async () => {
    const file = path.join(dir, "pw1");
    const word = consolePassword(file);
    const interp: Interpreter = {
      execute: (line, ctx) => word.execute(line.split(" ").slice(1), ctx),
      commands: () => ["console-password"],
    };
    const input = new PassThrough();
    const output = sink();
    con = startSerialConsole({ interpreter: interp, input, output, terminal: true, banner: "B", log: quietLog, passwordHash: () => readPasswordHash(file) });
    await until(() => output.text().includes(PROMPT));
    input.write("console-password set\r");
    await until(() => output.text().includes("New password: "));
    input.write("one\r");
    await until(() => output.text().includes("Again: "));
    input.write("two\r");
    await until(() => output.text().includes("differ"));
    expect(readPasswordHash(file)).toBeUndefined();
    input.write("console-password set\r");
    await until(() => output.text().split("New password: ").length === 3);
    input.write("hunter22\r");
    await until(() => output.text().split("Again: ").length === 3);
    input.write("hunter22\r");
    await until(() => output.text().includes("console password set"));
    expect(await verifyPassword("hunter22", readPasswordHash(file)!)).toBe(true);
    expect(fs.statSync(file).mode & 0o777).toBe(0o600);
    expect(output.text()).not.toContain("hunter22");
    // The next session asks for it.
    input.write("exit\r");
    await until(() => output.text().includes("Password: "));
    input.end();
    expect((await word.execute(["set"], { source: "ws" })).text).toBe("error: console-password set works on the serial console only");
    expect((await word.execute(["clear"], { source: "socket" })).ok).toBe(false);
    expect((await word.execute([], { source: "ws" })).text).toBe("console password: set");
  });

  it("the recovery shell's check: 0 for the right password or none set, 1 otherwise", async () => {
    const file = path.join(dir, "pw2");
    const run = async (lines: string) => {
      const input = new PassThrough();
      const p = checkPasswordOnTerminal(file, input as unknown as typeof process.stdin, sink() as unknown as typeof process.stdout);
      input.end(lines);
      return p;
    };
    expect(await run("")).toBe(0);
    writePasswordHash(file, await hashPassword("pw"));
    expect(await run("pw\n")).toBe(0);
    expect(await run("no\n")).toBe(1);
  }, 20000);
});
