// The VRRP state machine (src/vrrp/machine.ts) against RFC 5798's scenarios,
// two or more instances exchanging real frames in a simulated network with a
// virtual clock (sim.ts), every takeover asserted to the microsecond from the
// RFC's formulas: election by priority, the equal-priority tie-break, a
// master crash (Master_Down_Interval), a clean stop (priority 0 → Skew_Time),
// preemption, nopreempt, preempt_delay, a v3 backup learning the master's
// interval, v2's whole seconds and skew, tracked links (FAULT), the address
// owner, unicast peers, and the per-instance rejections.
import { describe, expect, it } from "vitest";
import fc from "fast-check";
import { VirtualClock } from "../../src/vrrp/clock.js";
import {
  Machine, REASONS, advertIntervalCs, checkConfig, masterDownIntervalUs, skewTimeUs, type Action, type InstanceConfig,
} from "../../src/vrrp/machine.js";
import { decodeFrame, type Advert } from "../../src/vrrp/packet.js";
import { Sim } from "./sim.js";

const S = 1_000_000;
const LAT = 50;
const VIPS = ["198.18.100.1", "198.18.100.2"];

function pair(o: { a?: Partial<InstanceConfig>; b?: Partial<InstanceConfig> } = {}) {
  const sim = new Sim(LAT);
  const A = sim.node("A", { eth0: { mac: "02:00:00:00:00:0a", addr: "198.18.0.10" }, eth1: { mac: "02:00:01:00:00:0a", addr: "198.19.0.10" } });
  const B = sim.node("B", { eth0: { mac: "02:00:00:00:00:0b", addr: "198.18.0.11" }, eth1: { mac: "02:00:01:00:00:0b", addr: "198.19.0.11" } });
  const base = { name: "VI_1", interface: "eth0", vrid: 51, addresses: VIPS };
  const a = A.add({ ...base, priority: 150, ...o.a });
  const b = B.add({ ...base, priority: 100, ...o.b });
  return { sim, A, B, a, b };
}

/** The arrival time of the last advert `node` sent before `t`. */
function lastAdvertArrival(sim: Sim, node: string, before: number): number {
  const s = sim.sent.filter((x) => x.node === node && x.kind === "advert" && x.at < before);
  return s[s.length - 1].at + LAT;
}

const mdi = (p: number, cs = 100, v: 2 | 3 = 3) => masterDownIntervalUs(v, p, cs);
const skew = (p: number, cs = 100, v: 2 | 3 = 3) => skewTimeUs(v, p, cs);

describe("timers (RFC 5798 §6.1 with keepalived's µs arithmetic)", () => {
  it("Skew_Time and Master_Down_Interval, by hand", () => {
    expect(skew(100)).toBe(609_375); // 156/256 s
    expect(skew(150)).toBe(414_062); // 106/256 s, truncated
    expect(skew(255, 1)).toBe(39); // 1/256 cs
    expect(mdi(100)).toBe(3_609_375);
    expect(mdi(100, 10)).toBe(360_937);
    expect(skew(100, 200, 2)).toBe(609_375); // v2: (256 − p)/256 s whatever the interval
    expect(mdi(100, 200, 2)).toBe(6_609_375);
  });

  it("v3 skew is the RFC's (256 − p) × interval / 256, truncated to µs", () => {
    fc.assert(fc.property(fc.integer({ min: 1, max: 255 }), fc.integer({ min: 1, max: 4095 }), (p, cs) => {
      expect(skew(p, cs)).toBe(Math.floor(((256 - p) * cs * 10_000) / 256));
      expect(mdi(p, cs)).toBe(3 * cs * 10_000 + skew(p, cs));
      expect(skew(p, cs)).toBeLessThan(cs * 10_000); // the skew never reaches one interval
    }));
  });

  it("advert_int as keepalived takes it: v3 to the centisecond, v2 to whole seconds (half up)", () => {
    expect(advertIntervalCs(3, 0.1)).toEqual({ cs: 10, rounded: false });
    expect(advertIntervalCs(3, 1)).toEqual({ cs: 100, rounded: false });
    expect(advertIntervalCs(3, 0.015)).toEqual({ cs: 2, rounded: true });
    expect(advertIntervalCs(3, 0.001)).toEqual({ cs: 1, rounded: true });
    expect(advertIntervalCs(3, 50)).toEqual({ cs: 4095, rounded: true });
    expect(advertIntervalCs(2, 1)).toEqual({ cs: 100, rounded: false });
    expect(advertIntervalCs(2, 0.1)).toEqual({ cs: 100, rounded: true });
    expect(advertIntervalCs(2, 1.5)).toEqual({ cs: 200, rounded: true });
    expect(advertIntervalCs(2, 2.4)).toEqual({ cs: 200, rounded: true });
    expect(advertIntervalCs(2, 300)).toEqual({ cs: 25500, rounded: true });
    expect(() => advertIntervalCs(3, 0)).toThrow(/above 0/);
  });
});

