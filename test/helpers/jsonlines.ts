// A helper script (node) in a test's namespace that speaks JSON lines: a
// command goes in as one line with an id, its answer comes back with the
// same id; a line with `ready` says it has started; every other line is kept
// in `lines`. Used by the namespace tests of VRRP's and connection sync's
// packet I/O (test/vrrp/*.mjs, test/sync/syncnode.mjs).

import { spawn, type ChildProcess } from "node:child_process";
import { createInterface } from "node:readline";
import { until } from "../e2e/lib/index.js";
import { endHelper } from "../vrrp/helper.js";

// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type Line = Record<string, any>;

export class JsonLinesProc {
  readonly lines: Line[] = [];
  ready!: Line;
  /** What the script wrote on stderr. */
  err = "";
  private next = 1;
  private readonly waiting = new Map<number, (o: Line) => void>();

  constructor(readonly proc: ChildProcess) {}

  /** Runs `node script args…` in namespace ns; resolves once it said ready (a subclass's launch gives its own instances). */
  static async launch<P extends JsonLinesProc>(this: new (proc: ChildProcess) => P, ns: string, script: string, args: string[]): Promise<P> {
    const proc = spawn("ip", ["netns", "exec", ns, process.execPath, script, ...args], { stdio: ["pipe", "pipe", "pipe"] });
    const h = new this(proc);
    proc.stderr!.on("data", (d) => (h.err += d));
    createInterface({ input: proc.stdout! }).on("line", (line) => h.take(JSON.parse(line) as Line));
    await until(`${script} ready`, () => {
      if (proc.exitCode !== null) throw new Error(`${script} exited ${proc.exitCode}: ${h.err}`);
      return h.ready;
    }, 10000, 20);
    return h;
  }

  /** Sends command c; its answer, or an error (the script's, or none within timeoutMs). */
  cmd(c: object, timeoutMs = 5000): Promise<Line> {
    const id = this.next++;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no answer to ${JSON.stringify(c)} (${this.err})`)), timeoutMs);
      this.waiting.set(id, (o) => {
        clearTimeout(timer);
        if (o.error) reject(new Error(String(o.error)));
        else resolve(o);
      });
      this.proc.stdin!.write(JSON.stringify({ id, ...c }) + "\n");
    });
  }

  close(): void { endHelper(this.proc); }

  private take(o: Line): void {
    if (typeof o.id === "number") {
      this.waiting.get(o.id)?.(o);
      this.waiting.delete(o.id);
    } else if (o.ready) this.ready = o;
    else this.lines.push(o);
  }
}
