// The IPVS schedulers, checked through the data plane's test hooks: each
// pick runs the live service's scheduler on a synthetic first packet
// (DataPlane.testPick) and connection counters are set directly
// (DataPlane.testSetConns), so every expectation below follows from the
// scheduler's definition in net/netfilter/ipvs/ip_vs_<name>.c.

import { describe, it, expect, beforeAll } from "vitest";
import { DataPlane, type ServiceKey, type ServiceSpec } from "../../src/dataplane/dataplane.js";

const KEY: ServiceKey = { proto: "tcp", addr: "198.18.100.1", port: 80 };
const ALL = ["rr", "wrr", "lc", "wlc", "lblc", "lblcr", "dh", "sh", "sed", "nq", "fo", "ovf", "mh", "twos"];

const rs = (i: number) => `198.19.0.${11 + i}`;
/** Synthetic client i: 10.a.b.c, low byte varying fastest. */
const client = (i: number) => `10.${(i >>> 16) & 255}.${(i >>> 8) & 255}.${i & 255}`;
/** Synthetic destination i (for lblc/lblcr/dh, which look at the destination address). */
const dstAddr = (i: number) => `172.16.${(i >>> 8) & 255}.${i & 255}`;

let dp: DataPlane;

beforeAll(async () => {
  dp = await DataPlane.load({ debug: true, connCapacity: 1024, seed: 1 });
});

interface Setup { schedFlags?: string[]; upper?: (number | undefined)[] }

/** Replaces everything with one service on KEY and real servers rs(0..) of the given weights. */
function setup(scheduler: string, weights: number[], o: Setup = {}): void {
  dp.transaction((tx) => {
    tx.flush();
    const spec: ServiceSpec = { scheduler, schedFlags: o.schedFlags };
    tx.addService(KEY, spec);
    weights.forEach((weight, i) =>
      tx.addDest(KEY, { addr: rs(i), port: 80, fwd: "nat", weight, upperThreshold: o.upper?.[i] }),
    );
  });
}

function setWeight(i: number, weight: number): void {
  dp.transaction((tx) => tx.editDest(KEY, { addr: rs(i), port: 80, fwd: "nat", weight }));
}

function conns(i: number, active: number, inactive = 0): void {
  dp.testSetConns(KEY, { addr: rs(i), port: 80, fwd: "nat" }, active, inactive);
}

function pick(i = 0, o: { clientPort?: number; dst?: string } = {}): number {
  return dp.testPick(KEY, { client: client(i), clientPort: o.clientPort ?? 40000, dst: o.dst });
}

/** A varied first packet: client, client port and destination all depend on i. */
function pickVaried(i: number): number {
  return dp.testPick(KEY, { client: client(i * 7919), clientPort: 1024 + ((i * 31) % 60000), dst: dstAddr(i) });
}

function picks(n: number, f: (i: number) => number = pickVaried): number[] {
  return Array.from({ length: n }, (_, i) => f(i));
}

const DAY = 24 * 60 * 60 * 1000;

/** Sets the data plane's clock (the schedulers' time) by running an empty batch at now ms. */
function tick(now: number): void {
  dp.createBatch(1).run(now);
}

function histogram(xs: number[], buckets: number): number[] {
  const h = new Array<number>(buckets).fill(0);
  for (const x of xs) if (x >= 0) h[x]++;
  return h;
}

/** Every scheduler, plus the hash schedulers with their fallback flag. */
const VARIANTS: { name: string; scheduler: string; schedFlags?: string[] }[] = [
  ...ALL.map((s) => ({ name: s, scheduler: s })),
  { name: "sh+sh-fallback", scheduler: "sh", schedFlags: ["sh-fallback"] },
  { name: "mh+mh-fallback", scheduler: "mh", schedFlags: ["mh-fallback"] },
  { name: "sh+sh-port", scheduler: "sh", schedFlags: ["sh-port"] },
  { name: "mh+mh-port", scheduler: "mh", schedFlags: ["mh-port"] },
];

describe("scheduler registry", () => {
  it("offers the 14 IPVS schedulers in id order", () => {
    expect(dp.schedulers).toEqual(ALL);
  });
});