describe("configuration", () => {
  const ok: InstanceConfig = { name: "VI_1", interface: "eth0", vrid: 1, addresses: ["198.18.100.1"], primary: "198.18.0.1" };
  it("defaults as keepalived's (version 3, priority 100, advert_int 1, preempt, 5 GARPs, again after 5 s)", () => {
    expect(checkConfig(ok)).toMatchObject({ version: 3, family: 4, priority: 100, intervalCs: 100, preempt: true, garpRepeat: 5, garpDelayUs: 5 * S, unicastPeers: [] });
    expect(checkConfig({ ...ok, addresses: ["2001:DB8::1"], primary: "fe80::1" })).toMatchObject({ family: 6, addresses: ["2001:db8::1"] });
  });
  const bad: [Partial<InstanceConfig>, RegExp][] = [
    [{ vrid: 0 }, /virtual_router_id 0/],
    [{ priority: 0 }, /priority 0/],
    [{ priority: 256 }, /priority 256/],
    [{ intervalCs: 0 }, /advert_int/],
    [{ version: 2, intervalCs: 50 }, /whole seconds/],
    [{ version: 2, addresses: ["2001:db8::1"], primary: "fe80::1" }, /IPv4 only/],
    [{ addresses: [] }, /no virtual_ipaddress/],
    [{ addresses: ["198.18.100.1", "2001:db8::1"] }, /not an IPv4 address/],
    [{ addresses: ["198.18.100.1", "198.18.100.1"] }, /twice/],
    [{ primary: "fe80::1" }, /primary address/],
    [{ unicastPeers: ["nope"] }, /unicast_peer/],
    [{ startMaster: true, preempt: false }, /nopreempt needs state BACKUP/],
    [{ preemptDelayUs: 1001 * S }, /preempt_delay/],
    [{ garpRepeat: 256 }, /garp_master_repeat/],
    [{ addresses: Array.from({ length: 91 }, (_, i) => `2001:db8::${i + 1}`), primary: "fe80::1" }, /do not fit/],
    [{ name: "two words" }, /instance name/],
  ];
  for (const [patch, msg] of bad) {
    it(`refuses ${JSON.stringify(patch).slice(0, 60)}`, () => {
      expect(() => checkConfig({ ...ok, ...patch })).toThrow(msg);
    });
  }
});

