// The rate estimator against IPVS's definition (net/netfilter/ipvs/ip_vs_est.c):
// every 2 s, avg += (rate - avg) >> 2 with rates scaled by 2^10 (conns,
// packets: delta << 9) or 2^5 (bytes: delta << 4), read back as
// (avg + 0x1FF) >> 10 and (avg + 0xF) >> 5. The expected values here are
// written out by hand or recomputed with plain Number arithmetic (division
// and Math.floor, no BigInt, no shifts), never with the code under test.

import { describe, it, expect, vi, afterEach } from "vitest";
import pino from "pino";
import { Estimator, ESTIMATION_INTERVAL_MS, type Target, type TargetDest } from "../../src/metrics/estimator.js";
import type { Counters, ServiceKey } from "../../src/dataplane/dataplane.js";
import { WeirError } from "../../src/errors.js";

const SVC: ServiceKey = { proto: "tcp", addr: "198.18.100.1", port: 80 };
const RS0: TargetDest = { addr: "198.19.0.11", port: 80, fwd: "nat" };
const RS1: TargetDest = { addr: "198.19.0.12", port: 80, fwd: "dr" };
const silent = pino({ level: "silent" });

type Mutable = { conns: number; inpkts: number; outpkts: number; inbytes: number; outbytes: number };
const zero = (): Mutable => ({ conns: 0, inpkts: 0, outpkts: 0, inbytes: 0, outbytes: 0 });
const big = (m: Mutable): Counters => ({
  conns: BigInt(m.conns), inpkts: BigInt(m.inpkts), outpkts: BigInt(m.outpkts), inbytes: BigInt(m.inbytes), outbytes: BigInt(m.outbytes),
});

/** Counters the test moves by hand, keyed by "service" or "service dest". */
class FakeSource {
  readonly c = new Map<string, Mutable>();
  at(key: string): Mutable {
    let m = this.c.get(key);
    if (!m) this.c.set(key, (m = zero()));
    return m;
  }
  serviceStats(k: ServiceKey): Counters {
    const m = this.c.get(JSON.stringify(k));
    if (!m) throw new WeirError("WEIR_ERR_NO_SUCH_SERVICE", "service stats: no such service");
    return big(m);
  }
  destStats(k: ServiceKey, d: TargetDest): Counters {
    const m = this.c.get(`${JSON.stringify(k)} ${d.addr}:${d.port}`);
    if (!m) throw new WeirError("WEIR_ERR_NO_SUCH_DEST", "real server stats: no such real server");
    return big(m);
  }
}

function setup(targets: Target[] = [{ service: SVC, dests: [RS0, RS1] }]) {
  const src = new FakeSource();
  const svc = src.at(JSON.stringify(SVC));
  const rs0 = src.at(`${JSON.stringify(SVC)} ${RS0.addr}:${RS0.port}`);
  const rs1 = src.at(`${JSON.stringify(SVC)} ${RS1.addr}:${RS1.port}`);
  let list = targets;
  const est = new Estimator({ source: src, targets: () => list, log: silent });
  return { src, svc, rs0, rs1, est, setTargets: (t: Target[]) => (list = t) };
}

/**
 * The IPVS estimator restated from its definition in plain arithmetic:
 * scale 2^10 for conns and packets, 2^5 for bytes; the 2-second delta in
 * scaled units is delta * scale / 2; the step is floor((rate - avg) / 4);
 * reading rounds by adding scale/2 - 1 and dividing down.
 */