describe.each(VARIANTS)("invariants: $name", ({ scheduler, schedFlags }) => {
  it("picks nothing when every weight is 0", () => {
    setup(scheduler, [0, 0, 0], { schedFlags });
    expect(picks(300).filter((x) => x !== -1)).toEqual([]);
  });

  it("picks nothing without real servers", () => {
    setup(scheduler, [], { schedFlags });
    expect(picks(50).filter((x) => x !== -1)).toEqual([]);
  });

  it("never picks a weight-0 (quiescent) server", () => {
    setup(scheduler, [1, 0, 2], { schedFlags });
    const got = picks(600);
    expect(got.filter((x) => x === 1)).toEqual([]);
    expect(got.filter((x) => x >= 0).length).toBeGreaterThan(100);
  });

  it("never picks a server quiesced after it took connections", () => {
    setup(scheduler, [3, 3, 3], { schedFlags });
    conns(0, 1);
    conns(2, 1);
    picks(300); // warm up caches, cursors and tables with server 1 preferred
    setWeight(1, 0);
    const got = picks(600);
    expect(got.filter((x) => x === 1)).toEqual([]);
    expect(got.filter((x) => x >= 0).length).toBeGreaterThan(100);
  });

  it("never picks a server over its upper connection threshold", () => {
    // Server 1 would be everyone's choice otherwise: highest weight, fewest connections.
    setup(scheduler, [8, 10, 8], { schedFlags, upper: [0, 4, 0] });
    conns(0, 8);
    conns(2, 8);
    picks(300); // warm up with server 1 available and preferred (lblc/lblcr cache it)
    conns(1, 4); // active + inactive >= 4: overloaded
    expect(dp.destStats(KEY, { addr: rs(1), port: 80 }).overloaded).toBe(true);
    const got = picks(600);
    expect(got.filter((x) => x === 1)).toEqual([]);
    expect(got.filter((x) => x >= 0).length).toBeGreaterThan(100);
    // Below the lower bound (3/4 of -x when -y is unset) it is usable again.
    conns(1, 2);
    expect(dp.destStats(KEY, { addr: rs(1), port: 80 }).overloaded).toBe(false);
  });
});

describe("rr", () => {
  it("cycles through the servers in order, skipping weight 0", () => {
    setup("rr", [1, 1, 1]);
    expect(picks(7, pick)).toEqual([0, 1, 2, 0, 1, 2, 0]);
    setup("rr", [1, 0, 5]);
    expect(picks(5, pick)).toEqual([0, 2, 0, 2, 0]);
  });
});

describe("wrr", () => {
  it("gives IPVS's sequence for weights 4,3,2 (gcd 1: cw = 4,3,2,1)", () => {
    // cw=4: A; cw=3: A B; cw=2: A B C; cw=1: A B C; then around again.
    setup("wrr", [4, 3, 2]);
    const cycle = [0, 0, 1, 0, 1, 2, 0, 1, 2];
    expect(picks(27, pick)).toEqual([...cycle, ...cycle, ...cycle]);
  });

  it("steps cw by the gcd (weights 2,4: di=2, mw=3)", () => {
    // cw=3: B; cw=1: A B; cw=3: B; ...
    setup("wrr", [2, 4]);
    expect(picks(9, pick)).toEqual([1, 0, 1, 1, 0, 1, 1, 0, 1]);
  });

  it("skips an overloaded server and keeps the others' proportions", () => {
    setup("wrr", [4, 3, 2], { upper: [0, 1, 0] });
    conns(1, 1);
    expect(picks(12, pick)).toEqual([0, 0, 0, 2, 0, 2, 0, 0, 0, 2, 0, 2]);
  });
});

describe("lc", () => {
  it("picks the least (activeconns<<8)+inactconns, ignoring weights; first wins ties", () => {
    setup("lc", [1, 5, 1]);
    conns(0, 1, 0); // 256
    conns(1, 0, 300); // 300
    conns(2, 1, 0); // 256
    expect(pick()).toBe(0);
    conns(0, 1, 1); // 257
    expect(pick()).toBe(2);
    conns(1, 0, 255); // 255
    expect(pick()).toBe(1);
  });
});

