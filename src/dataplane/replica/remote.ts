// The replicas' counters as the supervisor reads them. Each worker posts a
// snapshot of its counters every second (replica/worker.ts); readers of the
// control instance (ipvsadm -L --stats, the rate estimator, /metrics) get
// the control instance's figures plus the latest snapshot of every worker.
// Counters of a worker that died are kept (folded into `retired`), so totals
// never go backwards; its connections died with it.
//
// A snapshot's per-service and per-real-server counters are one
// BigUint64Array (STRIDE values per entry, transferred, not copied), laid
// out in the order of the configuration the worker had applied (state.ts
// layout()); the supervisor reads it with the index of that same layout.
// 110 k real servers as objects took a worker 100–150 ms to post each second.

import type { BatchStats, ConnEntry, Counters, DestCounters, DestSpec, Neighbour, ServiceKey } from "../dataplane.js";
import type { Family } from "../addr.js";
import type { LinkIoStats } from "../io.js";
import { destId, serviceId } from "./ops.js";

/** Values per entry: conns, inpkts, outpkts, inbytes, outbytes, then (real servers) active, inactive, persistent. */
export const STRIDE = 8;

/** What a worker reports (structured-cloned; `values` transferred). */
export interface Snapshot {
  /** The last change the worker had applied: `values` follows the layout as of then. */
  seq: number;
  values: BigUint64Array;
  drops: Record<string, bigint>;
  /** The neighbour queue's counters (DataPlane.neighQueueStats; `held` is a gauge). */
  neighQueue: Record<string, bigint>;
  batch: BatchStats;
  conns: { 4: number; 6: number };
  neighbours: Neighbour[];
  links: LinkIoStats[];
}

/** A layout (entry numbers by "serviceId" / "serviceId destId") and the change that made it. */
export interface Layout { seq: number; index: Map<string, number>; }

interface Held { snap: Snapshot; index: Map<string, number>; }

interface Retired {
  entries: Map<string, bigint[]>;
  drops: Record<string, bigint>;
  neighQueue: Record<string, bigint>;
  batch: BatchStats;
  links: LinkIoStats[];
}

export class RemoteStats {
  private readonly held = new Map<number, Held>();
  private readonly retired: Retired = { entries: new Map(), drops: {}, neighQueue: {}, batch: zeroBatch(), links: [] };

  constructor(
    private readonly listConnections: (af?: Family) => Promise<ConnEntry[]>,
    /** The current layout (cached by its caller until the services change). */
    private readonly layout: () => Layout,
  ) {}

  /**
   * Worker i's newest snapshot; one taken under an older layout than the
   * current one is dropped (the next comes within a second), so an entry
   * number always means what the worker meant.
   */
  set(i: number, s: Snapshot): boolean {
    const l = this.layout();
    if (s.seq < l.seq) return false;
    this.held.set(i, { snap: s, index: l.index });
    return true;
  }

  /** Worker i is gone: its counters stay in the totals, its gauges (connections, neighbours) go. */
  retire(i: number): void {
    const h = this.held.get(i);
    if (!h) return;
    this.held.delete(i);
    const r = this.retired;
    for (const [key, k] of h.index) {
      const add = h.snap.values.subarray(k * STRIDE, k * STRIDE + 5);
      const cur = r.entries.get(key);
      if (cur) for (let j = 0; j < 5; j++) cur[j] += add[j];
      else r.entries.set(key, [...add]);
    }
    sumDrops(r.drops, h.snap.drops);
    const { held: _gauge, ...counters } = h.snap.neighQueue ?? {}; // what a dead worker held is gone
    sumDrops(r.neighQueue, counters);
    r.batch = sumBatch(r.batch, h.snap.batch);
    r.links = sumLinks(r.links, h.snap.links);
  }

  /** Adds the counters of entry key (the five running totals; with gauges, the three connection counts too). */
  private add(key: string, c: Counters, gauges?: DestCounters): void {
    for (const { snap, index } of this.held.values()) {
      const k = index.get(key);
      if (k === undefined) continue;
      const v = snap.values, o = k * STRIDE;
      c.conns += v[o]; c.inpkts += v[o + 1]; c.outpkts += v[o + 2]; c.inbytes += v[o + 3]; c.outbytes += v[o + 4];
      if (gauges) {
        gauges.activeconns += Number(v[o + 5]);
        gauges.inactconns += Number(v[o + 6]);
        gauges.persistconns += Number(v[o + 7]);
      }
    }
    const r = this.retired.entries.get(key);
    if (r) { c.conns += r[0]; c.inpkts += r[1]; c.outpkts += r[2]; c.inbytes += r[3]; c.outbytes += r[4]; }
  }