class Reference {
  avg = { cps: 0, inpps: 0, outpps: 0, inbps: 0, outbps: 0 };
  last = zero();
  static readonly SCALE = { cps: 1024, inpps: 1024, outpps: 1024, inbps: 32, outbps: 32 };
  static readonly FIELD = { cps: "conns", inpps: "inpkts", outpps: "outpkts", inbps: "inbytes", outbps: "outbytes" } as const;
  step(now: Mutable): void {
    for (const k of Object.keys(this.avg) as (keyof Reference["avg"])[]) {
      const delta = now[Reference.FIELD[k]] - this.last[Reference.FIELD[k]];
      const rate = (delta * Reference.SCALE[k]) / 2;
      this.avg[k] += Math.floor((rate - this.avg[k]) / 4);
    }
    this.last = { ...now };
  }
  read() {
    const r = (k: keyof Reference["avg"]) => Math.floor((this.avg[k] + Reference.SCALE[k] / 2 - 1) / Reference.SCALE[k]);
    return { cps: r("cps"), inpps: r("inpps"), outpps: r("outpps"), inbps: r("inbps"), outbps: r("outbps") };
  }
}

describe("Estimator: IPVS's averaging", () => {
  it("1000 packets per 2 s: 125, 219, 289, 342 pps (worked by hand), then a drop to 0: 256, 192, 144", () => {
    const { svc, est } = setup();
    est.tick(0); // starts the estimators from the current counters
    // rate = 1000 << 9 = 512000 (500 pps scaled by 1024)
    //   avg 0      + (512000 - 0)      >> 2 = 128000 → (128000 + 511) >> 10 = 125
    //   avg 128000 + (512000 - 128000) >> 2 = 224000 → 219
    //   avg 224000 + (512000 - 224000) >> 2 = 296000 → 289
    //   avg 296000 + (512000 - 296000) >> 2 = 350000 → 342
    // then no packets, rate 0:
    //   avg 350000 + (0 - 350000) >> 2 = 262500 → 256
    //   avg 262500 + (0 - 262500) >> 2 = 196875 → 192
    //   avg 196875 + (0 - 196875) >> 2 = 196875 - 49219 (floor of -49218.75) = 147656 → 144
    const seen: number[] = [];
    for (let i = 1; i <= 7; i++) {
      if (i <= 4) svc.inpkts += 1000;
      expect(est.tick(i * 2000)).toBe(true);
      seen.push(est.rates(SVC).inpps);
    }
    expect(seen).toEqual([125, 219, 289, 342, 256, 192, 144]);
  });

  it("steady traffic converges to the per-second figure of each counter", () => {
    const { svc, est } = setup();
    est.tick(0);
    for (let i = 1; i <= 60; i++) {
      svc.conns += 10;
      svc.inpkts += 1000;
      svc.outpkts += 3000;
      svc.inbytes += 100_000;
      svc.outbytes += 4_000_000;
      est.tick(i * 2000);
    }
    // Rising averages stop within 3 scaled units below the target (the >> 2
    // step is 0 once the gap is under 4), which the rounding reads as the target.
    expect(est.rates(SVC)).toEqual({ cps: 5, inpps: 500, outpps: 1500, inbps: 50_000, outbps: 2_000_000 });
  });

  it("follows the reference step for step through ramps, bursts and silences, services and real servers alike", () => {
    const { svc, rs0, rs1, est } = setup();
    const ref = { svc: new Reference(), rs0: new Reference(), rs1: new Reference() };
    est.tick(0);
    let seed = 7;
    const rand = (n: number) => ((seed = (seed * 1103515245 + 12345) % 2 ** 31), seed % n);
    for (let i = 1; i <= 80; i++) {
      const phase = Math.floor(i / 10) % 4; // ramp, burst, silence, noise
      const load = phase === 0 ? i * 13 : phase === 1 ? 50_000 : phase === 2 ? 0 : rand(3000);
      const c0 = { conns: Math.floor(load / 50), inpkts: load, outpkts: load * 2 + 1, inbytes: load * 70, outbytes: load * 1400 + 3 };
      const c1 = { conns: rand(7), inpkts: rand(100), outpkts: rand(100), inbytes: rand(10_000), outbytes: rand(1_000_000) };
      for (const k of Object.keys(c0) as (keyof Mutable)[]) {
        rs0[k] += c0[k];
        rs1[k] += c1[k];
        svc[k] += c0[k] + c1[k];
      }
      est.tick(i * ESTIMATION_INTERVAL_MS);
      ref.svc.step(svc);
      ref.rs0.step(rs0);
      ref.rs1.step(rs1);
      expect(est.rates(SVC), `service, step ${i}`).toEqual(ref.svc.read());
      expect(est.rates(SVC, RS0), `rs0, step ${i}`).toEqual(ref.rs0.read());
      expect(est.rates(SVC, RS1), `rs1, step ${i}`).toEqual(ref.rs1.read());
    }
  });

  it("stays within rounding of the real-valued average avg = avg * 3/4 + rate / 4", () => {
    const { svc, est } = setup();
    est.tick(0);
    let avg = 0;
    for (let i = 1; i <= 30; i++) {
      const pkts = i < 15 ? 2468 : 10;
      svc.inpkts += pkts;
      est.tick(i * 2000);
      avg = avg * 0.75 + (pkts / 2) * 0.25;
      expect(Math.abs(est.rates(SVC).inpps - avg)).toBeLessThanOrEqual(1);
    }
  });
});