describe("wlc", () => {
  it("picks the least overhead/weight (h1*w2 > h2*w1); first wins ties", () => {
    setup("wlc", [1, 2, 3]);
    conns(0, 1); // 256/1
    conns(1, 2); // 512/2
    conns(2, 3); // 768/3
    expect(pick()).toBe(0);
    conns(0, 1, 1); // 257/1
    expect(pick()).toBe(1);
    conns(1, 2, 1); // 513/2 = 256.5 > 256
    expect(pick()).toBe(2);
  });

  it("differs from lc when weights differ", () => {
    setup("wlc", [1, 4]);
    conns(0, 0, 10); // 10/1
    conns(1, 0, 30); // 30/4 = 7.5
    expect(pick()).toBe(1);
    setup("lc", [1, 4]);
    conns(0, 0, 10);
    conns(1, 0, 30);
    expect(pick()).toBe(0);
  });
});

describe("sed", () => {
  it("picks the least (activeconns+1)/weight, ignoring inactive connections", () => {
    setup("sed", [1, 3]);
    conns(0, 0); // 1/1
    conns(1, 2); // 3/3: tie, first wins
    expect(pick()).toBe(0);
    conns(1, 1, 1000); // 2/3
    expect(pick()).toBe(1);
  });

  it("prefers a fast busy server over an idle slow one (unlike nq)", () => {
    setup("sed", [1, 10]);
    conns(1, 1); // 2/10 < 1/1
    expect(pick()).toBe(1);
  });
});

describe("nq", () => {
  it("takes the first idle server at once", () => {
    setup("nq", [1, 10]);
    conns(1, 1); // sed would pick 1 (2/10 < 1/1); server 0 is idle
    expect(pick()).toBe(0);
    setup("nq", [1, 1, 1]);
    conns(0, 3);
    expect(pick()).toBe(1);
  });

  it("falls back to shortest expected delay when none is idle", () => {
    setup("nq", [1, 10]);
    conns(0, 1); // 2/1
    conns(1, 1, 500); // 2/10
    expect(pick()).toBe(1);
    setup("nq", [2, 1]);
    conns(0, 1); // 2/2
    conns(1, 0 + 1); // 2/1
    expect(pick()).toBe(0);
  });
});

describe("fo", () => {
  it("picks the highest weight, first in list on ties", () => {
    setup("fo", [2, 5, 5, 1]);
    expect(picks(5, pick)).toEqual([1, 1, 1, 1, 1]);
    setWeight(1, 0);
    expect(pick()).toBe(2);
    setWeight(2, 0);
    expect(pick()).toBe(0);
  });
});

describe("ovf", () => {
  it("fills the highest weight up to activeconns == weight, then overflows", () => {
    setup("ovf", [2, 5, 5]);
    expect(pick()).toBe(1);
    conns(1, 5); // == weight: still takes connections (IPVS skips only activeconns > weight)
    expect(pick()).toBe(1);
    conns(1, 6);
    expect(pick()).toBe(2);
    conns(2, 6);
    expect(pick()).toBe(0);
    conns(0, 3);
    expect(pick()).toBe(-1);
    conns(2, 0, 1000); // inactive connections do not count
    expect(pick()).toBe(2);
  });
});

