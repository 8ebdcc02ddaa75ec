import { describe, it, expect, beforeAll, afterAll } from "vitest";
import { mkdtempSync, writeFileSync, readFileSync, rmSync, chmodSync, existsSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { checkScript } from "../../src/health/script.js";
import { handleCounts, settledHandles } from "./helpers.js";

let dir: string;
function script(name: string, body: string): string {
  const p = join(dir, name);
  writeFileSync(p, `#!/bin/sh\n${body}\n`);
  chmodSync(p, 0o755);
  return p;
}

/** True while the process exists and is not a zombie. */
function alive(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    return stat.slice(stat.lastIndexOf(")") + 2)[0] !== "Z";
  } catch { return false; }
}

async function gone(pid: number, timeoutMs = 2000): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (alive(pid)) {
    if (Date.now() > deadline) return false;
    await new Promise((r) => setTimeout(r, 10));
  }
  return true;
}

describe("script check", () => {
  let baseline: Record<string, number>;
  beforeAll(() => { baseline = handleCounts(); dir = mkdtempSync(join(tmpdir(), "weir-health-")); });
  afterAll(() => { rmSync(dir, { recursive: true, force: true }); });

  it("exit 0 is up, anything else down (with the last stderr line)", async () => {
    expect(await checkScript({ command: script("up.sh", "exit 0"), args: [], timeoutMs: 2000 })).toEqual({ ok: true });
    expect(await checkScript({ command: script("down.sh", "exit 1"), args: [], timeoutMs: 2000 })).toEqual({ ok: false, error: "exit status 1" });
    expect(await checkScript({ command: script("say.sh", "echo first >&2; echo 'backend unhappy' >&2; exit 2"), args: [], timeoutMs: 2000 }))
      .toEqual({ ok: false, error: "exit status 2: backend unhappy" });
  });

  it("passes its arguments, without a shell", async () => {
    const p = script("args.sh", `[ "$1" = "a b" ] && [ "$2" = '$HOME' ]`);
    expect(await checkScript({ command: p, args: ["a b", "$HOME"], timeoutMs: 2000 })).toEqual({ ok: true });
    expect(await checkScript({ command: p, args: ["a", "b"], timeoutMs: 2000 })).toEqual({ ok: false, error: "exit status 1" });
  });

  it("fails when the command cannot start", async () => {
    const r = await checkScript({ command: join(dir, "missing"), args: [], timeoutMs: 2000 });
    expect(r.ok).toBe(false);
    expect(r.error).toMatch(/ENOENT/);
  });

  it("kills the command and what it started at the timeout", async () => {
    const pids = join(dir, "pids");
    const p = script("hang.sh", `sleep 30 & echo $$ $! > "${pids}"; wait`);
    const t0 = Date.now();
    const r = await checkScript({ command: p, args: [], timeoutMs: 300 });
    expect(r).toEqual({ ok: false, error: "timeout after 300 ms" });
    expect(Date.now() - t0).toBeLessThan(2000);
    expect(existsSync(pids)).toBe(true);
    const [shell, sleeper] = readFileSync(pids, "utf8").trim().split(" ").map(Number);
    expect(alive(shell)).toBe(false); // the run ends only after the command exited
    expect(await gone(sleeper)).toBe(true);
  });

  it("kills the command when aborted", async () => {
    const ac = new AbortController();
    const run = checkScript({ command: script("long.sh", "exec sleep 30"), args: [], timeoutMs: 10000, signal: ac.signal });
    setTimeout(() => ac.abort(), 100);
    expect(await run).toEqual({ ok: false, error: "aborted" });
  });

  it("leaves no process or pipe open", async () => {
    expect(await settledHandles(baseline)).toEqual(baseline);
  });
});