describe("election", () => {
  it("by priority: the higher one becomes master after its own Master_Down_Interval, the other stays BACKUP", () => {
    const { sim, A, B, a, b } = pair();
    a.start();
    b.start();
    sim.run(30 * S);
    expect(A.into("VI_1", "MASTER").map((t) => [t.at, t.reason])).toEqual([[mdi(150), "master_down"]]);
    expect(B.transitions.map((t) => t.to)).toEqual(["BACKUP"]);
    expect(a.state).toBe("MASTER");
    expect(b.status()).toMatchObject({ state: "BACKUP", master: "198.18.0.10", masterPriority: 150 });
    expect([...A.owned]).toEqual(VIPS);
    expect(B.owned.size).toBe(0);
    // One advert per interval from the master, priority 150, nothing from the backup.
    const adverts = sim.sent.filter((s) => s.kind === "advert");
    expect(adverts.every((s) => s.node === "A" && s.what === "150")).toBe(true);
    expect(adverts.map((s) => s.at).slice(0, 3)).toEqual([mdi(150), mdi(150) + S, mdi(150) + 2 * S]);
    // garp_master_repeat 5 per address at once, and again after garp_master_delay (5 s).
    const garps = sim.sent.filter((s) => s.kind === "announce");
    expect(garps.length).toBe(20);
    expect(garps.filter((g) => g.at === mdi(150)).length).toBe(10);
    expect(garps.filter((g) => g.at === mdi(150) + 5 * S).length).toBe(10);
    expect(A.rejects).toEqual([]);
    expect(B.rejects).toEqual([]);
  });

  it("equal priorities, both timing out together: the higher primary address stays master", () => {
    for (const [addrA, addrB, winner] of [["198.18.0.10", "198.18.0.11", "B"], ["198.18.0.12", "198.18.0.11", "A"]]) {
      const { sim, A, B, a, b } = pair({ a: { priority: 100, primary: addrA } });
      A.links.eth0.addr = addrA;
      a.start();
      b.start();
      sim.run(10 * S);
      // Both became master at the same instant, then the lower address yielded on the other's advert.
      expect(A.into("VI_1", "MASTER")[0].at).toBe(mdi(100));
      expect(B.into("VI_1", "MASTER")[0].at).toBe(mdi(100));
      const loser = winner === "A" ? B : A;
      const yielded = loser.into("VI_1", "BACKUP", 0);
      expect(yielded.map((t) => [t.at, t.reason])).toEqual([[mdi(100) + LAT, "higher_address"]]);
      expect(a.state).toBe(winner === "A" ? "MASTER" : "BACKUP");
      expect(b.state).toBe(winner === "B" ? "MASTER" : "BACKUP");
    }
  });

  it("equal priority, a live master: a newcomer with a higher address does not take over (RFC: >= keeps BACKUP)", () => {
    const { sim, B, a, b } = pair({ a: { priority: 100 } });
    a.start(); // A is 198.18.0.10, B 198.18.0.11: B's address is higher
    sim.run(10 * S);
    b.start();
    sim.run(40 * S);
    expect(a.state).toBe("MASTER");
    expect(B.into("VI_1", "MASTER")).toEqual([]);
  });
});

describe("takeover", () => {
  it("master crash: the backup becomes master Master_Down_Interval after the last advert it heard", () => {
    const { sim, A, B, a, b } = pair();
    a.start();
    b.start();
    sim.run(10 * S);
    A.crash();
    sim.run(30 * S);
    const last = lastAdvertArrival(sim, "A", 10 * S);
    expect(last).toBe(mdi(150) + 6 * S + LAT);
    expect(B.into("VI_1", "MASTER").map((t) => [t.at, t.reason, t.detail])).toEqual([[last + mdi(100), "master_down", "last advert from 198.18.0.10"]]);
    expect([...B.owned]).toEqual(VIPS);
    expect(sim.sent.filter((s) => s.node === "B" && s.kind === "announce" && s.at === last + mdi(100)).length).toBe(10);
  });

  it("clean stop: priority 0, the backup takes over after Skew_Time only", () => {
    const { sim, A, B, a, b } = pair();
    a.start();
    b.start();
    sim.run(10 * S);
    a.shutdown();
    expect(A.transitions.at(-1)).toMatchObject({ to: "INIT", reason: "shutdown", detail: "sent priority 0", at: 10 * S });
    expect(A.owned.size).toBe(0);
    expect(sim.sent.filter((s) => s.node === "A" && s.kind === "advert").at(-1)).toMatchObject({ at: 10 * S, what: "0" });
    sim.run(30 * S);
    expect(B.into("VI_1", "MASTER").map((t) => [t.at, t.reason])).toEqual([[10 * S + LAT + skew(100), "priority_zero"]]);
    expect(a.status().stats.priorityZeroSent).toBe(1);
    expect(b.status().stats.priorityZeroReceived).toBe(1);
  });

  it("a master hearing priority 0 from another stopping master answers at once", () => {
    const out: Action[] = [];
    const clock = new VirtualClock();
    const m = new Machine({ name: "X", interface: "eth0", vrid: 51, priority: 200, addresses: VIPS, primary: "198.18.0.20", startMaster: true }, clock, (x) => out.push(x));
    m.start();
    clock.advance(S / 2);
    out.length = 0;
    expect(m.receive({ version: 3, family: 4, vrid: 51, priority: 0, intervalCs: 100, addresses: VIPS }, "198.18.0.10")).toBeNull();
    expect(out.map((x) => x.kind)).toEqual(["advert"]);
    expect(m.state).toBe("MASTER");
  });

  it("v3: a backup learns the master's interval (here 0.5 s against its own 1 s) and times out on it", () => {
    const { sim, A, B, a, b } = pair({ a: { intervalCs: 50 } });
    a.start();
    b.start();
    sim.run(10 * S);
    expect(b.status().masterAdverCs).toBe(50);
    expect(b.mdi()).toBe(mdi(100, 50));
    A.crash();
    sim.run(30 * S);
    const last = lastAdvertArrival(sim, "A", 10 * S);
    expect(B.into("VI_1", "MASTER")[0].at).toBe(last + mdi(100, 50));
    // Become master: its own interval again.
    expect(b.status().masterAdverCs).toBe(100);
  });

  it("v2: whole seconds, the interval is not learnt, skew is (256 − p)/256 s", () => {
    const { sim, A, B, a, b } = pair({ a: { version: 2, intervalCs: 200 }, b: { version: 2, intervalCs: 200 } });
    a.start();
    b.start();
    sim.run(20 * S);
    expect(A.into("VI_1", "MASTER")[0].at).toBe(mdi(150, 200, 2));
    A.crash();
    sim.run(40 * S);
    const last = lastAdvertArrival(sim, "A", 20 * S);
    expect(B.into("VI_1", "MASTER")[0].at).toBe(last + 6 * S + 609_375);
    const f = sim.sent.find((s) => s.kind === "advert")!;
    expect(decodeFrame(f.frame)).toMatchObject({ ok: true, advert: { version: 2, intervalCs: 200 } });
  });
});