describe("Estimator: clock and targets", () => {
  it("estimates once per 2 s of the injected clock; a late tick counts as one period and re-syncs when a period behind", () => {
    const { svc, est } = setup();
    expect(est.tick(10_000)).toBe(false); // start
    svc.inpkts += 1000;
    expect(est.tick(11_999)).toBe(false);
    expect(est.rates(SVC).inpps).toBe(0);
    expect(est.tick(12_000)).toBe(true);
    expect(est.rates(SVC).inpps).toBe(125);
    svc.inpkts += 1000;
    expect(est.tick(14_500)).toBe(true); // late, still one 2-s step; next due 16000
    expect(est.rates(SVC).inpps).toBe(219);
    expect(est.tick(15_999)).toBe(false);
    svc.inpkts += 1000;
    expect(est.tick(16_000)).toBe(true);
    expect(est.rates(SVC).inpps).toBe(289);
    svc.inpkts += 1000;
    expect(est.tick(30_000)).toBe(true); // 14 s late: one step (as IPVS), schedule restarts at 32000
    expect(est.rates(SVC).inpps).toBe(342);
    expect(est.tick(31_999)).toBe(false);
    expect(est.tick(32_000)).toBe(true);
  });

  it("reads zeros for what it has not estimated", () => {
    const { est } = setup();
    expect(est.rates(SVC)).toEqual({ cps: 0, inpps: 0, outpps: 0, inbps: 0, outbps: 0 });
    expect(est.rates({ fwmark: 9 }, RS0)).toEqual({ cps: 0, inpps: 0, outpps: 0, inbps: 0, outbps: 0 });
  });

  it("names targets by canonical text (address spelling and the DestSpec object do not matter)", () => {
    const v6: ServiceKey = { proto: "udp", addr: "2001:db8:100::1", port: 53 };
    const src = new FakeSource();
    const s = src.at(JSON.stringify(v6));
    // listed twice: still one estimation per period
    const est = new Estimator({ source: src, targets: () => [{ service: v6, dests: [] }, { service: { ...v6 }, dests: [] }], log: silent });
    est.tick(0);
    s.inpkts += 1000;
    est.tick(2000);
    expect(est.rates({ proto: "udp", addr: "2001:DB8:100:0::1", port: 53 }).inpps).toBe(125);
    expect(est.rates({ proto: "tcp", addr: "2001:db8:100::1", port: 53 }).inpps).toBe(0);
  });

  it("starts a new target from its current counters, forgets removed ones, restarts when counters go back", () => {
    const { svc, rs1, est, setTargets } = setup([{ service: SVC, dests: [RS0] }]);
    svc.inpkts = rs1.inpkts = 50_000; // history before the estimator saw them
    est.tick(0);
    svc.inpkts += 1000;
    est.tick(2000);
    expect(est.rates(SVC).inpps).toBe(125); // not the 50000 of history

    setTargets([{ service: SVC, dests: [RS0, RS1] }]);
    rs1.inpkts += 1000;
    est.tick(4000); // RS1 first seen: started, not estimated
    expect(est.rates(SVC, RS1).inpps).toBe(0);
    rs1.inpkts += 1000;
    est.tick(6000);
    expect(est.rates(SVC, RS1).inpps).toBe(125);

    setTargets([{ service: SVC, dests: [RS0] }]);
    est.tick(8000);
    expect(est.rates(SVC, RS1).inpps).toBe(0); // ip_vs_stop_estimator

    // Zeroed counters (ipvsadm -Z, or the service deleted and added again).
    for (let i = 5; i <= 12; i++) {
      svc.inpkts += 1000;
      est.tick(i * 2000);
    }
    expect(est.rates(SVC).inpps).toBeGreaterThan(400);
    svc.inpkts = 10;
    est.tick(26_000);
    expect(est.rates(SVC).inpps).toBe(0); // ip_vs_zero_estimator
    svc.inpkts += 1000;
    est.tick(28_000);
    expect(est.rates(SVC).inpps).toBe(125);
  });

  it("skips a target whose counters are gone (configuration and data plane briefly disagree)", () => {
    const ghost: ServiceKey = { proto: "tcp", addr: "198.18.100.9", port: 443 };
    const { svc, est } = setup([{ service: ghost, dests: [RS0] }, { service: SVC, dests: [] }]);
    est.tick(0);
    svc.inpkts += 1000;
    est.tick(2000);
    expect(est.rates(SVC).inpps).toBe(125);
    expect(est.rates(ghost).inpps).toBe(0);
  });

  describe("start() runs tick() on a timer", () => {
    afterEach(() => vi.useRealTimers());
    it("every 2 s of the clock until stop()", async () => {
      vi.useFakeTimers();
      const { svc } = setup();
      const src = new FakeSource();
      src.c.set(JSON.stringify(SVC), svc);
      const est = new Estimator({ source: src, targets: () => [{ service: SVC, dests: [] }], now: () => Date.now(), log: silent });
      est.start();
      est.start(); // idempotent
      await vi.advanceTimersByTimeAsync(0); // first tick starts the estimator
      for (let i = 0; i < 4; i++) {
        svc.inpkts += 1000;
        await vi.advanceTimersByTimeAsync(2000);
      }
      expect(est.rates(SVC).inpps).toBe(342);
      est.stop();
      svc.inpkts += 1000;
      await vi.advanceTimersByTimeAsync(10_000);
      expect(est.rates(SVC).inpps).toBe(342);
      expect(vi.getTimerCount()).toBe(0);
    });

    it("a pass over many targets goes in slices: the event loop gets turns during it", async () => {
      const src = new FakeSource();
      const dests: TargetDest[] = Array.from({ length: 40 }, (_, i) => ({ addr: `198.19.${i >> 8}.${i & 255}`, port: 80, fwd: "nat" }));
      const targets: Target[] = Array.from({ length: 2000 }, (_, s) => ({ service: { proto: "tcp", addr: `198.18.${s >> 8}.${s & 255}`, port: 80 }, dests }));
      // Slow counters (~0.2 ms a service), as with 100 k real servers.
      const slow = new Proxy(src, { get: (t, k) => (k === "serviceStats" ? (key: ServiceKey) => { const end = performance.now() + 0.2; while (performance.now() < end); return t.serviceStats(key); } : Reflect.get(t, k)) });
      const est = new Estimator({ source: slow, targets: () => targets, log: silent });
      let turns = 0;
      const ticker = setInterval(() => { turns++; }, 1);
      est.start();
      await new Promise((r) => setTimeout(r, 600));
      est.stop();
      clearInterval(ticker);
      expect(turns).toBeGreaterThan(20); // one 400 ms pass all at once would allow ~1-2
    });
  });
});
