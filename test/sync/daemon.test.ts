// The sync daemon (src/sync/daemon.ts) with fake data planes on a fake wire,
// on fake timers: bulk resync at start, changes, failover and failback,
// a lost message → resync, a restarted master, the change log's overflow,
// and hostile input (replays, wrong key, another sync id, unknown epoch,
// truncation, random bytes): counted, nothing installed, nothing thrown.

import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import fc from "fast-check";
import pino from "pino";
import { SyncDaemon, RESYNC_MIN_MS, type Role } from "../../src/sync/daemon.js";
import { buildSyncFrame, parseSyncFrame } from "../../src/sync/frame.js";
import { decodeMessage, encodeMessage, TYPE_BULK_REQUEST, TYPE_ENTRIES, TYPE_HEARTBEAT } from "../../src/sync/wire.js";
import { addSyncMetrics, syncMetricsText } from "../../src/sync/metrics.js";
import { Exposition } from "../../src/metrics/prometheus.js";
import { entries, KEY, OTHER_KEY } from "./helpers.js";
import { FakeDataPlane, FakeRole, Wire, type FakeLink } from "./fakes.js";

const silent = pino({ level: "silent" });
let seed = 1n;
const rnd = () => (seed = (seed * 6364136223846793005n + 1442695040888963407n) & ((1n << 64n) - 1n));

interface Node { dp: FakeDataPlane; role: FakeRole; link: FakeLink; d: SyncDaemon }

function node(wire: Wire, role: Role, n: number, o: { syncId?: number; key?: Uint8Array; log?: pino.Logger } = {}): Node {
  const dp = new FakeDataPlane();
  const r = new FakeRole(role);
  let d: SyncDaemon | undefined;
  const link = wire.link((f) => d!.receive(f));
  d = new SyncDaemon({
    dev: "eth1", instance: "VI_1", syncId: o.syncId ?? 0, key: o.key ?? KEY, dp, role: r, link,
    source: { mac: `02:00:00:00:00:0${n}`, addr: `198.18.0.${n}` }, mtu: 1500, now: () => 0, random64: rnd, log: o.log ?? silent,
  });
  return { dp, role: r, link, d };
}

const tick = (ms: number) => vi.advanceTimersByTimeAsync(ms);
const typeOf = (f: Uint8Array) => { const p = parseSyncFrame(f); return p.ok ? p.payload[5] : -1; };

let nodes: Node[] = [];
beforeEach(() => { vi.useFakeTimers(); nodes = []; });
afterEach(() => { for (const n of nodes) n.d.stop(); vi.useRealTimers(); });
function pair(o: { masterHas?: number } = {}) {
  const wire = new Wire();
  const a = node(wire, "MASTER", 1);
  if (o.masterHas) a.dp.seed(entries(o.masterHas));
  const b = node(wire, "BACKUP", 2);
  nodes.push(a, b);
  return { wire, a, b };
}