describe("preemption", () => {
  function lateHigher(a: Partial<InstanceConfig>) {
    const p = pair({ a });
    p.b.start();
    p.sim.run(20 * S);
    expect(p.b.state).toBe("MASTER");
    p.a.start();
    return p;
  }

  it("on by default: a higher priority joining later takes over after its Master_Down_Interval", () => {
    const { sim, A, B } = lateHigher({});
    sim.run(60 * S);
    expect(A.into("VI_1", "MASTER").map((t) => [t.at, t.reason])).toEqual([[20 * S + mdi(150), "preempt"]]);
    expect(B.into("VI_1", "BACKUP", 20 * S).map((t) => [t.at, t.reason])).toEqual([[20 * S + mdi(150) + LAT, "higher_priority"]]);
    expect(B.owned.size).toBe(0);
    expect([...A.owned]).toEqual(VIPS);
  });

  it("nopreempt: the higher priority stays BACKUP behind a live lower master", () => {
    const { sim, A, a } = lateHigher({ preempt: false });
    sim.run(60 * S);
    expect(A.into("VI_1", "MASTER")).toEqual([]);
    expect(a.status()).toMatchObject({ state: "BACKUP", master: "198.18.0.11", masterPriority: 100 });
  });

  it("preempt_delay: lower adverts are taken as a master's until the delay has run, then preemption", () => {
    const { sim, A } = lateHigher({ preemptDelayUs: 10 * S });
    sim.run(60 * S);
    // B's adverts arrive at x.609425 s; the last one before 30 s (20 s + 10 s) still resets A's timer.
    const lastTaken = lastAdvertArrival(sim, "B", 30 * S - LAT);
    expect(lastTaken).toBe(29 * S + mdi(100) - 3 * S + LAT);
    expect(A.into("VI_1", "MASTER").map((t) => [t.at, t.reason])).toEqual([[lastTaken + mdi(150), "preempt"]]);
  });

  it("`state MASTER` starts as master at once, and yields to a higher priority", () => {
    const { sim, B, a, b } = pair({ b: { startMaster: true } });
    b.start();
    expect(B.transitions[0]).toMatchObject({ at: 0, to: "MASTER", reason: "configured_master" });
    sim.run(5 * S);
    a.start();
    sim.run(20 * S);
    expect(a.state).toBe("MASTER");
    expect(b.state).toBe("BACKUP");
  });

  it("priority 255 (address owner): master at once, ignores others' adverts (local_owner)", () => {
    const { sim, A, B, a, b } = pair({ b: { priority: 255 } });
    a.start();
    b.start();
    expect(B.transitions[0]).toMatchObject({ at: 0, to: "MASTER", reason: "address_owner" });
    sim.run(20 * S);
    expect(b.state).toBe("MASTER");
    expect(a.state).toBe("BACKUP");
    expect(A.into("VI_1", "MASTER")).toEqual([]);
    expect(B.rejects).toEqual([]);
    // A never advertised; an advert from it would be refused by the owner.
    expect(b.receive({ version: 3, family: 4, vrid: 51, priority: 254, intervalCs: 100, addresses: VIPS }, "198.18.0.10")).toBe("local_owner");
  });
});

