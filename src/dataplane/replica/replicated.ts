// The data plane with worker threads (`weir run --workers N`), behind the
// same interface as one instance (DataPlaneApi): the control instance's
// binding (the supervisor's DataPlane) wrapped so that every change that
// succeeded there is mirrored to the workers (pool.ts), a transaction as one
// op after its commit, and every read adds the workers' figures (the newest
// snapshots they posted, remote.ts) to the control instance's.
//
// An op holds the caller's argument objects, as given: callers hand over
// fresh keys and specs (the config model does) and do not change them later.

import { applyChunked, checkRecords, joinBytes, type BatchStats, type ConnEntry, type ConnSyncStats, type Counters, type DataPlane, type DataPlaneApi, type DestCounters, type DestSpec, type FwdName, type Neighbour, type ServiceKey, type StagedTransaction, type Transaction } from "../dataplane.js";
import { templatesFirst } from "./syncroute.js";
import type { Family } from "../addr.js";
import type { Pause } from "../../util/yield.js";
import type { DpOp, TxOp } from "./ops.js";
import type { RemoteStats } from "./remote.js";

/** Connection sync with the workers (pool.ts): their logs, their tables, installs routed by the steering rule. */
export interface SyncPeers {
  take(): Promise<{ parts: Uint8Array[]; lost: number }>;
  exportAll(now: number): Promise<Uint8Array[]>;
  install(records: Uint8Array, now: number): Promise<{ installed: number; refused: number }>;
  stats(): ConnSyncStats;
}

export class ReplicatedDataPlane implements DataPlaneApi {
  constructor(
    /** The control instance: validates and commits first. */
    readonly local: DataPlane,
    /** Hands a change that succeeded on local to the workers. */
    private readonly mirror: (op: DpOp) => void,
    /** The workers' figures. */
    private readonly remote: RemoteStats,
    /** The workers' connection tables; absent: the control instance's alone. */
    private readonly peers?: SyncPeers,
  ) {}

  get schedulers(): string[] { return this.local.schedulers; }
  get dropReasons(): string[] { return this.local.dropReasons; }
  get busy(): boolean { return this.local.busy; }

  // ---- transactions: recorded as they run on local, mirrored after the commit ----

  beginTransaction(): StagedTransaction {
    const staged = this.local.beginTransaction();
    const rec: TxOp[] = [];
    return {
      ops: recording(staged.ops, rec),
      commit: () => {
        staged.commit();
        this.mirror({ m: "tx", ops: rec });
      },
      abort: () => staged.abort(),
    };
  }

  transaction(fn: (tx: Transaction) => void): void {
    const rec: TxOp[] = [];
    this.local.transaction((tx) => fn(recording(tx, rec)));
    this.mirror({ m: "tx", ops: rec });
  }

  transactionChunked(ops: ((tx: Transaction) => void)[], pause: Pause): Promise<void> {
    return applyChunked(this, ops, pause);
  }

  // ---- changes outside transactions ----

  setTimeouts(t: { tcp?: number; tcpfin?: number; udp?: number }): void {
    this.local.setTimeouts(t);
    this.mirror({ m: "setTimeouts", a: [t] });
  }
  setLink(id: number, l: { mac: string; mtu?: number; up?: boolean }): void {
    this.local.setLink(id, l);
    this.mirror({ m: "setLink", a: [id, l] });
  }
  deleteLink(id: number): void {
    this.local.deleteLink(id);
    this.mirror({ m: "deleteLink", a: [id] });
  }
  addAddress(link: number, cidr: string): void {
    this.local.addAddress(link, cidr);
    this.mirror({ m: "addAddress", a: [link, cidr] });
  }
  deleteAddress(link: number, addr: string): void {
    this.local.deleteAddress(link, addr);
    this.mirror({ m: "deleteAddress", a: [link, addr] });
  }
  setAddressOwned(link: number, addr: string, owned: boolean): void {
    this.local.setAddressOwned(link, addr, owned);
    this.mirror({ m: "setAddressOwned", a: [link, addr, owned] });
  }
  addRoute(prefix: string, r: { link: number; via?: string }): void {
    this.local.addRoute(prefix, r);
    this.mirror({ m: "addRoute", a: [prefix, r] });
  }
  deleteRoute(prefix: string): void {
    this.local.deleteRoute(prefix);
    this.mirror({ m: "deleteRoute", a: [prefix] });
  }
  setNeighbour(link: number, addr: string, mac: string, now = 0): void {
    this.local.setNeighbour(link, addr, mac, now);
    this.mirror({ m: "setNeighbour", a: [link, addr, mac] });
  }
  /** ipvsadm -Z: here, in the workers, and in what their last snapshots hold. */
  zeroStats(key?: ServiceKey): void {
    this.local.zeroStats(key);
    this.mirror({ m: "zeroStats", a: key ? [key] : [] });
    this.remote.zero(key);
  }

