// Small synchronous helpers for the demo and the namespace tests: running
// commands with bounded time, sleeping without the event loop, and looking at
// processes by PID through /proc.

import { execFileSync } from "node:child_process";
import { existsSync, readFileSync, readdirSync } from "node:fs";

const sleepCell = new Int32Array(new SharedArrayBuffer(4));

/** Blocks the thread for ms milliseconds (for exit handlers and setup loops). */
export function sleepSync(ms: number): void {
  Atomics.wait(sleepCell, 0, 0, Math.max(0, ms));
}

export class CommandError extends Error {
  constructor(readonly argv: string[], readonly status: number | null, readonly stderr: string) {
    super(`${argv.join(" ")}: ${stderr.trim() || `exit ${status}`}`);
  }
}

/** Runs argv[0] with the rest as arguments; returns stdout; throws CommandError with its stderr. */
export function run(argv: string[], opts: { input?: string; timeoutMs?: number } = {}): string {
  try {
    return execFileSync(argv[0], argv.slice(1), {
      input: opts.input,
      timeout: opts.timeoutMs ?? 15000,
      stdio: ["pipe", "pipe", "pipe"],
      encoding: "utf8",
      maxBuffer: 16 << 20,
    });
  } catch (e) {
    const err = e as { status?: number | null; stderr?: string | Buffer; message: string; code?: string };
    const stderr = err.stderr ? String(err.stderr) : err.code ?? err.message;
    throw new CommandError(argv, err.status ?? null, stderr);
  }
}

/** Like run, but returns null instead of throwing. */
export function tryRun(argv: string[], opts: { input?: string; timeoutMs?: number } = {}): string | null {
  try {
    return run(argv, opts);
  } catch {
    return null;
  }
}

/** True while the process exists and is not a zombie. */
export function alive(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    const state = stat.slice(stat.lastIndexOf(")") + 2, stat.lastIndexOf(")") + 3);
    return state !== "Z" && state !== "X";
  } catch {
    return false;
  }
}

/** PIDs (other than ours) whose command line contains `needle`. */
export function pidsWithArg(needle: string): number[] {
  const out: number[] = [];
  for (const d of readdirSync("/proc")) {
    if (!/^\d+$/.test(d) || Number(d) === process.pid) continue;
    try {
      const cmd = readFileSync(`/proc/${d}/cmdline`, "utf8");
      if (cmd.includes(needle) && alive(Number(d))) out.push(Number(d));
    } catch {
      // gone meanwhile
    }
  }
  return out;
}

/** SIGTERM, then SIGKILL after graceMs; waits (bounded) until each is gone. */
export function killPids(pids: number[], graceMs = 2000): void {
  const live = pids.filter(alive);
  for (const p of live) {
    try { process.kill(p, "SIGTERM"); } catch { /* gone */ }
  }
  const deadline = Date.now() + graceMs;
  while (live.some(alive) && Date.now() < deadline) sleepSync(20);
  for (const p of live.filter(alive)) {
    try { process.kill(p, "SIGKILL"); } catch { /* gone */ }
  }
  const hard = Date.now() + 2000;
  while (live.some(alive) && Date.now() < hard) sleepSync(20);
}

export function isRoot(): boolean {
  return typeof process.getuid === "function" && process.getuid() === 0;
}

export function haveCommand(name: string): boolean {
  return ["/usr/sbin", "/usr/bin", "/sbin", "/bin", "/usr/local/sbin", "/usr/local/bin"].some((d) => existsSync(`${d}/${name}`));
}
