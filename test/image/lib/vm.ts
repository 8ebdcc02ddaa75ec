// A Weir image booted in QEMU (through `weir image boot`, the command users
// run), driven over its serial console on stdio: wait for text, send a
// console line, read its reply.

import { spawn, type ChildProcess } from "node:child_process";
import path from "node:path";

const root = process.env.WEIR_ROOT ?? path.resolve(import.meta.dirname, "..", "..", "..");
const PROMPT = "weir> ";

/** Terminal escape sequences and carriage returns out, so replies compare as plain text. */
export function plain(s: string): string {
  // eslint-disable-next-line no-control-regex
  return s.replace(/\x1b\[[0-9;?=]*[A-Za-z]/g, "").replace(/\x1b[()][A-Z0-9]/g, "").replace(/\r/g, "");
}

export class SerialVm {
  private buf = "";
  /** Everything the serial port printed, for failure messages. */
  log = "";
  readonly child: ChildProcess;
  readonly exited: Promise<number>;

  constructor(disk: string, nics: string[] = [], extra: string[] = []) {
    const args = [path.join(root, "bin", "weir.js"), "image", "boot", disk, "--serial", "stdio", ...nics.flatMap((n) => ["--nic", n]), ...extra];
    this.child = spawn(process.execPath, args, { stdio: ["pipe", "pipe", "pipe"] });
    // An escape sequence may be split between reads: hold back an unfinished one.
    let partial = "";
    const take = (d: Buffer) => {
      let raw = partial + d.toString("latin1");
      const cut = raw.search(/\x1b[[()]?[0-9;?=]*$/);
      partial = cut >= 0 ? raw.slice(cut) : "";
      if (cut >= 0) raw = raw.slice(0, cut);
      const t = plain(raw);
      this.buf += t;
      this.log += t;
    };
    this.child.stdout!.on("data", take);
    this.child.stderr!.on("data", take);
    this.exited = new Promise((resolve) => this.child.on("exit", (c, s) => resolve(c ?? (s ? 128 : 1))));
  }

  /** Waits until the output (since the last match) matches re; returns the match and drops what came before it. */
  async waitFor(re: RegExp, ms: number): Promise<RegExpExecArray> {
    const end = Date.now() + ms;
    for (;;) {
      const m = re.exec(this.buf);
      if (m) {
        this.buf = this.buf.slice(m.index + m[0].length);
        return m;
      }
      if (Date.now() > end) throw new Error(`timed out after ${ms} ms waiting for ${re}; serial output ends with:\n${this.log.slice(-3000)}`);
      if (this.child.exitCode !== null) throw new Error(`QEMU exited (${this.child.exitCode}) waiting for ${re}; serial output:\n${this.log.slice(-3000)}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  /** Types a line at the console and returns its reply (the text before the next prompt). */
  async command(line: string, ms = 60_000): Promise<string> {
    this.buf = "";
    this.child.stdin!.write(`${line}\r`);
    await this.waitFor(new RegExp(`${escape(line)}\\n`), ms);
    const m = await this.waitFor(new RegExp(`([\\s\\S]*?)${escape(PROMPT)}`), ms);
    return m[1].replace(/\n$/, "");
  }

  /** Waits for the console's prompt after a boot (the banner comes first). */
  async ready(ms = 180_000): Promise<string> {
    const m = await this.waitFor(/(Weir load balancer[\s\S]*?)weir> /, ms);
    return m[1];
  }

  async stop(): Promise<void> {
    if (this.child.exitCode === null && this.child.signalCode === null) this.child.kill("SIGTERM");
    await this.exited;
  }
}

function escape(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}
