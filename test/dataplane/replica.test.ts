// The workers' replicas without threads: the ops a data plane mirrors rebuild
// the same configuration in another instance, the state kept beside them
// compacts a long history into the ops that build it, and the steering
// inputs (NAT real servers, address-only mode) follow the configuration.

import { describe, it, expect } from "vitest";
import fc from "fast-check";
import { DataPlane, type DataPlaneApi, type ServiceKey, type FwdName } from "../../src/dataplane/dataplane.js";
import { applyOp, type DpOp } from "../../src/dataplane/replica/ops.js";
import { MirrorState, opWeight } from "../../src/dataplane/replica/state.js";
import { WorkerPool } from "../../src/dataplane/replica/pool.js";
import { RemoteStats, STRIDE } from "../../src/dataplane/replica/remote.js";
import { ReplicatedDataPlane } from "../../src/dataplane/replica/replicated.js";
import { logger } from "../../src/log.js";
import { arp } from "../helpers/frames.js";

const noPause = { due: () => false, next: async () => {} };
const load = () => DataPlane.load({ connCapacity: 1024, connCapacity6: 256, seed: 7 });

/** dp mirrors what succeeded on local (the control instance) into ops and state; no workers. */
async function mirrored(): Promise<{ dp: ReplicatedDataPlane; local: DataPlane; ops: DpOp[]; state: MirrorState }> {
  const local = await load();
  const ops: DpOp[] = [];
  const state = new MirrorState();
  const remote = new RemoteStats(async () => [], () => ({ seq: 0, index: new Map() }));
  const dp = new ReplicatedDataPlane(local, (op) => { ops.push(op); state.apply(op); }, remote);
  return { dp, local, ops, state };
}

/** What can be read back of a configuration: services with their real servers (by destStats), neighbours, timeouts. */
function readBack(dp: DataPlaneApi, state: MirrorState): string {
  const lines: string[] = [`services ${dp.serviceCount()}`, JSON.stringify(dp.getTimeouts())];
  for (const s of state.services.values()) {
    for (const d of s.dests.values()) {
      const c = dp.destStats(s.key, d);
      lines.push(`${JSON.stringify(s.key)} ${d.addr}:${d.port} ${c.available}`);
    }
  }
  lines.push(...dp.neighbours().map((n) => JSON.stringify(n)).sort());
  return lines.join("\n");
}

const VIPS = ["198.18.100.1", "198.18.100.2", "198.18.100.3"];
const REALS = ["198.19.0.11", "198.19.0.12", "198.19.0.13", "198.19.0.14"];
const FWDS: FwdName[] = ["nat", "dr", "tun"];

type Step =
  | { k: "addSvc"; vip: number; persistent: boolean }
  | { k: "delSvc"; vip: number }
  | { k: "addDest"; vip: number; rs: number; fwd: number }
  | { k: "editDest"; vip: number; rs: number; weight: number }
  | { k: "delDest"; vip: number; rs: number }
  | { k: "flush" };

const step: fc.Arbitrary<Step> = fc.oneof(
  fc.record({ k: fc.constant("addSvc" as const), vip: fc.nat(2), persistent: fc.boolean() }),
  fc.record({ k: fc.constant("delSvc" as const), vip: fc.nat(2) }),
  fc.record({ k: fc.constant("addDest" as const), vip: fc.nat(2), rs: fc.nat(3), fwd: fc.nat(2) }),
  fc.record({ k: fc.constant("editDest" as const), vip: fc.nat(2), rs: fc.nat(3), weight: fc.nat(5) }),
  fc.record({ k: fc.constant("delDest" as const), vip: fc.nat(2), rs: fc.nat(3) }),
  fc.constant({ k: "flush" as const }),
);

const key = (vip: number): ServiceKey => ({ proto: "tcp", addr: VIPS[vip], port: 80 });