describe("tracked links (FAULT)", () => {
  it("a tracked link down: the master goes FAULT, sends priority 0, the peer takes over after Skew_Time; back up, it preempts again", () => {
    const { sim, A, B, a, b } = pair({ a: { trackInterfaces: ["eth1"] } });
    a.start();
    b.start();
    sim.run(10 * S);
    A.cut("eth1");
    expect(a.status()).toMatchObject({ state: "FAULT", linksDown: ["eth1"] });
    expect(A.transitions.at(-1)).toMatchObject({ at: 10 * S, to: "FAULT", reason: "link_down", detail: "link eth1 down; sent priority 0" });
    expect(A.owned.size).toBe(0);
    sim.run(15 * S);
    expect(B.into("VI_1", "MASTER").map((t) => [t.at, t.reason])).toEqual([[10 * S + LAT + skew(100), "priority_zero"]]);
    // FAULT sends nothing.
    expect(sim.sent.filter((s) => s.node === "A" && s.at > 10 * S)).toEqual([]);
    A.restore("eth1");
    expect(A.transitions.at(-1)).toMatchObject({ at: 15 * S, to: "BACKUP", reason: "link_up" });
    sim.run(40 * S);
    expect(A.into("VI_1", "MASTER", 15 * S).map((t) => [t.at, t.reason])).toEqual([[15 * S + mdi(150), "preempt"]]);
  });

  it("the instance's own link cut: its priority 0 cannot get out, the peer waits Master_Down_Interval", () => {
    const { sim, A, B, a, b } = pair();
    a.start();
    b.start();
    sim.run(10 * S);
    A.cut("eth0", 20_000); // carrier loss seen 20 ms later
    sim.run(30 * S);
    expect(A.transitions.at(-1)).toMatchObject({ at: 10 * S + 20_000, to: "FAULT" });
    const last = lastAdvertArrival(sim, "A", 10 * S);
    expect(B.into("VI_1", "MASTER")[0].at).toBe(last + mdi(100));
  });

  it("an untracked link does nothing; a link down before start begins in FAULT", () => {
    const { sim, a, A } = pair();
    a.linkDown("eth1");
    expect(a.status().linksDown).toEqual([]);
    a.linkDown("eth0");
    a.start();
    expect(A.transitions[0]).toMatchObject({ from: "INIT", to: "FAULT", reason: "link_down" });
    sim.run(10 * S);
    expect(a.state).toBe("FAULT");
    a.linkUp("eth0");
    expect(a.state).toBe("BACKUP");
  });
});

describe("unicast peers", () => {
  it("adverts go to each peer's MAC and address, and the election works as over multicast", () => {
    const { sim, A, B, a, b } = pair({ a: { unicastPeers: ["198.18.0.11"] }, b: { unicastPeers: ["198.18.0.10"] } });
    a.start();
    b.start();
    sim.run(10 * S);
    expect(a.state).toBe("MASTER");
    const f = sim.sent.find((s) => s.node === "A" && s.kind === "advert")!.frame;
    expect(Array.from(f.subarray(0, 6), (x) => x.toString(16).padStart(2, "0")).join(":")).toBe("02:00:00:00:00:0b");
    expect(decodeFrame(f)).toMatchObject({ ok: true, dst: "198.18.0.11", multicast: false });
    A.crash();
    sim.run(30 * S);
    expect(b.state).toBe("MASTER");
    expect(B.rejects).toEqual([]);
  });

  it("an advert from an address that is not a peer is refused (unknown_peer)", () => {
    const { b } = pair({ b: { unicastPeers: ["198.18.0.10"] } });
    b.start();
    expect(b.receive({ version: 3, family: 4, vrid: 51, priority: 200, intervalCs: 100, addresses: VIPS }, "198.18.0.99")).toBe("unknown_peer");
    expect(b.status().stats.rejected).toEqual({ unknown_peer: 1 });
  });
});

