import { describe, it, expect, afterEach, vi } from "vitest";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { HealthMonitor } from "../../src/health/monitor.js";
import { runCheck } from "../../src/health/run.js";
import { CHECK_DEFAULTS, type CheckResult, type CheckSpec } from "../../src/health/types.js";
import { ScriptPolicy } from "../../src/health/policy.js";
import { TcpServer, Transitions, handleCounts, settledHandles, logLines, scriptDir } from "./helpers.js";

const SVC = "tcp:198.18.100.1:80";

function spec(dest: string, more: Partial<CheckSpec> = {}): CheckSpec {
  return {
    service: SVC, dest, check: { type: "tcp" },
    intervalMs: 100, timeoutMs: 100, rise: 2, fall: 3, alpha: false, mode: "inhibit", ...more,
  };
}

describe("monitor state machine (scripted results, fake timers)", () => {
  afterEach(() => { vi.useRealTimers(); });

  /** A monitor whose runs return the next scripted result per dest. */
  function scripted(results: Record<string, boolean[]>, random = () => 0) {
    const runs: Array<{ dest: string; at: number }> = [];
    const run = async (s: CheckSpec): Promise<CheckResult> => {
      runs.push({ dest: s.dest, at: Date.now() });
      const r = results[s.dest].shift() ?? true;
      return r ? { ok: true } : { ok: false, error: "scripted failure" };
    };
    const m = new HealthMonitor({ run, random });
    return { m, runs, seen: new Transitions(m) };
  }

  it("starts up, goes down after `fall` consecutive failures, back up after `rise` successes", async () => {
    vi.useFakeTimers();
    //            fail, ok resets, 3 fails → down, fail, ok, fail resets, ok ok → up
    const { m, seen } = scripted({ "127.0.0.1:1": [false, true, false, false, false, false, true, false, true, true, true] });
    m.add(spec("127.0.0.1:1"));
    m.start();
    expect(m.status()[0].up).toBe(true);
    await vi.advanceTimersByTimeAsync(450); // runs at 0..400: 5 runs
    expect(seen.all).toEqual([{ service: SVC, dest: "127.0.0.1:1", up: false, reason: "3 consecutive failures: scripted failure" }]);
    await vi.advanceTimersByTimeAsync(500); // runs 6..10
    expect(seen.all.slice(1)).toEqual([{ service: SVC, dest: "127.0.0.1:1", up: true, reason: "2 consecutive successes" }]);
    const st = m.status()[0];
    expect(st).toMatchObject({ up: true, checks: 10, failures: 6, transitions: 2, lastOk: true, lastError: "scripted failure" });
    await m.stop();
  });

  it("alpha: starts down (reported as a transition) and comes up after `rise` successes", async () => {
    vi.useFakeTimers();
    const { m, seen } = scripted({ "127.0.0.1:2": [true, true] });
    m.add(spec("127.0.0.1:2", { alpha: true, rise: 2 }));
    expect(seen.all).toEqual([{ service: SVC, dest: "127.0.0.1:2", up: false, reason: "alpha: starts down until it passes its checks" }]);
    m.start();
    await vi.advanceTimersByTimeAsync(50);
    expect(m.status()[0]).toMatchObject({ up: false, checks: 1 });
    await vi.advanceTimersByTimeAsync(100);
    expect(seen.all[1]).toEqual({ service: SVC, dest: "127.0.0.1:2", up: true, reason: "2 consecutive successes" });
    await m.stop();
  });

  it("jitters each check's first run within one interval, then runs every interval", async () => {
    vi.useFakeTimers({ now: 0 });
    const { m, runs } = scripted({ a: [], b: [] }, (() => { const r = [0.25, 0.75]; return () => r.shift()!; })());
    m.add(spec("a", { intervalMs: 1000 }));
    m.add(spec("b", { intervalMs: 1000 }));
    m.start();
    await vi.advanceTimersByTimeAsync(2800);
    expect(runs).toEqual([
      { dest: "a", at: 250 }, { dest: "b", at: 750 }, { dest: "a", at: 1250 }, { dest: "b", at: 1750 },
      { dest: "a", at: 2250 }, { dest: "b", at: 2750 },
    ]);
    await m.stop();
  });

  it("never overlaps runs of one check, even when a run outlasts the interval", async () => {
    vi.useFakeTimers({ now: 0 });
    let active = 0, maxActive = 0;
    const starts: number[] = [];
    const run = (_s: CheckSpec, signal: AbortSignal): Promise<CheckResult> => {
      active++; maxActive = Math.max(maxActive, active); starts.push(Date.now());
      return new Promise((res) => {
        const t = setTimeout(() => { active--; res({ ok: true }); }, 250);
        signal.addEventListener("abort", () => { clearTimeout(t); active--; res({ ok: false, error: "aborted" }); });
      });
    };
    const m = new HealthMonitor({ run, random: () => 0 });
    m.add(spec("slow", { intervalMs: 100 }));
    m.start();
    await vi.advanceTimersByTimeAsync(1000);
    expect(maxActive).toBe(1);
    // the next run starts right after the previous one ends (setTimeout's 1 ms floor aside)
    expect(starts.length).toBe(4);
    for (let i = 1; i < starts.length; i++) expect(starts[i] - starts[i - 1]).toBeOneOf([250, 251]);
    await m.stop();
  });

  it("stop() cancels timers and in-flight runs; results after stop are ignored", async () => {
    let aborted = 0;
    const run = (_s: CheckSpec, signal: AbortSignal): Promise<CheckResult> =>
      new Promise((res) => signal.addEventListener("abort", () => { aborted++; res({ ok: false, error: "aborted" }); }));
    const m = new HealthMonitor({ run, random: () => 0 });
    m.add(spec("hang"));
    m.start();
    await new Promise((r) => setTimeout(r, 20));
    await m.stop();
    expect(aborted).toBe(1);
    expect(m.status()[0]).toMatchObject({ checks: 0, failures: 0, up: true });
  });

  it("remove() forgets a check and reports nothing; add() refuses a duplicate", async () => {
    const { m, seen } = scripted({ x: [false, false, false] });
    m.add(spec("x", { fall: 1 }));
    expect(() => m.add(spec("x"))).toThrow(/already exists/);
    expect(m.remove(SVC, "x")).toMatchObject({ up: true });
    expect(m.remove(SVC, "x")).toBeUndefined();
    m.start();
    await new Promise((r) => setTimeout(r, 50));
    expect(seen.all).toEqual([]);
    await m.stop();
  });
});