  // ---- reads: the control instance's figures plus the workers' ----

  getTimeouts(): { tcp: number; tcpfin: number; udp: number } { return this.local.getTimeouts(); }
  serviceCount(): number { return this.local.serviceCount(); }
  connTableSize(af?: Family): number { return this.local.connTableSize(af); }
  /** The control instance's own solicitation (its TX ring, kicked by the supervisor's packet I/O); each worker runs its own prober. */
  probeNeighbour(addr: string, now: number): number { return this.local.probeNeighbour(addr, now); }

  serviceStats(key: ServiceKey): Counters {
    return this.remote.addService(key, this.local.serviceStats(key));
  }
  destStats(key: ServiceKey, d: Pick<DestSpec, "addr" | "port"> & { fwd?: FwdName }): DestCounters {
    return this.remote.addDest(key, d, this.local.destStats(key, d));
  }
  /** Neighbours as worker 0 knows them (remote.ts): the workers resolve the next hops they forward to. */
  neighbours(): Neighbour[] { return this.remote.neighbours(); }
  drops(): Record<string, bigint> { return this.remote.addDrops(this.local.drops()); }
  neighQueueStats(): Record<string, bigint> { return this.remote.addNeighQueue(this.local.neighQueueStats()); }
  connCount(af: Family = 4): number { return this.local.connCount(af) + this.remote.connCount(af); }
  batchStats(): BatchStats { return this.remote.addBatch(this.local.batchStats()); }
  /** ipvsadm -L -c: the control instance's entries, then the workers' (asked at once). */
  async allConnections(now: number, af?: Family): Promise<ConnEntry[]> {
    const local = await this.local.allConnections(now, af);
    return local.concat(await this.remote.connections(af));
  }

  // ---- connection sync: the workers forward, so their tables are the ones that count ----

  /** Here and in every worker (a worker started later replays it: state.ts). */
  setConnSync(on: boolean): void {
    this.local.setConnSync(on);
    this.mirror({ m: "setConnSync", a: [on] });
  }
  /** The control instance's changes (it forwards nothing with workers, so usually none) and every worker's. */
  async takeConnChanges(): Promise<{ records: Uint8Array; lost: number }> {
    const own = this.local.takeConnChangesNow();
    if (!this.peers) return own;
    const w = await this.peers.take();
    return { records: joinBytes([own.records, ...w.parts]), lost: own.lost + w.lost };
  }
  /** Every instance's entries, templates first across all of them (a template installed in every worker comes once per worker). */
  async exportConnections(now: number): Promise<Uint8Array> {
    const own = await this.local.exportConnections(now);
    if (!this.peers) return own;
    return templatesFirst([own, ...(await this.peers.exportAll(now))]);
  }
  /** Into the workers, each connection to the one that owns it (syncroute.ts); without workers, into the control instance. */
  async installConnections(records: Uint8Array, now: number): Promise<{ installed: number; refused: number }> {
    checkRecords(records);
    if (!this.peers) return this.local.installConnections(records, now);
    return this.peers.install(records, now);
  }
  connSyncStats(): ConnSyncStats {
    const own = this.local.connSyncStats();
    if (!this.peers) return own;
    const w = this.peers.stats();
    return { logged: own.logged + w.logged, lost: own.lost + w.lost, installed: own.installed + w.installed, refused: own.refused + w.refused };
  }
}

/** tx with each operation that succeeds recorded in rec, for the workers. */
function recording(tx: Transaction, rec: TxOp[]): Transaction {
  const out = {} as Record<string, (...a: unknown[]) => void>;
  for (const [m, f] of Object.entries(tx) as [TxOp["m"], (...a: unknown[]) => void][]) {
    out[m] = (...a: unknown[]) => { f(...a); rec.push({ m, a } as TxOp); };
  }
  return out as unknown as Transaction;
}