describe("sh", () => {
  it("maps the same client to the same server, whatever its port", () => {
    setup("sh", [1, 2, 3]);
    for (let i = 0; i < 300; i++) {
      const a = pick(i * 13, { clientPort: 1000 });
      expect(a).toBeGreaterThanOrEqual(0);
      expect(pick(i * 13, { clientPort: 2000 + i })).toBe(a);
    }
  });

  it("deals its 256 buckets by weight in list order (A B B C C C ...)", () => {
    // ip_vs_sh_reassign over 256 buckets with weights 1,2,3: 42 full rounds
    // of 6 plus A B B C; the hash is a bijection of the address's low byte.
    setup("sh", [1, 2, 3]);
    expect(histogram(picks(256, (i) => pick(i)), 3)).toEqual([43, 86, 127]);
    // Roughly by weight for arbitrary clients too.
    const h = histogram(picks(3000, (i) => pick(i * 7919 + 12345)), 3);
    expect(h[1] / h[0]).toBeGreaterThan(1.6);
    expect(h[1] / h[0]).toBeLessThan(2.4);
    expect(h[2] / h[0]).toBeGreaterThan(2.4);
    expect(h[2] / h[0]).toBeLessThan(3.6);
  });

  it("with sh-port hashes the client port too", () => {
    setup("sh", [1, 1, 1], { schedFlags: ["sh-port"] });
    const seen = new Set(picks(60, (p) => pick(5, { clientPort: 3000 + p })));
    expect(seen.size).toBe(3);
    expect(pick(5, { clientPort: 3007 })).toBe(pick(5, { clientPort: 3007 }));
  });

  it("without fallback drops a quiesced server's clients; with sh-fallback moves only those", () => {
    for (const fallback of [false, true]) {
      setup("sh", [1, 1, 1], { schedFlags: fallback ? ["sh-fallback"] : [] });
      const before = picks(256, (i) => pick(i));
      expect(histogram(before, 3)).toEqual([86, 85, 85]);
      setWeight(1, 0); // a weight-0 server keeps its bucket: the table is unchanged
      const after = picks(256, (i) => pick(i));
      for (let i = 0; i < 256; i++) {
        if (before[i] !== 1) expect(after[i]).toBe(before[i]);
        else if (fallback) expect([0, 2]).toContain(after[i]);
        else expect(after[i]).toBe(-1);
      }
    }
  });
});

describe("dh", () => {
  it("maps the same destination to the same server, whatever the client", () => {
    setup("dh", [1, 1, 1]);
    for (let i = 0; i < 200; i++) {
      const a = pick(0, { dst: dstAddr(i) });
      expect(a).toBeGreaterThanOrEqual(0);
      expect(pick(i + 1000, { dst: dstAddr(i), clientPort: 5000 + i })).toBe(a);
    }
  });

  it("deals one bucket per server regardless of weight, as ip_vs_dh.c", () => {
    setup("dh", [1, 2, 3]);
    expect(histogram(picks(256, (i) => pick(0, { dst: dstAddr(i) })), 3)).toEqual([86, 85, 85]);
  });

  it("gives a quiesced server's destinations no server", () => {
    setup("dh", [1, 1, 1]);
    const before = picks(256, (i) => pick(0, { dst: dstAddr(i) }));
    setWeight(2, 0);
    const after = picks(256, (i) => pick(0, { dst: dstAddr(i) }));
    for (let i = 0; i < 256; i++) expect(after[i]).toBe(before[i] === 2 ? -1 : before[i]);
  });
});

describe("mh", () => {
  const N = 20000;
  const byClient = () => picks(N, (i) => pick(i));

  it("maps the same client to the same server and spreads clients by weight", () => {
    setup("mh", [1, 1, 1, 1, 1]);
    const a = byClient();
    expect(picks(500, (i) => pick(i, { clientPort: 9999 }))).toEqual(a.slice(0, 500));
    for (const c of histogram(a, 5)) {
      expect(c / N).toBeGreaterThan(0.17);
      expect(c / N).toBeLessThan(0.23);
    }
    setup("mh", [1, 3]);
    const h = histogram(byClient(), 2);
    expect(h[1] / h[0]).toBeGreaterThan(2.6);
    expect(h[1] / h[0]).toBeLessThan(3.4);
  });

  it("moves only about 1/N of the clients when one of N servers is removed", () => {
    const n = 5;
    setup("mh", [1, 1, 1, 1, 1]);
    const before = byClient().map((i) => rs(i));
    dp.transaction((tx) => tx.deleteDest(KEY, { addr: rs(2), port: 80, fwd: "nat" }));
    const left = [0, 1, 3, 4].map(rs);
    const after = byClient().map((i) => left[i]);
    let moved = 0, movedKept = 0, kept = 0;
    for (let i = 0; i < N; i++) {
      if (before[i] !== after[i]) moved++;
      if (before[i] !== rs(2)) {
        kept++;
        if (before[i] !== after[i]) movedKept++;
      }
    }
    expect(moved / N).toBeLessThanOrEqual(1.2 / n);
    expect(moved / N).toBeGreaterThan(0.8 / n); // the removed server's clients did move
    expect(movedKept / kept).toBeLessThan(0.03); // clients of remaining servers stay
  });

  it("keeps the table when a server is quiesced; mh-fallback moves only its clients", () => {
    for (const fallback of [false, true]) {
      setup("mh", [1, 1, 1, 1], { schedFlags: fallback ? ["mh-fallback"] : [] });
      const before = picks(4000, (i) => pick(i));
      setWeight(3, 0);
      const after = picks(4000, (i) => pick(i));
      for (let i = 0; i < 4000; i++) {
        if (before[i] !== 3) expect(after[i]).toBe(before[i]);
        else if (fallback) expect([0, 1, 2]).toContain(after[i]);
        else expect(after[i]).toBe(-1);
      }
      // Restoring the weight restores the mapping exactly.
      setWeight(3, 1);
      expect(picks(4000, (i) => pick(i))).toEqual(before);
    }
  });

  it("with mh-port hashes the client port too", () => {
    setup("mh", [1, 1, 1], { schedFlags: ["mh-port"] });
    expect(new Set(picks(60, (p) => pick(5, { clientPort: 3000 + p }))).size).toBe(3);
    setup("mh", [1, 1, 1]);
    expect(new Set(picks(60, (p) => pick(5, { clientPort: 3000 + p }))).size).toBe(1);
  });
});