describe("monitor with a real TCP server", () => {
  it("goes down after `fall` failures when the server stops, up after `rise` when it restarts", async () => {
    const baseline = handleCounts();
    const server = await new TcpServer().start(0);
    const results: boolean[] = [];
    const m = new HealthMonitor({
      run: (s, signal) => runCheck(s, signal).then((r) => { results.push(r.ok); return r; }),
    });
    const seen = new Transitions(m);
    const dest = `127.0.0.1:${server.port}`;
    m.add(spec(dest, { intervalMs: 50, timeoutMs: 1000, rise: 2, fall: 3 }));
    m.start();
    try {
      await vi.waitFor(() => expect(results.length).toBeGreaterThanOrEqual(2), { timeout: 2000 });
      expect(seen.all).toEqual([]);

      await server.stop();
      const down = await seen.next((t) => !t.up);
      expect(down.reason).toMatch(/^3 consecutive failures: connect ECONNREFUSED 127\.0\.0\.1:\d+$/);
      expect(results.slice(-4)).toEqual([true, false, false, false]);
      expect(results.filter((r) => !r).length).toBe(3);

      await server.start(server.port);
      const up = await seen.next((t) => t.up);
      expect(up).toEqual({ service: SVC, dest, up: true, reason: "2 consecutive successes" });
      expect(results.slice(-3)).toEqual([false, true, true]);

      const st = m.status()[0];
      expect(st).toMatchObject({ service: SVC, dest, type: "tcp", up: true, transitions: 2, lastOk: true });
      expect(st.checks).toBe(results.length);
      expect(st.failures).toBe(results.filter((r) => !r).length);
      expect(st.lastError).toMatch(/ECONNREFUSED/);

      // every transition is logged by the "health" child logger
      const logged = logLines.filter((l) => l.module === "health" && l.dest === dest);
      expect(logged.map((l) => [l.msg, l.up])).toEqual([["real server down", false], ["real server up", true]]);
      expect(logged[0].level).toBe(40);
    } finally {
      await m.stop();
      await server.stop();
    }
    expect(await settledHandles(baseline)).toEqual(baseline);
  });

  it("stop() kills an in-flight script check and leaves no process behind", async () => {
    const baseline = handleCounts();
    const sd = scriptDir();
    try {
      const pidFile = join(sd.out, "pid");
      const sleeper = sd.script("sleep.sh", `echo $$ > "$1"; exec sleep 30`);
      const m = new HealthMonitor({ random: () => 0, scripts: new ScriptPolicy({ settings: { dir: sd.dir } }) });
      m.add(spec("127.0.0.1:0", { check: { type: "script", command: sleeper, args: [pidFile] }, intervalMs: 50, timeoutMs: 30000 }));
      m.start();
      for (const until = Date.now() + 10000; !existsSync(pidFile) || !readFileSync(pidFile, "utf8").endsWith("\n");) {
        if (Date.now() > until) throw new Error(`the script did not start: ${JSON.stringify(m.status())}`);
        await new Promise((r) => setTimeout(r, 10));
      }
      const pid = Number(readFileSync(pidFile, "utf8"));
      const t0 = Date.now();
      await m.stop();
      expect(Date.now() - t0).toBeLessThan(2000);
      expect(m.status()[0]).toMatchObject({ checks: 0, up: true });
      expect(() => process.kill(pid, 0)).toThrow(); // the script (now sleep) is gone
      expect(await settledHandles(baseline)).toEqual(baseline);
    } finally {
      sd.cleanup();
    }
  });

  it("defaults match keepalived/haproxy habits", () => {
    expect(CHECK_DEFAULTS).toMatchObject({ intervalMs: 5000, timeoutMs: 3000, rise: 2, fall: 3, alpha: false, mode: "inhibit" });
  });
});
