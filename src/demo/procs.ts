// Processes started inside network namespaces (`ip netns exec NS …`, which
// execs the command, so the PID we get is the program's own): readiness on
// stdout, a bounded stderr tail for diagnostics, and a JSON-lines RPC client
// for the agent (src/demo/agent.ts).

import { spawn, type ChildProcess } from "node:child_process";
import { createInterface } from "node:readline";
import { alive, killPids } from "./sys.js";

export interface NsProcess {
  readonly label: string;
  readonly ns: string;
  readonly pid: number;
  readonly child: ChildProcess;
  /** The JSON of the "ready" line, when it carried one. */
  readonly info: Record<string, unknown>;
  /** The last few KiB of stderr. */
  stderr(): string;
  /** Every stdout line after "ready" goes here. */
  onLine(fn: (line: string) => void): void;
  /** Resolves with the exit code (or signal name) once the process has ended. */
  readonly exited: Promise<number | string>;
  /** SIGTERM then SIGKILL; bounded. */
  stop(graceMs?: number): Promise<void>;
}

export interface SpawnOptions {
  label: string;
  /** How long to wait for the "ready" line. */
  readyTimeoutMs?: number;
  /** false: resolve as soon as the process exists (every stdout line goes to onLine). */
  waitReady?: boolean;
  env?: NodeJS.ProcessEnv;
  /** Called with the PID as soon as it exists (before readiness), to track it. */
  track?: (pid: number) => void;
}

const STDERR_KEEP = 8192;

/**
 * Starts argv in namespace ns (null: here) and waits for a stdout line starting with
 * "ready" (optionally followed by JSON). Rejects with the stderr tail when the
 * process exits first or the timeout passes (the process is then killed).
 */
export function spawnReady(ns: string | null, argv: string[], opts: SpawnOptions): Promise<NsProcess> {
  const full = ns ? ["ip", "netns", "exec", ns, ...argv] : argv;
  // A process group of its own: a Ctrl-C at the terminal reaches the demo, which then stops these in order.
  const child = spawn(full[0], full.slice(1), { stdio: ["pipe", "pipe", "pipe"], env: opts.env ?? process.env, detached: true });
  let err = "";
  child.stderr!.setEncoding("utf8");
  child.stderr!.on("data", (d: string) => { err = (err + d).slice(-STDERR_KEEP); });
  child.stdin!.on("error", () => { /* the process went away */ });
  const exited = new Promise<number | string>((resolve) => {
    child.once("exit", (code, sig) => resolve(code ?? sig ?? "unknown"));
    child.once("error", (e) => { err += `\n${e.message}`; resolve("spawn-error"); });
  });
  if (child.pid !== undefined) opts.track?.(child.pid);
  const lines = createInterface({ input: child.stdout! });
  let listener: ((line: string) => void) | null = null;
  const backlog: string[] = [];
  return new Promise<NsProcess>((resolve, reject) => {
    let ready = false;
    const timer = setTimeout(() => fail(`no "ready" within ${opts.readyTimeoutMs ?? 15000} ms`), opts.readyTimeoutMs ?? 15000);
    const makeProc = (info: Record<string, unknown>): NsProcess => ({
      label: opts.label, ns: ns ?? "", pid: child.pid!, child, info, exited,
      stderr: () => err,
      onLine(fn) {
        listener = fn;
        for (const l of backlog.splice(0)) fn(l);
      },
      async stop(graceMs = 2000) {
        if (!alive(child.pid!)) return;
        child.kill("SIGTERM");
        const t = setTimeout(() => { if (alive(child.pid!)) child.kill("SIGKILL"); }, graceMs);
        await exited;
        clearTimeout(t);
      },
    });
    if (opts.waitReady === false) {
      ready = true;
      clearTimeout(timer);
      if (child.pid === undefined) {
        void exited.then(() => reject(new Error(`${opts.label} (${full.join(" ")}): could not start: ${err.trim()}`)));
        return;
      }
      resolve(makeProc({}));
    }
    function fail(why: string): void {
      if (ready) return;
      ready = true;
      clearTimeout(timer);
      if (child.pid !== undefined) killPids([child.pid], 500);
      reject(new Error(`${opts.label} (${full.join(" ")}): ${why}${err ? `\n${err.trim()}` : ""}`));
    }
    void exited.then((code) => fail(`exited (${code}) before it was ready`));
    lines.on("line", (line) => {
      if (!ready) {
        if (!line.startsWith("ready")) return;
        ready = true;
        clearTimeout(timer);
        let info: Record<string, unknown> = {};
        const rest = line.slice(5).trim();
        if (rest.startsWith("{")) {
          try { info = JSON.parse(rest); } catch { /* plain ready */ }
        }
        resolve(makeProc(info));
        return;
      }
      if (listener) listener(line);
      else if (backlog.length < 1000) backlog.push(line);
    });
  });
}

/** A JSON-lines RPC client over an agent's stdin/stdout. */
export class AgentClient {
  private nextId = 1;
  private pending = new Map<number, { resolve: (v: any) => void; reject: (e: Error) => void; timer: NodeJS.Timeout }>();

  constructor(readonly proc: NsProcess) {
    proc.onLine((line) => {
      let msg: { id?: number; ok?: boolean; result?: unknown; error?: string };
      try { msg = JSON.parse(line); } catch { return; }
      const p = msg.id !== undefined ? this.pending.get(msg.id) : undefined;
      if (!p) return;
      this.pending.delete(msg.id!);
      clearTimeout(p.timer);
      if (msg.ok) p.resolve(msg.result);
      else p.reject(new Error(`${proc.label}: ${msg.error}`));
    });
    void proc.exited.then((code) => {
      for (const [, p] of this.pending) {
        clearTimeout(p.timer);
        p.reject(new Error(`${proc.label} exited (${code})${proc.stderr() ? `: ${proc.stderr().trim()}` : ""}`));
      }
      this.pending.clear();
    });
  }

  /** Calls op with args; rejects after timeoutMs (default: args.totalTimeoutMs or args.timeoutMs + 5 s, or 30 s). */
  call<T = any>(op: string, args: Record<string, unknown> = {}, timeoutMs?: number): Promise<T> {
    const id = this.nextId++;
    const bound = typeof args.totalTimeoutMs === "number" ? args.totalTimeoutMs : typeof args.timeoutMs === "number" ? args.timeoutMs : 25000;
    const limit = timeoutMs ?? bound + 5000;
    return new Promise<T>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(id);
        reject(new Error(`${this.proc.label}: ${op} took longer than ${limit} ms`));
      }, limit);
      this.pending.set(id, { resolve, reject, timer });
      this.proc.child.stdin!.write(`${JSON.stringify({ id, op, args })}\n`);
    });
  }

  async close(): Promise<void> {
    this.proc.child.stdin!.end();
    await this.proc.stop();
  }
}
