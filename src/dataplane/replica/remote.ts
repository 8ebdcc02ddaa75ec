// The replicas' counters as the supervisor reads them. Each worker posts a
// snapshot of its counters every second (replica/worker.ts); readers of the
// control instance (ipvsadm -L --stats, the rate estimator, /metrics) get
// the control instance's figures plus the latest snapshot of every worker.
// Counters of a worker that died are kept (folded into `retired`), so totals
// never go backwards; its connections died with it.

import type { BatchStats, ConnEntry, Counters, DestCounters, DestSpec, Neighbour, ServiceKey } from "../dataplane.js";
import type { Family } from "../addr.js";
import type { LinkIoStats } from "../io.js";
import { destId, serviceId } from "./ops.js";

/** What a worker reports (structured-cloned: bigints survive). */
export interface Snapshot {
  services: [string, Counters][];
  /** serviceId + " " + destId */
  dests: [string, DestCounters][];
  drops: Record<string, bigint>;
  batch: BatchStats;
  conns: { 4: number; 6: number };
  neighbours: Neighbour[];
  links: LinkIoStats[];
}

const COUNTERS = ["conns", "inpkts", "outpkts", "inbytes", "outbytes"] as const;

export class RemoteStats {
  private readonly snaps = new Map<number, Snapshot>();
  private readonly retired: Snapshot = emptySnapshot();

  constructor(private readonly listConnections: (af?: Family) => Promise<ConnEntry[]>) {}

  /** Worker i's newest snapshot. */
  set(i: number, s: Snapshot): void { this.snaps.set(i, s); }

  /** Worker i is gone: its counters stay in the totals, its gauges (connections, neighbours) go. */
  retire(i: number): void {
    const s = this.snaps.get(i);
    if (!s) return;
    this.snaps.delete(i);
    const r = this.retired;
    r.services = mergeCounters(r.services, s.services);
    r.dests = mergeCounters(r.dests, s.dests.map(([k, d]) => [k, { ...d, activeconns: 0, inactconns: 0, persistconns: 0 }]));
    r.drops = this.sumDrops(r.drops, s.drops);
    r.batch = sumBatch(r.batch, s.batch);
    r.links = sumLinks(r.links, s.links.map((l) => ({ ...l })));
  }

  private all(): Snapshot[] { return [this.retired, ...this.snaps.values()]; }

  addService(key: ServiceKey, c: Counters): Counters {
    const id = serviceId(key);
    for (const s of this.all()) {
      const got = find(s.services, id);
      if (got) addInto(c, got);
    }
    return c;
  }

  addDest(key: ServiceKey, d: Pick<DestSpec, "addr" | "port">, c: DestCounters): DestCounters {
    const id = `${serviceId(key)} ${destId(d)}`;
    for (const s of this.all()) {
      const got = find(s.dests, id);
      if (!got) continue;
      addInto(c, got);
      c.activeconns += got.activeconns;
      c.inactconns += got.inactconns;
      c.persistconns += got.persistconns;
    }
    return c;
  }

  addDrops(d: Record<string, bigint>): Record<string, bigint> {
    for (const s of this.all()) this.sumDrops(d, s.drops);
    return d;
  }

  private sumDrops(into: Record<string, bigint>, from: Record<string, bigint>): Record<string, bigint> {
    for (const [k, v] of Object.entries(from)) into[k] = (into[k] ?? 0n) + v;
    return into;
  }

  addBatch(b: BatchStats): BatchStats {
    for (const s of this.all()) b = sumBatch(b, s.batch);
    return b;
  }

  connCount(af: Family): number {
    let n = 0;
    for (const s of this.snaps.values()) n += s.conns[af];
    return n;
  }

  /** Neighbours as worker 0 (the one that answers ARP and ND requests) knows them. */
  neighbours(): Neighbour[] {
    return this.snaps.get(0)?.neighbours ?? [];
  }

  /** The workers' per-link counters, summed per link. */
  links(): LinkIoStats[] {
    let out: LinkIoStats[] = [];
    for (const s of this.all()) out = sumLinks(out, s.links);
    return out;
  }

  connections(af?: Family): Promise<ConnEntry[]> { return this.listConnections(af); }

  /** Frames worker i took in since it (last) started, as of its newest snapshot. */
  framesIn(i: number): bigint { return this.snaps.get(i)?.batch.framesIn ?? 0n; }

  /** ipvsadm -Z: what the snapshots hold of these counters reads zero until the workers' next ones. */
  zero(key?: ServiceKey): void {
    const sid = key ? serviceId(key) : undefined;
    for (const s of this.all()) {
      for (const [k, c] of s.services) if (!sid || k === sid) zeroCounters(c);
      for (const [k, c] of s.dests) if (!sid || k.startsWith(`${sid} `)) zeroCounters(c);
    }
  }
}

export function emptySnapshot(): Snapshot {
  return { services: [], dests: [], drops: {}, batch: { batches: 0n, framesIn: 0n, framesTx: 0n, framesLocal: 0n }, conns: { 4: 0, 6: 0 }, neighbours: [], links: [] };
}

// Snapshots are looked up by key for every service on every read: index them lazily.
const indexes = new WeakMap<object, Map<string, unknown>>();
function find<T>(list: [string, T][], id: string): T | undefined {
  let ix = indexes.get(list) as Map<string, T> | undefined;
  if (!ix) indexes.set(list, (ix = new Map(list)));
  return ix.get(id);
}

function addInto(c: Counters, d: Counters): void {
  for (const k of COUNTERS) c[k] += d[k];
}

function zeroCounters(c: Counters): void {
  for (const k of COUNTERS) c[k] = 0n;
}

function mergeCounters<T extends Counters>(a: [string, T][], b: [string, T][]): [string, T][] {
  const m = new Map(a.map(([k, v]) => [k, { ...v }] as [string, T]));
  for (const [k, v] of b) {
    const cur = m.get(k);
    if (cur) addInto(cur, v);
    else m.set(k, { ...v });
  }
  return [...m];
}

function sumBatch(a: BatchStats, b: BatchStats): BatchStats {
  return { batches: a.batches + b.batches, framesIn: a.framesIn + b.framesIn, framesTx: a.framesTx + b.framesTx, framesLocal: a.framesLocal + b.framesLocal };
}

function sumLinks(into: LinkIoStats[], from: LinkIoStats[]): LinkIoStats[] {
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