/** Runs a step as the console would; a change the data plane refuses mirrors nothing. */
function run(dp: DataPlaneApi, s: Step, fwdOf: Map<string, FwdName>): void {
  try {
    dp.transaction((tx) => {
      switch (s.k) {
        case "addSvc": tx.addService(key(s.vip), { scheduler: "rr", persistent: s.persistent ? 60 : undefined }); break;
        case "delSvc": tx.deleteService(key(s.vip)); break;
        case "addDest": tx.addDest(key(s.vip), { addr: REALS[s.rs], port: 80, fwd: FWDS[s.fwd] }); fwdOf.set(`${s.vip} ${s.rs}`, FWDS[s.fwd]); break;
        case "editDest": tx.editDest(key(s.vip), { addr: REALS[s.rs], port: 80, fwd: fwdOf.get(`${s.vip} ${s.rs}`) ?? "nat", weight: s.weight }); break;
        case "delDest": tx.deleteDest(key(s.vip), { addr: REALS[s.rs], port: 80 }); break;
        case "flush": tx.flush(); break;
      }
    });
  } catch { /* refused: nothing changed, nothing mirrored */ }
}

describe("replicas", () => {
  it("the mirrored ops, replayed, and the compacted state both rebuild the same configuration", async () => {
    const base = await mirrored();
    base.dp.setLink(0, { mac: "02:00:00:00:00:01" });
    base.dp.setLink(1, { mac: "02:00:00:00:01:01" });
    base.dp.addAddress(0, "198.18.0.1/24");
    base.dp.addAddress(1, "198.19.0.1/24");
    base.dp.setNeighbour(1, REALS[0], "02:00:00:00:01:11");
    base.dp.setTimeouts({ tcp: 900 });
    await fc.assert(fc.asyncProperty(fc.array(step, { minLength: 1, maxLength: 40 }), async (steps) => {
      const a = await mirrored();
      for (const op of base.ops) await applyOp(a.dp, op, noPause); // mirrored again by a.dp
      const fwdOf = new Map<string, FwdName>();
      for (const s of steps) run(a.dp, s, fwdOf);
      const replayed = await load();
      for (const op of a.ops) await applyOp(replayed, op, noPause);
      const compacted = await load();
      for (const op of a.state.snapshotOps()) await applyOp(compacted, op, noPause);
      const want = readBack(a.local, a.state);
      expect(readBack(replayed, a.state)).toBe(want);
      expect(readBack(compacted, a.state)).toBe(want);
      // Steering inputs: NAT real servers in use, address-only while a persistent service exists.
      const nat = new Set<string>(), persistent = [...a.state.services.values()].some((x) => x.spec.persistent);
      for (const x of a.state.services.values()) for (const d of x.dests.values()) if (d.fwd === "nat") nat.add(d.addr);
      expect(a.state.natReals()).toEqual([...nat].sort());
      expect(a.state.byAddressOnly()).toBe(persistent);
    }), { numRuns: 40 });
  });

  it("a worker receives an address's flip to standby and back, and a restarted worker replays it from the state", async () => {
    const { dp, ops, state } = await mirrored();
    dp.setLink(0, { mac: "02:00:00:00:00:01" });
    dp.addAddress(0, "198.18.0.1/24");
    dp.addAddress(0, "198.18.100.1/32");
    dp.addAddress(0, "2001:db8:100::1/128");
    dp.setAddressOwned(0, "198.18.100.1", false);
    dp.setAddressOwned(0, "2001:db8:100:0::1", false);
    expect(ops.filter((o) => o.m === "setAddressOwned")).toEqual([
      { m: "setAddressOwned", a: [0, "198.18.100.1", false] },
      { m: "setAddressOwned", a: [0, "2001:db8:100:0::1", false] },
    ]);
    // Who answers ARP for the VIP and for the link's own address: a reply (1), or a drop (0) and its reason.
    const who = (x: DataPlane, tpa: string) => {
      const b = x.createBatch(1, 2048);
      b.set(0, arp({ op: 1, sha: "02:00:00:00:00:10", spa: "198.18.0.10", tpa }), 0);
      b.run(1000);
      const r = b.result(0);
      return r.verdict === 0 ? ["none", ...x.dropReasons][r.reason] : r.verdict;
    };
    const worker = await load();
    for (const op of ops) await applyOp(worker, op, noPause);
    expect([who(worker, "198.18.100.1"), who(worker, "198.18.0.1")]).toEqual(["vip_standby", 1]);
    const restarted = await load();
    for (const op of state.snapshotOps()) await applyOp(restarted, op, noPause);
    expect([who(restarted, "198.18.100.1"), who(restarted, "198.18.0.1")]).toEqual(["vip_standby", 1]);
    expect(state.snapshotOps().filter((o) => o.m === "setAddressOwned").length).toBe(2);

    dp.setAddressOwned(0, "198.18.100.1", true);
    await applyOp(worker, ops[ops.length - 1], noPause);
    expect(who(worker, "198.18.100.1")).toBe(1);
    const again = await load();
    for (const op of state.snapshotOps()) await applyOp(again, op, noPause);
    expect(who(again, "198.18.100.1")).toBe(1);
    expect(state.snapshotOps().filter((o) => o.m === "setAddressOwned")).toEqual([{ m: "setAddressOwned", a: [0, "2001:db8:100::1", false] }]);
    // An address deleted (and added again) is owned: the state forgets its standby.
    dp.deleteAddress(0, "2001:db8:100::1/128");
    dp.addAddress(0, "2001:db8:100::1/128");
    expect(state.snapshotOps().filter((o) => o.m === "setAddressOwned")).toEqual([]);
    // A refused flip (no such address) mirrors nothing.
    const n = ops.length;
    expect(() => dp.setAddressOwned(0, "198.18.100.9", false)).toThrow();
    expect(ops.length).toBe(n);
  });

  it("the steering version moves only when the NAT real servers or the address-only mode change", async () => {
    const { dp, state } = await mirrored();
    const v = () => state.steerVersion;
    const v0 = v();
    dp.transaction((tx) => tx.addService(key(0), { scheduler: "rr" }));
    expect(v()).toBe(v0);
    dp.transaction((tx) => tx.addDest(key(0), { addr: REALS[0], port: 80, fwd: "dr" }));
    expect(v()).toBe(v0);
    dp.transaction((tx) => tx.addDest(key(0), { addr: REALS[1], port: 80, fwd: "nat" }));
    expect(v()).toBe(v0 + 1);
    dp.transaction((tx) => tx.editDest(key(0), { addr: REALS[1], port: 80, fwd: "nat", weight: 0 }));
    expect(v()).toBe(v0 + 1);
    dp.transaction((tx) => tx.addService(key(1), { scheduler: "rr", persistent: 30 }));
    expect([v(), state.byAddressOnly()]).toEqual([v0 + 2, true]);
    dp.transaction((tx) => tx.deleteService(key(0)));
    expect([v(), state.natReals()]).toEqual([v0 + 3, []]);
    dp.transaction((tx) => tx.flush());
    expect([v(), state.byAddressOnly()]).toEqual([v0 + 4, false]);
  });

  it("a long history of changes (a health check flapping a weight) stays bounded: the pool compacts it", async () => {
    const pool = new WorkerPool({ workers: 2, load: {}, io: {}, now: () => 0, log: logger("test") }); // never started: no threads
    const dp = pool.wrap(await load());
    dp.transaction((tx) => {
      for (let i = 0; i < 200; i++) {
        const k: ServiceKey = { proto: "tcp", addr: "198.18.100.1", port: 1000 + i };
        tx.addService(k, { scheduler: "wlc" });
        for (const rs of REALS) tx.addDest(k, { addr: rs, port: 80, fwd: "nat" });
      }
    });
    const k: ServiceKey = { proto: "tcp", addr: "198.18.100.1", port: 1000 };
    let most = 0;
    for (let i = 0; i < 30_000; i++) {
      dp.transaction((tx) => tx.editDest(k, { addr: REALS[0], port: 80, fwd: "nat", weight: i % 2 }));
      most = Math.max(most, pool.historyWeight);
    }
    // The state needs ~1,000 single operations; the history never holds more than the compaction threshold.
    expect(most).toBeLessThanOrEqual(10_001);
    expect(pool.historyWeight).toBeGreaterThan(1000);
    expect(opWeight({ m: "tx", ops: [] })).toBe(0);
  });
});