describe("lblc", () => {
  const X = "172.16.9.1", Y = "172.16.9.2";

  it("forgets a destination idle for lblc_expiration (24 h), each use refreshing it", () => {
    const t0 = 1_000_000;
    tick(t0);
    setup("lblc", [1, 1, 1]);
    expect(pick(0, { dst: X })).toBe(0);
    conns(0, 1); // wlc would now pick 1
    tick(t0 + DAY - 1);
    expect(pick(0, { dst: X })).toBe(0); // still cached; last use is now t0 + DAY - 1
    tick(t0 + 2 * DAY - 2);
    expect(pick(0, { dst: X })).toBe(0);
    tick(t0 + 3 * DAY - 2); // idle for a whole day: the entry is gone
    expect(pick(0, { dst: X })).toBe(1);
  });

  it("keeps a destination on its server while that server is not overloaded", () => {
    setup("lblc", [1, 1, 1]);
    expect(pick(0, { dst: X })).toBe(0); // wlc: all idle, first wins
    conns(0, 1); // wlc would now prefer 1, but X stays cached on 0 (1 > 1 is false)
    expect(picks(50, (i) => pick(i, { dst: X }))).toEqual(new Array(50).fill(0));
    expect(pick(0, { dst: Y })).toBe(1); // a new destination goes by wlc
    conns(0, 2); // activeconns > weight while server 1 is below half its weight
    expect(pick(0, { dst: X })).toBe(1); // rescheduled by wlc (the counters are set by hand, Y added none)
    conns(0, 0);
    expect(picks(20, (i) => pick(i, { dst: X }))).toEqual(new Array(20).fill(1)); // and the cache now says 1
  });

  it("caches at most 16384 destinations; when full, frees entries idle for 6 min", () => {
    const t0 = 50_000_000;
    tick(t0);
    setup("lblc", [1, 1]);
    for (let i = 0; i < 16384; i++) expect(pick(0, { dst: dstAddr(i) })).toBe(0); // idle tie: first server
    const Z = "172.17.0.1", W = "172.17.0.2";
    expect(pick(0, { dst: Z })).toBe(0); // scheduled but not cached: every entry is in use
    conns(0, 1);
    expect(pick(0, { dst: Z })).toBe(1); // wlc again (a cached Z would have stayed on 0)
    expect(pick(0, { dst: dstAddr(77) })).toBe(0); // the old entries are intact
    tick(t0 + 6 * 60 * 1000); // ENTRY_TIMEOUT: the next miss sweeps stale entries out
    expect(pick(0, { dst: W })).toBe(1);
    conns(0, 0);
    conns(1, 1);
    expect(pick(0, { dst: W })).toBe(1); // W was cached (wlc alone would say 0)
    conns(0, 1);
    conns(1, 0); // now a cached destination answers 0 and an uncached one 1
    let still = 0; // entries in buckets the rover did not reach survive
    for (let i = 0; i < 16384; i += 97) if (pick(0, { dst: dstAddr(i) }) === 0) still++;
    expect(still).toBeGreaterThan(100);
  });

  it("is not overloaded while no server is below half its weight", () => {
    setup("lblc", [1, 1]);
    expect(pick(0, { dst: X })).toBe(0);
    conns(0, 5);
    conns(1, 1); // 1*2 < 1 is false: nobody is lightly loaded
    expect(pick(0, { dst: X })).toBe(0);
  });

  it("follows its server across a commit that removes another server", () => {
    setup("lblc", [1, 1, 1]);
    conns(0, 1);
    conns(1, 1);
    expect(pick(0, { dst: X })).toBe(2);
    dp.transaction((tx) => tx.deleteDest(KEY, { addr: rs(0), port: 80, fwd: "nat" }));
    expect(pick(0, { dst: X })).toBe(1); // rs(2), now at index 1
  });
});

