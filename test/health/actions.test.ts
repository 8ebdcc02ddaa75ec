import { describe, it, expect, afterEach } from "vitest";
import { HealthMonitor } from "../../src/health/monitor.js";
import { healthCommand } from "../../src/health/command.js";
import type { CheckResult, CheckSpec } from "../../src/health/types.js";
import { FakeTarget, TcpServer, Transitions, handleCounts, settledHandles, words } from "./helpers.js";

const SVC = "tcp:198.18.100.1:80";
const ctx = { source: "config" as const };
const cleanups: Array<() => Promise<void>> = [];
afterEach(async () => { for (const c of cleanups.splice(0)) await c(); });

describe("actions with real TCP servers", () => {
  it("inhibits failed real servers and engages/disengages the sorry server", async () => {
    const baseline = handleCounts();
    const a = await new TcpServer().start(0);
    const b = await new TcpServer().start(0);
    const A = `127.0.0.1:${a.port}`, B = `127.0.0.1:${b.port}`;
    const target = new FakeTarget({ [SVC]: [A, B] });
    const monitor = new HealthMonitor();
    const seen = new Transitions(monitor);
    const cmd = healthCommand(monitor, target);
    const run = async (line: string) => {
      const r = await cmd.execute(words(line), ctx);
      expect(r, line).toEqual({ ok: true, text: "" });
    };
    await run(`health add -t 198.18.100.1:80 -r ${A} tcp interval 50ms timeout 1 rise 2 fall 2`);
    await run(`health add -t 198.18.100.1:80 -r ${B} tcp interval 50ms timeout 1 rise 2 fall 2 remove`);
    await run(`health sorry -t 198.18.100.1:80 127.0.0.1:9 -m`);
    monitor.start();
    try {
      await a.stop();
      await seen.next((t) => t.dest === A && !t.up);
      await cmd.actions.idle();
      expect(target.calls).toEqual([{ call: "setDestHealth", service: SVC, dest: A, up: false, mode: "inhibit" }]);

      await b.stop();
      await seen.next((t) => t.dest === B && !t.up);
      await cmd.actions.idle();
      expect(target.calls.slice(1)).toEqual([
        { call: "setDestHealth", service: SVC, dest: B, up: false, mode: "remove" },
        { call: "setSorryServer", service: SVC, sorry: { dest: "127.0.0.1:9", fwd: "nat" } },
      ]);
      expect((await cmd.execute(["show"], ctx)).text.split("\n").pop()).toBe("-t 198.18.100.1:80 sorry 127.0.0.1:9 -m engaged");

      await a.start(a.port);
      await seen.next((t) => t.dest === A && t.up);
      await cmd.actions.idle();
      expect(target.calls.slice(3)).toEqual([
        { call: "setDestHealth", service: SVC, dest: A, up: true, mode: "inhibit" },
        { call: "setSorryServer", service: SVC, sorry: null },
      ]);
    } finally {
      await monitor.stop();
      await a.stop();
    }
    expect(await settledHandles(baseline)).toEqual(baseline);
  });
});