describe("the workers' counters (RemoteStats)", () => {
  const A: ServiceKey = { proto: "tcp", addr: "198.18.100.1", port: 80 };
  const B: ServiceKey = { proto: "udp", addr: "198.18.100.1", port: 53 };
  const a1 = { addr: REALS[0], port: 80 }, a2 = { addr: REALS[1], port: 80 };

  /** The supervisor's state for A (a1, a2) and B, the layout it makes, and a worker snapshot of it. */
  function setup() {
    const state = new MirrorState();
    state.apply({ m: "tx", ops: [
      { m: "addService", a: [A, { scheduler: "rr" }] }, { m: "addDest", a: [A, { ...a1, fwd: "nat" }] }, { m: "addDest", a: [A, { ...a2, fwd: "nat" }] },
      { m: "addService", a: [B, { scheduler: "rr" }] },
    ] });
    let layout = { seq: 5, index: state.layout() };
    const remote = new RemoteStats(async () => [], () => layout);
    const snap = (seq: number, fill: (v: BigUint64Array) => void) => {
      const values = new BigUint64Array(4 * STRIDE);
      fill(values);
      return { seq, values, drops: { no_service: 2n }, neighQueue: { queued: 3n, sent: 2n, held: 1n }, batch: { batches: 1n, framesIn: 10n, framesTx: 8n, framesLocal: 0n, framesHeld: 0n }, conns: { 4: 3, 6: 0 }, neighbours: [], links: [] };
    };
    return { remote, snap, setLayout: (seq: number) => { layout = { seq, index: state.layout() }; } };
  }
  const zero = () => ({ conns: 0n, inpkts: 0n, outpkts: 0n, inbytes: 0n, outbytes: 0n });
  const zeroDest = () => ({ ...zero(), activeconns: 0, inactconns: 0, persistconns: 0, available: true, overloaded: false });

  it("adds each worker's entries by the layout, drops a snapshot older than the layout, keeps a dead worker's totals", () => {
    const { remote, snap } = setup();
    // Entries: 0 A, 1 A a1, 2 A a2, 3 B.
    expect(remote.set(0, snap(5, (v) => { v[0] = 7n; v[2 * STRIDE] = 4n; v[2 * STRIDE + 5] = 2n; v[3 * STRIDE + 1] = 9n; }))).toBe(true);
    expect(remote.set(1, snap(6, (v) => { v[0] = 1n; v[2 * STRIDE] = 1n; v[2 * STRIDE + 5] = 1n; }))).toBe(true);
    expect(remote.addService(A, zero()).conns).toBe(8n);
    expect(remote.addService(B, zero()).inpkts).toBe(9n);
    expect(remote.addDest(A, a2, zeroDest())).toMatchObject({ conns: 5n, activeconns: 3 });
    expect(remote.addDest(A, a1, zeroDest()).conns).toBe(0n);
    expect(remote.set(1, snap(4, (v) => { v[0] = 100n; }))).toBe(false); // taken before the layout's change: dropped
    expect(remote.addService(A, zero()).conns).toBe(8n);
    expect(remote.connCount(4)).toBe(6);
    expect(remote.addDrops({}).no_service).toBe(4n);
    expect(remote.addNeighQueue({ queued: 1n, held: 0n })).toMatchObject({ queued: 7n, sent: 4n, held: 2n });
    remote.retire(1);
    expect(remote.addNeighQueue({})).toMatchObject({ queued: 6n, sent: 4n, held: 1n }); // a dead worker's counters stay, what it held is gone
    expect(remote.addService(A, zero()).conns).toBe(8n); // worker 1's 1 stays in the total
    expect(remote.addDest(A, a2, zeroDest())).toMatchObject({ conns: 5n, activeconns: 2 }); // its gauges go
    expect(remote.connCount(4)).toBe(3);
    expect(remote.addBatch({ batches: 0n, framesIn: 0n, framesTx: 0n, framesLocal: 0n, framesHeld: 0n }).framesIn).toBe(20n);
    remote.zero(A);
    expect(remote.addService(A, zero()).conns).toBe(0n);
    expect(remote.addService(B, zero()).inpkts).toBe(9n);
  });

  it("a snapshot laid out before a service came is not read with the new layout", () => {
    const { remote, snap, setLayout } = setup();
    remote.set(0, snap(5, (v) => { v[3 * STRIDE] = 3n; }));
    setLayout(9); // the services changed at change 9
    expect(remote.set(0, snap(8, (v) => { v[3 * STRIDE] = 99n; }))).toBe(false);
    expect(remote.addService(B, zero()).conns).toBe(3n); // still read with the layout it was taken under
  });
});
