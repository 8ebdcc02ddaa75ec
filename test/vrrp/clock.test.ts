// The schedulers the VRRP machine runs on (src/vrrp/clock.ts): the virtual
// clock's order, ties and cancels; the system one never firing early.
import { describe, expect, it } from "vitest";
import { VirtualClock, systemScheduler } from "../../src/vrrp/clock.js";

describe("VirtualClock", () => {
  it("runs timers in time order, ties in the order set, each at its own time", () => {
    const c = new VirtualClock(1000);
    const seen: string[] = [];
    c.at(3000, () => seen.push(`b@${c.now()}`));
    c.at(2000, () => seen.push(`a@${c.now()}`));
    c.at(3000, () => seen.push(`c@${c.now()}`));
    c.at(500, () => seen.push(`past@${c.now()}`)); // a past time runs as soon as possible
    c.runUntil(2500);
    expect(seen).toEqual(["past@1000", "a@2000"]);
    expect(c.now()).toBe(2500);
    c.advance(1000);
    expect(seen).toEqual(["past@1000", "a@2000", "b@3000", "c@3000"]);
    expect(c.now()).toBe(3500);
  });

  it("a cancelled timer does not run; a timer set by a timer runs in the same run when due", () => {
    const c = new VirtualClock();
    const seen: number[] = [];
    const cancel = c.at(10, () => seen.push(10));
    c.at(20, () => c.at(25, () => seen.push(25)));
    cancel();
    expect(c.pending()).toBe(1);
    c.runUntil(30);
    expect(seen).toEqual([25]);
    expect(c.pending()).toBe(0);
  });
});

describe("systemScheduler", () => {
  it("never fires before its time, and can be cancelled", async () => {
    const s = systemScheduler();
    const start = s.now();
    const fired: { at: number; now: number }[] = [];
    const cancelled = s.at(start + 5_000, () => fired.push({ at: -1, now: s.now() }));
    cancelled();
    await Promise.all([1_500, 2_250, 7_900, 12_345].map((d) => new Promise<void>((done) => {
      const at = start + d;
      s.at(at, () => {
        fired.push({ at, now: s.now() });
        done();
      });
    })));
    expect(fired.length).toBe(4);
    for (const f of fired) expect(f.now).toBeGreaterThanOrEqual(f.at);
  });
});