describe("actions (scripted results)", () => {
  /** A started monitor whose checks report `state[dest]`, with a command over a fake target. */
  function rig(services?: Record<string, string[]>) {
    const state: Record<string, boolean> = {};
    const run = async (s: CheckSpec): Promise<CheckResult> => (state[s.dest] ?? true) ? { ok: true } : { ok: false, error: "down" };
    const monitor = new HealthMonitor({ run, random: () => 0 });
    const target = new FakeTarget(services);
    const cmd = healthCommand(monitor, target);
    const seen = new Transitions(monitor);
    const exec = (line: string) => cmd.execute(words(line), ctx);
    cleanups.push(() => monitor.stop());
    monitor.start();
    return { state, monitor, target, cmd, seen, exec };
  }
  const add = (dest: string, more = "") => `health add -t 198.18.100.1:80 -r ${dest} tcp interval 20ms timeout 20ms rise 1 fall 1${more}`;

  it("alpha: the real server is held down from the start, and the sorry server serves until one passes", async () => {
    const { state, target, cmd, seen, exec } = rig();
    state["127.0.0.1:1"] = false;
    expect(await exec(add("127.0.0.1:1", " alpha"))).toEqual({ ok: true, text: "" });
    expect(target.calls).toEqual([{ call: "setDestHealth", service: SVC, dest: "127.0.0.1:1", up: false, mode: "inhibit" }]);
    await exec("health sorry -t 198.18.100.1:80 127.0.0.1:99");
    expect(target.calls[1]).toEqual({ call: "setSorryServer", service: SVC, sorry: { dest: "127.0.0.1:99", fwd: "dr" } });
    state["127.0.0.1:1"] = true;
    await seen.next((t) => t.up);
    await cmd.actions.idle();
    expect(target.calls.slice(2)).toEqual([
      { call: "setDestHealth", service: SVC, dest: "127.0.0.1:1", up: true, mode: "inhibit" },
      { call: "setSorryServer", service: SVC, sorry: null },
    ]);
  });

  it("real servers without a check (listed by destKeys) count as up", async () => {
    const { state, target, cmd, seen, exec } = rig({ [SVC]: ["127.0.0.1:1", "127.0.0.1:2"] });
    await exec(add("127.0.0.1:1"));
    await exec("health sorry -t 198.18.100.1:80 127.0.0.1:99 -i");
    state["127.0.0.1:1"] = false;
    await seen.next((t) => !t.up);
    await cmd.actions.idle();
    expect(target.calls).toEqual([{ call: "setDestHealth", service: SVC, dest: "127.0.0.1:1", up: false, mode: "inhibit" }]);
    expect(cmd.actions.isSorryEngaged(SVC)).toBe(false);
  });

  it("sorry del and sorry changes while engaged reach the target; health del restores a down real server", async () => {
    const { state, target, cmd, seen, exec } = rig();
    await exec(add("127.0.0.1:1"));
    await exec("health sorry -t 198.18.100.1:80 127.0.0.1:99");
    state["127.0.0.1:1"] = false;
    await seen.next((t) => !t.up);
    await cmd.actions.idle();
    expect(target.calls.length).toBe(2);
    await exec("health sorry -t 198.18.100.1:80 127.0.0.1:98 -m");
    await exec("health sorry del -t 198.18.100.1:80");
    await exec("health sorry -t 198.18.100.1:80 127.0.0.1:97");
    await exec("health del -t 198.18.100.1:80 -r 127.0.0.1:1");
    expect(target.calls.slice(2)).toEqual([
      { call: "setSorryServer", service: SVC, sorry: { dest: "127.0.0.1:98", fwd: "nat" } },
      { call: "setSorryServer", service: SVC, sorry: null },
      { call: "setSorryServer", service: SVC, sorry: { dest: "127.0.0.1:97", fwd: "dr" } },
      // the check is gone: its real server is put back; with no checked server left and
      // no list of real servers from the target, the service still counts as having none up
      { call: "setDestHealth", service: SVC, dest: "127.0.0.1:1", up: true, mode: "inhibit" },
    ]);
  });

  it("a refused sorry server is an error reply and changes nothing", async () => {
    const { state, target, cmd, seen, exec } = rig();
    await exec(add("127.0.0.1:1"));
    state["127.0.0.1:1"] = false;
    await seen.next((t) => !t.up);
    await cmd.actions.idle();
    const before = cmd.runningConfig();
    target.failSorry = true;
    expect(await exec("health sorry -t 198.18.100.1:80 127.0.0.1:99")).toEqual({ ok: false, text: "error: health sorry: sorry server refused" });
    expect(cmd.runningConfig()).toEqual(before);
    expect(cmd.actions.isSorryEngaged(SVC)).toBe(false);
  });

  it("a failing target call is logged and does not stop later actions", async () => {
    const { state, target, cmd, seen, exec } = rig();
    target.setDestHealth = () => { throw new Error("no such real server"); };
    await exec(add("127.0.0.1:1"));
    state["127.0.0.1:1"] = false;
    await seen.next((t) => !t.up);
    await cmd.actions.idle();
    target.failSorry = false;
    await exec("health sorry -t 198.18.100.1:80 127.0.0.1:99");
    expect(target.calls).toEqual([{ call: "setSorryServer", service: SVC, sorry: { dest: "127.0.0.1:99", fwd: "dr" } }]);
  });
});