describe("SyncDaemon", () => {
  it("a backup that starts gets the whole table (a bulk of several messages), then the changes", async () => {
    const { a, b } = pair({ masterHas: 50 });
    expect(a.dp.on).toBe(true);
    expect(b.dp.on).toBe(false);
    await tick(100);
    expect(b.dp.ports()).toEqual(a.dp.ports());
    expect(b.d.stats()).toMatchObject({ synced: true, resyncPending: false, entriesInstalled: 50, resyncsRequested: 1 });
    expect(a.d.stats()).toMatchObject({ resyncsServed: 1, entriesSent: 50 });
    expect(a.d.stats().sent.entries).toBe(3); // 19 + 19 + 12
    expect(b.d.stats().boundEpoch).toBe(a.d.stats().epoch);

    a.dp.add(entries(3, 5000));
    await tick(60);
    expect(b.dp.ports()).toEqual(a.dp.ports());
    expect(b.dp.table.size).toBe(53);
    expect(b.d.stats().sequenceGaps).toBe(0);
    expect(Object.values(b.d.stats().rejected).reduce((x, y) => x + y, 0)).toBe(0);
  });

  it("retries its BULK_REQUEST until a master answers", async () => {
    const wire = new Wire();
    const b = node(wire, "BACKUP", 2);
    nodes.push(b);
    await tick(1000);
    const requests = wire.captured.filter((f) => typeOf(f) === TYPE_BULK_REQUEST).length;
    expect(requests).toBeGreaterThanOrEqual(3); // 0, 200, 600 ms (backing off)
    expect(requests).toBeLessThanOrEqual(4);
    const a = node(wire, "MASTER", 1);
    nodes.push(a);
    a.dp.add(entries(4));
    await tick(7000);
    expect(b.dp.table.size).toBe(4);
    expect(b.d.stats().synced).toBe(true);
  });

  it("failover and failback: the connections made during the outage survive on the old master", async () => {
    const { a, b } = pair({ masterHas: 10 });
    await tick(100);
    // A fails (its VRRP goes FAULT); B takes over and gets new connections.
    a.role.set("FAULT");
    b.role.set("MASTER");
    expect(b.dp.on).toBe(true);
    expect(a.dp.on).toBe(false);
    b.dp.add(entries(5, 7000));
    await tick(100);
    // A comes back as BACKUP and asks for the bulk: it has B's new connections too.
    a.role.set("BACKUP");
    await tick(300);
    expect(a.dp.ports()).toEqual(b.dp.ports());
    expect(a.dp.table.size).toBe(15);
    // Preemption: A is MASTER again, B BACKUP; B resyncs from A.
    a.role.set("MASTER");
    b.role.set("BACKUP");
    a.dp.add(entries(2, 9000));
    await tick(300);
    expect(b.dp.table.size).toBe(17);
    expect(b.d.stats()).toMatchObject({ role: "BACKUP", synced: true });
  });

  it("a lost message is a counted gap and a resync", async () => {
    const { wire, a, b } = pair({ masterHas: 2 });
    await tick(RESYNC_MIN_MS + 100); // past the rate limit of the start's resync
    let dropNext = true;
    wire.drop = (f) => {
      if (dropNext && typeOf(f) === TYPE_ENTRIES) { dropNext = false; return true; }
      return false;
    };
    a.dp.add(entries(1, 100));
    await tick(30);
    expect(b.dp.table.has(100)).toBe(false);
    a.dp.add(entries(1, 200));
    await tick(200);
    expect(b.d.stats().sequenceGaps).toBe(1);
    expect(b.d.stats().resyncsRequested).toBe(2);
    expect(b.dp.table.has(100)).toBe(true); // through the resync's bulk
    expect(b.dp.table.has(200)).toBe(true);
  });

  it("a message lost inside a bulk makes the bulk incomplete: asked again, then in sync", async () => {
    const wire = new Wire();
    const a = node(wire, "MASTER", 1);
    a.dp.seed(entries(60));
    let dropped = 0;
    wire.drop = (f) => typeOf(f) === TYPE_ENTRIES && dropped++ === 1; // the bulk's second message
    const b = node(wire, "BACKUP", 2);
    nodes.push(a, b);
    await tick(100);
    expect(b.d.stats()).toMatchObject({ synced: false, sequenceGaps: 1, resyncsRequested: 1 });
    expect(b.dp.table.size).toBe(60 - 19);
    await tick(RESYNC_MIN_MS);
    expect(b.d.stats()).toMatchObject({ synced: true, resyncsRequested: 2 });
    expect(b.dp.table.size).toBe(60);
  });

  it("a lost last message shows on the next heartbeat", async () => {
    const { wire, a, b } = pair({ masterHas: 1 });
    await tick(100);
    wire.drop = (f) => typeOf(f) === TYPE_ENTRIES;
    a.dp.add(entries(1, 300));
    await tick(50);
    wire.drop = () => false;
    expect(b.dp.table.has(300)).toBe(false);
    await tick(1200);
    expect(wire.captured.some((f) => typeOf(f) === TYPE_HEARTBEAT)).toBe(true);
    expect(b.d.stats().sequenceGaps).toBe(1);
    expect(b.dp.table.has(300)).toBe(true);
  });

  it("a restarted master (a new epoch) is bound by a new resync; its old epoch is no longer taken", async () => {
    const { wire, a, b } = pair({ masterHas: 3 });
    await tick(RESYNC_MIN_MS + 100);
    const oldEpoch = a.d.epoch;
    const oldFrames = wire.captured.slice();
    a.d.stop();
    const a2 = node(wire, "MASTER", 1);
    nodes.push(a2);
    a2.dp.add(entries(4, 4000));
    a2.dp.add(entries(1, 4100)); // logged: sent as ENTRIES of the new epoch
    await tick(100);
    expect(b.d.stats().rejected.unbound_epoch).toBeGreaterThanOrEqual(1);
    expect(b.d.stats().boundEpoch).toBe(a2.d.stats().epoch);
    expect(b.dp.table.has(4000) && b.dp.table.has(4100)).toBe(true);
    // The old master's frames, replayed, install nothing.
    const calls = b.dp.installCalls;
    for (const f of oldFrames) b.link.inject(f);
    await tick(10);
    expect(b.dp.installCalls).toBe(calls);
    expect(b.d.stats().boundEpoch).not.toBe(oldEpoch.toString(16).padStart(16, "0"));
  });

  it("a change made during a bulk reaches the backup after the bulk's older entry for the same connection", async () => {
    const wire = new Wire();
    const a = node(wire, "MASTER", 1);
    a.dp.seed(entries(200));
    const newer = entries(1, 1199); // the last connection of the export (the bulk's last message)
    newer[3] = 2; // another state
    // The export is the table at the bulk's start; the change lands while the bulk is on the wire,
    // which a full TX ring holds up past a flush tick.
    const exportNow = a.dp.exportConnections.bind(a.dp);
    a.dp.exportConnections = async () => { const t = await exportNow(); a.dp.add(newer); a.link.busy = 20; return t; };
    const b = node(wire, "BACKUP", 2);
    nodes.push(a, b);
    await tick(200);
    expect(b.d.stats().synced).toBe(true);
    expect(b.dp.table.get(1199)![3]).toBe(2);
  });

  it("a full TX ring delays frames, in sequence order, instead of losing them", async () => {
    const { a, b } = pair({ masterHas: 100 });
    a.link.busy = 30; // the bulk's first frames wait for room
    await tick(500);
    expect(b.dp.table.size).toBe(100);
    expect(b.d.stats()).toMatchObject({ synced: true, sequenceGaps: 0, resyncsRequested: 1 });
    expect(a.d.stats().txFailures).toBe(0);
    a.link.busy = 1000; // more than SEND_TRIES: given up, counted
    a.dp.add(entries(1, 8000));
    await tick(300);
    expect(a.d.stats().txFailures).toBeGreaterThan(0);
  });

  it("the change log's overflow sends the whole table again", async () => {
    const { a, b } = pair({ masterHas: 5 });
    await tick(100);
    b.dp.table.clear(); // as if the backup had missed them
    a.dp.lost = 7;
    await tick(60);
    expect(a.d.stats()).toMatchObject({ lostLogEntries: 7, refreshes: 1 });
    expect(b.dp.table.size).toBe(5);
  });

  describe("hostile input: counted, nothing installed, never a throw", () => {
    it("replayed frames, a wrong key, another sync id, truncation, random bytes", async () => {
      const { wire, a, b } = pair({ masterHas: 3 });
      await tick(100);
      a.dp.add(entries(2, 600));
      await tick(60);
      const before = b.d.stats();
      const calls = b.dp.installCalls;
      const fromA = wire.captured.filter((f) => typeOf(f) === TYPE_ENTRIES);
      expect(fromA.length).toBeGreaterThan(0);
      for (const f of fromA) b.link.inject(f);
      const mk = (key: Uint8Array, syncId: number, seq: bigint) => buildSyncFrame(
        encodeMessage({ type: TYPE_ENTRIES, syncId, epoch: a.d.epoch, seq, nonce: 0n, entries: entries(1, 9999) }, key),
        { mac: "02:00:00:00:00:01", addr: "198.18.0.1" });
      b.link.inject(mk(OTHER_KEY, 0, 1000n));
      b.link.inject(mk(KEY, 3, 1000n));
      const good = mk(KEY, 0, 1000n);
      b.link.inject(good.subarray(0, good.length - 20));
      b.link.inject(new Uint8Array(0));
      fc.assert(fc.property(fc.uint8Array({ maxLength: 300 }), (x) => { b.link.inject(x); }), { numRuns: 300 });
      await tick(10);
      const s = b.d.stats();
      expect(b.dp.installCalls).toBe(calls);
      expect(b.dp.table.has(9999)).toBe(false);
      expect(s.rejected.replayed - before.rejected.replayed).toBe(fromA.length);
      expect(s.rejected.mac).toBe(1);
      expect(s.rejected.sync_id).toBe(1);
      expect(s.rejected.frame).toBeGreaterThanOrEqual(302); // the cut frame's UDP length, empty, random
      expect(s.entriesInstalled).toBe(before.entriesInstalled);
      // The good frame itself, sequence 1000 of the bound epoch, is taken (the MAC proves it is the master's).
      b.link.inject(good);
      await tick(10);
      expect(b.dp.table.has(9999)).toBe(true);
    });

    it("authenticated messages of random type, epoch, sequence and nonce: only the bound epoch's fresh ENTRIES install", async () => {
      const { a, b } = pair({ masterHas: 1 });
      await tick(100);
      const stranger = 0x7777n;
      let fresh = 1_000_000n;
      await fc.assert(fc.asyncProperty(fc.array(fc.record({
        type: fc.integer({ min: 0, max: 7 }), ours: fc.boolean(), seq: fc.bigInt({ min: 0n, max: (1n << 64n) - 1n }),
        nonce: fc.bigInt({ min: 0n, max: 3n }), freshSeq: fc.boolean(),
      }), { maxLength: 20 }), async (ms) => {
        for (const m of ms) {
          const epoch = m.ours ? a.d.epoch : stranger;
          // Entries from a stranger are marked (port 31000) and must never install.
          const ents = m.type === TYPE_ENTRIES ? entries(1, m.ours ? 20000 : 31000) : new Uint8Array(0);
          const seq = m.ours && m.freshSeq ? ++fresh : m.seq;
          const enc = m.type >= 1 && m.type <= 5 ? encodeMessage({ type: m.type, syncId: 0, epoch, seq, nonce: m.nonce, entries: ents }, KEY) : new Uint8Array(60);
          b.link.inject(buildSyncFrame(enc, { mac: "02:00:00:00:00:01", addr: "198.18.0.1" }));
        }
        await b.d.settled();
        expect(b.dp.table.has(31000)).toBe(false);
      }), { numRuns: 100 });
      expect(b.d.stats().boundEpoch).toBe(a.d.stats().epoch);
    });

    it("a flood from an unbound epoch asks for at most one resync a second", async () => {
      const { a, b } = pair({ masterHas: 1 });
      await tick(100);
      const base = b.d.stats().resyncsRequested;
      const stranger = (seq: bigint) => buildSyncFrame(
        encodeMessage({ type: TYPE_ENTRIES, syncId: 0, epoch: 0x5151n, seq, nonce: 0n, entries: entries(1, 31337) }, KEY),
        { mac: "02:00:00:00:00:09", addr: "198.18.0.9" });
      for (let i = 1n; i <= 200n; i++) b.link.inject(stranger(i));
      await tick(RESYNC_MIN_MS - 100);
      for (let i = 201n; i <= 400n; i++) b.link.inject(stranger(i));
      await tick(50);
      expect(b.d.stats().rejected.unbound_epoch).toBe(400);
      expect(b.d.stats().resyncsRequested - base).toBe(1);
      expect(b.dp.table.has(31337)).toBe(false);
      expect(b.d.stats().boundEpoch).toBe(a.d.stats().epoch);
    });

    it("our own frames and a peer that is also master are refused", async () => {
      const wire = new Wire();
      const a = node(wire, "MASTER", 1);
      const c = node(wire, "MASTER", 3);
      nodes.push(a, c);
      a.dp.add(entries(2));
      c.dp.add(entries(2, 50));
      await tick(100);
      const own = wire.captured.find((f) => { const p = parseSyncFrame(f); if (!p.ok) return false; const d = decodeMessage(p.payload, KEY, 0); return d.ok && d.msg.epoch === a.d.epoch; })!;
      a.link.inject(own);
      expect(a.d.stats().rejected.own).toBe(1);
      await tick(1100); // heartbeats of the other master
      expect(a.d.stats().rejected.role).toBeGreaterThan(0);
      expect(a.dp.table.size).toBe(2);
    });
  });

  it("a key mismatch is one log line per interval with the count, not one per frame", async () => {
    const lines: Record<string, unknown>[] = [];
    const log = pino({ level: "info" }, { write: (l: string) => { lines.push(JSON.parse(l)); } });
    const wire = new Wire();
    const a = node(wire, "MASTER", 1, { key: OTHER_KEY });
    const b = node(wire, "BACKUP", 2, { log });
    nodes.push(a, b);
    a.dp.seed(entries(1));
    for (let i = 0; i < 100; i++) b.link.inject(buildSyncFrame(encodeMessage({ type: TYPE_HEARTBEAT, syncId: 0, epoch: 1n, seq: BigInt(i + 1), nonce: 0n, entries: new Uint8Array(0) }, OTHER_KEY), { mac: "02:00:00:00:00:01", addr: "198.18.0.1" }));
    await tick(100);
    const macLines = () => lines.filter((l) => String(l.msg).includes("wrong MAC"));
    expect(macLines()).toHaveLength(1);
    expect(b.d.stats().rejected.mac).toBeGreaterThanOrEqual(100);
    expect(a.d.stats().rejected.mac).toBeGreaterThanOrEqual(1); // B's BULK_REQUESTs, under B's key
    expect(b.dp.table.size).toBe(0);
    await tick(10_000);
    expect(macLines()).toHaveLength(2);
    expect(macLines()[1].count).toBeGreaterThan(0);
  });

  it("renders its Prometheus families", async () => {
    const { b } = pair({ masterHas: 2 });
    await tick(100);
    const text = syncMetricsText(b.d.stats());
    expect(text).toContain("# TYPE weir_sync_messages_rejected_total counter");
    expect(text).toContain('weir_sync_role{dev="eth1",instance="VI_1",sync_id="0",role="BACKUP"} 1');
    expect(text).toContain('weir_sync_entries_installed_total{dev="eth1",instance="VI_1",sync_id="0"} 2');
    expect(text).toContain('weir_sync_messages_received_total{dev="eth1",instance="VI_1",sync_id="0",type="bulk_end"} 1');
    const x = new Exposition();
    addSyncMetrics(x, null);
    expect(x.text()).toContain("# HELP weir_sync_resyncs_requested_total");
    expect(x.text()).not.toMatch(/^weir_sync_/m);
  });
});