describe("lblcr", () => {
  const X = "172.16.9.1", Y = "172.16.9.2";

  it("drops the most loaded member of a set unchanged for lblcr_expiration (24 h)", () => {
    const t0 = 5_000_000;
    tick(t0);
    setup("lblcr", [1, 1, 1]);
    expect(pick(0, { dst: X })).toBe(0);
    conns(0, 2);
    expect(pick(0, { dst: X })).toBe(1); // set {1, 0}, last modified at t0
    conns(0, 0);
    conns(1, 1);
    tick(t0 + DAY / 2);
    expect(pick(0, { dst: X })).toBe(0); // least-loaded member; the set is not changed
    tick(t0 + DAY + 1);
    expect(pick(0, { dst: X })).toBe(0); // now older than 24 h: member 1 (256 > 0) is dropped
    conns(0, 1); // members would tie at 256 and the newest (1) would win, had it stayed
    expect(pick(0, { dst: X })).toBe(0);
  });

  it("keeps a destination on its set and grows the set when the member is overloaded", () => {
    setup("lblcr", [1, 1, 1]);
    expect(pick(0, { dst: X })).toBe(0);
    conns(0, 1);
    expect(picks(20, (i) => pick(i, { dst: X }))).toEqual(new Array(20).fill(0));
    expect(pick(0, { dst: Y })).toBe(1);
    conns(0, 2); // overloaded in lblc's sense: wlc adds server 1 to X's set
    expect(pick(0, { dst: X })).toBe(1);
    conns(0, 0); // set {1 (newest), 0}, both idle: the newest wins the tie
    expect(pick(0, { dst: X })).toBe(1);
    conns(1, 1); // now 0 is the least-loaded member: X is served by both (lblc would stay on 1)
    expect(pick(0, { dst: X })).toBe(0);
    conns(0, 1); // members tie at 256; the newest (1) wins although wlc would pick idle server 2
    expect(picks(20, (i) => pick(i, { dst: X }))).toEqual(new Array(20).fill(1));
  });
});

describe("twos", () => {
  it("draws only positive weights, roughly in proportion", () => {
    setup("twos", [10, 0, 30]);
    const h = histogram(picks(8000, pick), 3);
    expect(h[1]).toBe(0);
    // Idle servers: the first draw always stands; P = (w0+1)/41 vs 30/41.
    expect(h[2] / h[0]).toBeGreaterThan(2.2);
    expect(h[2] / h[0]).toBeLessThan(3.4);
  });

  it("takes the less loaded of its two draws", () => {
    setup("twos", [10, 0, 30]);
    conns(2, 100); // server 2 loses whenever server 0 is one of the two draws
    const h = histogram(picks(8000, pick), 3);
    const p0 = h[0] / 8000; // 1 - (30/41)^2 ≈ 0.46
    expect(p0).toBeGreaterThan(0.4);
    expect(p0).toBeLessThan(0.53);
  });

  it("spreads over every usable server", () => {
    setup("twos", [1, 1, 1, 1]);
    const h = histogram(picks(4000, pick), 4);
    for (const c of h) expect(c).toBeGreaterThan(500);
  });
});