describe("per-instance rejections (RFC 5798 §7.1, RFC 3768 §7.1)", () => {
  const adv = (p: Partial<Advert> = {}): Advert => ({ version: 3, family: 4, vrid: 51, priority: 200, intervalCs: 100, addresses: VIPS, ...p });
  it("each check, and the advert that passes them all", () => {
    const { b } = pair({ b: { version: 3 } });
    b.start();
    expect(b.receive(adv({ version: 2 }), "198.18.0.10")).toBe("version_mismatch");
    expect(b.receive(adv({ vrid: 52 }), "198.18.0.10")).toBe("unknown_vrid");
    expect(b.receive(adv({ family: 6, addresses: ["fe80::1"] }), "fe80::2")).toBe("unknown_vrid");
    expect(b.receive(adv(), "198.18.0.11")).toBe("loop");
    expect(b.receive(adv({ addresses: ["198.18.100.1"] }), "198.18.0.10")).toBe("addr_mismatch");
    expect(b.receive(adv({ addresses: ["198.18.100.1", "198.18.100.9"] }), "198.18.0.10")).toBe("addr_mismatch");
    // Another order is the same list; the owner's advert is taken whatever its list.
    expect(b.receive(adv({ addresses: [...VIPS].reverse() }), "198.18.0.10")).toBeNull();
    expect(b.receive(adv({ priority: 255, addresses: ["198.18.100.7"] }), "198.18.0.10")).toBeNull();
    expect(b.status().stats).toMatchObject({ advertsReceived: 2, rejected: { version_mismatch: 1, unknown_vrid: 2, loop: 1, addr_mismatch: 2 } });
  });

  it("v2: an interval other than ours is refused (interval_mismatch); v3 takes it", () => {
    const { b } = pair({ b: { version: 2 } });
    b.start();
    expect(b.receive(adv({ version: 2, intervalCs: 200 }), "198.18.0.10")).toBe("interval_mismatch");
    const v3 = pair();
    v3.b.start();
    expect(v3.b.receive(adv({ intervalCs: 20 }), "198.18.0.10")).toBeNull();
    expect(v3.b.status().masterAdverCs).toBe(20);
  });

  it("a rejected advert does not reset the Master_Down_Timer", () => {
    const { sim, B, b } = pair();
    b.start();
    for (let t = 0; t < 10; t++) {
      sim.run(t * 500_000);
      b.receive(adv({ addresses: ["198.18.100.9", "198.18.100.2"] }), "198.18.0.10");
    }
    sim.run(10 * S);
    expect(B.into("VI_1", "MASTER")[0].at).toBe(mdi(100));
  });
});

describe("transitions", () => {
  it("every transition has a reason from the closed set, and status() shows the last", () => {
    const { sim, A, B, a, b } = pair({ a: { trackInterfaces: ["eth1"] } });
    a.start();
    b.start();
    sim.run(10 * S);
    A.cut("eth1");
    sim.run(12 * S);
    A.restore("eth1");
    sim.run(20 * S);
    a.shutdown();
    sim.run(25 * S);
    for (const t of [...A.transitions, ...B.transitions]) expect(Object.keys(REASONS)).toContain(t.reason);
    expect(A.transitions.map((t) => `${t.from}>${t.to}:${t.reason}`)).toEqual([
      "INIT>BACKUP:startup", "BACKUP>MASTER:master_down", "MASTER>FAULT:link_down", "FAULT>BACKUP:link_up", "BACKUP>MASTER:preempt", "MASTER>INIT:shutdown",
    ]);
    expect(b.status().last).toMatchObject({ to: "MASTER", reason: "priority_zero", at: 20 * S + LAT + skew(100) });
    expect(b.status().masterDownAt).toBeNull();
  });

  it("start and shutdown are idempotent; a stopped instance can start again", () => {
    const { sim, A, a } = pair();
    a.start();
    a.start();
    a.shutdown();
    a.shutdown();
    expect(A.transitions.map((t) => t.to)).toEqual(["BACKUP", "INIT"]);
    a.start();
    sim.run(10 * S);
    expect(a.state).toBe("MASTER");
    expect(sim.clock.pending()).toBeGreaterThan(0);
  });
});