  addService(key: ServiceKey, c: Counters): Counters {
    this.add(serviceId(key), c);
    return c;
  }

  addDest(key: ServiceKey, d: Pick<DestSpec, "addr" | "port">, c: DestCounters): DestCounters {
    this.add(`${serviceId(key)} ${destId(d)}`, c, c);
    return c;
  }

  addDrops(d: Record<string, bigint>): Record<string, bigint> {
    sumDrops(d, this.retired.drops);
    for (const { snap } of this.held.values()) sumDrops(d, snap.drops);
    return d;
  }

  addNeighQueue(q: Record<string, bigint>): Record<string, bigint> {
    sumDrops(q, this.retired.neighQueue);
    for (const { snap } of this.held.values()) sumDrops(q, snap.neighQueue ?? {});
    return q;
  }

  addBatch(b: BatchStats): BatchStats {
    b = sumBatch(b, this.retired.batch);
    for (const { snap } of this.held.values()) b = sumBatch(b, snap.batch);
    return b;
  }

  connCount(af: Family): number {
    let n = 0;
    for (const { snap } of this.held.values()) n += snap.conns[af];
    return n;
  }

  /** Neighbours as worker 0 (the one that answers ARP and ND requests) knows them. */
  neighbours(): Neighbour[] {
    return this.held.get(0)?.snap.neighbours ?? [];
  }

  /** The workers' per-link counters, summed per link. */
  links(): LinkIoStats[] {
    let out = sumLinks([], this.retired.links);
    for (const { snap } of this.held.values()) out = sumLinks(out, snap.links);
    return out;
  }

  connections(af?: Family): Promise<ConnEntry[]> { return this.listConnections(af); }

  /** Frames worker i took in since it (last) started, as of its newest snapshot. */
  framesIn(i: number): bigint { return this.held.get(i)?.snap.batch.framesIn ?? 0n; }

  /** ipvsadm -Z: what the snapshots hold of these counters reads zero until the workers' next ones. */
  zero(key?: ServiceKey): void {
    const sid = key ? serviceId(key) : undefined;
    const mine = (k: string) => !sid || k === sid || k.startsWith(`${sid} `);
    for (const { snap, index } of this.held.values()) {
      for (const [k, i] of index) if (mine(k)) snap.values.fill(0n, i * STRIDE, i * STRIDE + 5);
    }
    for (const [k, v] of this.retired.entries) if (mine(k)) v.fill(0n);
  }
}

function zeroBatch(): BatchStats {
  return { batches: 0n, framesIn: 0n, framesTx: 0n, framesLocal: 0n, framesHeld: 0n };
}

function sumDrops(into: Record<string, bigint>, from: Record<string, bigint>): void {
  for (const [k, v] of Object.entries(from)) into[k] = (into[k] ?? 0n) + v;
}

function sumBatch(a: BatchStats, b: BatchStats): BatchStats {
  return { batches: a.batches + b.batches, framesIn: a.framesIn + b.framesIn, framesTx: a.framesTx + b.framesTx, framesLocal: a.framesLocal + b.framesLocal, framesHeld: a.framesHeld + b.framesHeld };
}

/** Link counters summed per link: into's links (copied), plus from's added to them or appended. */
export function sumLinks(into: LinkIoStats[], from: LinkIoStats[]): LinkIoStats[] {
  const out = into.map((l) => ({ ...l, counters: { ...l.counters } }));
  for (const l of from) {
    const cur = out.find((x) => x.dev === l.dev);
    if (!cur) { out.push({ ...l, counters: { ...l.counters } }); continue; }
    cur.ringDrops += l.ringDrops;
    cur.ringFreezes += l.ringFreezes;
    cur.tapDrops += l.tapDrops;
    for (const [k, v] of Object.entries(l.counters)) cur.counters[k] = (cur.counters[k] ?? 0n) + v;
  }
  return out;
}
