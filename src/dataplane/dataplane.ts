// The binding of one data-plane instance: one Wasm instance, its
// configuration (in transactions), its counters, and batches of frames.
// Everything that touches an instance or its memory goes through here.
//
// DataPlaneApi is the data plane as the rest of the supervisor sees it (the
// config model, the consoles, metrics, the neighbour prober). DataPlane, the
// binding, is one; with worker threads it is ReplicatedDataPlane
// (replica/replicated.ts), which wraps the control instance's binding,
// mirrors its changes to the workers and adds their figures to its reads.
// What only an instance has (its exports, memory, layout, batches; packet
// I/O and the workers' replicas use them) is the binding's alone.
//
// Transactions: beginTransaction() is the one way to open one. A
// transaction writes only the staged generation, so it may stay open across
// event-loop turns (busy, until its commit or abort) and take its operations
// as they come: the workers stage a large one as it streams in. Two
// conveniences run a whole transaction over it: transaction(fn), synchronous
// (health changes, the scheduler probe, tests; a nested one is refused by the
// data plane with WEIR_ERR_TRANSACTION_OPEN), and transactionChunked(ops,
// pause), the same made asynchronous, an event-loop turn between slices of
// operations (the config model's apply, a replica's), so forwarding goes on.

import { instantiate, readString, DEFAULT_MEMORY_BYTES, MAX_MEMORY_BYTES, WASM_PAGE, type WeirExports } from "./wasm.js";
import { readLayout, IPPROTO, type WasmLayout } from "./layout.js";
import { controlError, WeirError } from "./errors.js";
import { parseAddr, formatAddr, parseMac, formatMac, type Family } from "./addr.js";
import { Batch } from "./batch.js";
import { Yielder, sliced, unsliced, type Pause } from "../util/yield.js";
import { ENTRY_SIZE } from "../sync/entry.js";

export type Proto = "tcp" | "udp";
export type ServiceKey = { proto: Proto; addr: string; port: number } | { fwmark: number; af?: Family };

export interface ServiceSpec {
  scheduler: string;
  /** ipvsadm -b: sh-fallback, sh-port, mh-fallback, mh-port, flag-1..3 */
  schedFlags?: string[];
  /** ipvsadm -p: persistence timeout in seconds (0 or absent: not persistent). */
  persistent?: number;
  /** ipvsadm -M as a prefix length (IPv4 default 32, IPv6 128). */
  netmask?: number;
  /** ipvsadm -o: one-packet scheduling (UDP). */
  onePacket?: boolean;
}

export type FwdName = "nat" | "dr" | "tun";
export interface DestSpec {
  addr: string;
  port?: number;
  fwd: FwdName;
  weight?: number;
  upperThreshold?: number;
  lowerThreshold?: number;
}

export interface Counters { conns: bigint; inpkts: bigint; outpkts: bigint; inbytes: bigint; outbytes: bigint; }
export interface DestCounters extends Counters { activeconns: number; inactconns: number; persistconns: number; available: boolean; overloaded: boolean; }

export interface LoadOptions {
  /** Connection table capacities (entries). */
  connCapacity?: number;
  connCapacity6?: number;
  seed?: number;
  /** Use the debug build (assertions on, source maps). */
  debug?: boolean;
  /**
   * Bytes of Wasm memory, fixed for the instance's life (initial == maximum:
   * never grown, so packet rings can be mapped into it). Default: 512 MiB, or
   * more when the connection tables need it (see defaultMemoryBytes).
   */
  memoryBytes?: number;
  /**
   * Connection sync: entries of the change log (setConnSync), allocated at the
   * first start, 96 bytes each (768 KiB for the default 8192, inside the
   * 256 MiB defaultMemoryBytes leaves for everything but the tables).
   */
  syncLogCapacity?: number;
}

/** Connection-sync counters since load (summed over workers). */
export interface ConnSyncStats {
  /** Changes put in the log (creations, state changes, refreshes). */
  logged: number;
  /** Changes dropped because the log was full (a bulk resync covers them). */
  lost: number;
  /** Records from the peer installed (new entries or updates). */
  installed: number;
  /** Records from the peer refused: malformed, service or real server not configured here, or table full. */
  refused: number;
}

/**
 * Memory for tables of these capacities: 256 MiB for everything else (rings of
 * a few links, buffers, configuration) plus 64 bytes per IPv4 and 96 per IPv6
 * entry (56 and 88 with bucket heads, and slack), at least 512 MiB, at most
 * what a 32-bit module addresses.
 */
export function defaultMemoryBytes(cap4: number, cap6: number): number {
  const want = 256 * 2 ** 20 + cap4 * 64 + cap6 * 96;
  return Math.min(MAX_MEMORY_BYTES, Math.max(DEFAULT_MEMORY_BYTES, Math.ceil(want / WASM_PAGE) * WASM_PAGE));
}

/** ipvsadm's -b words for the service flags they set. */
function schedFlagBits(f: WasmLayout["svcFlag"]): Record<string, number> {
  return {
    "flag-1": f.SCHED1, "flag-2": f.SCHED2, "flag-3": f.SCHED3,
    "sh-fallback": f.SCHED1, "sh-port": f.SCHED2,
    "mh-fallback": f.SCHED1, "mh-port": f.SCHED2,
  };
}

/** An open transaction (beginTransaction): operations on ops, then commit() (all visible at once) or abort(). */
export interface StagedTransaction {
  readonly ops: Transaction;
  commit(): void;
  abort(): void;
}

/** The operations of a transaction. */
export interface Transaction {
  addService(key: ServiceKey, spec: ServiceSpec): void;
  editService(key: ServiceKey, spec: ServiceSpec): void;
  deleteService(key: ServiceKey): void;
  flush(): void;
  addDest(key: ServiceKey, dest: DestSpec): void;
  editDest(key: ServiceKey, dest: DestSpec): void;
  deleteDest(key: ServiceKey, dest: Pick<DestSpec, "addr" | "port"> & { fwd?: FwdName }): void;
  addMarkRule(rule: { proto?: Proto; prefix: string; ports?: [number, number]; mark: number }): void;
  clearMarkRules(): void;
}

/**
 * The data plane as the supervisor uses it: the binding of one instance
 * (DataPlane), or the control instance with its worker replicas
 * (replica/replicated.ts). Writes change every instance; reads add up.
 */
export interface DataPlaneApi {
  readonly schedulers: string[];
  readonly dropReasons: string[];

  // ---- configuration transactions (see the file's opening comment) ----
  /** Opens a transaction, left open (busy) until its commit() or abort(). */
  beginTransaction(): StagedTransaction;
  /** Runs fn as one transaction: every change becomes visible at once when fn returns, none if it throws. */
  transaction(fn: (tx: Transaction) => void): void;
  /** One transaction of many operations, applied in slices with an event-loop turn between them (pause). */
  transactionChunked(ops: ((tx: Transaction) => void)[], pause: Pause): Promise<void>;
  /** True while a transaction from beginTransaction() or transactionChunked() is open. */
  readonly busy: boolean;

  serviceCount(): number;
  serviceStats(key: ServiceKey): Counters;
  destStats(key: ServiceKey, d: Pick<DestSpec, "addr" | "port"> & { fwd?: FwdName }): DestCounters;
  /** ipvsadm -Z: zeroes the counters of one service and its real servers, or of all services. */
  zeroStats(key?: ServiceKey): void;

  setTimeouts(t: { tcp?: number; tcpfin?: number; udp?: number }): void;
  getTimeouts(): { tcp: number; tcpfin: number; udp: number };

  setLink(id: number, l: { mac: string; mtu?: number; up?: boolean }): void;
  deleteLink(id: number): void;
  addAddress(link: number, cidr: string): void;
  deleteAddress(link: number, addr: string): void;
  /**
   * Owned (true, what addAddress gives) or standby (false: a VRRP backup's
   * virtual address). A standby address stays configured but the data plane
   * neither answers ARP/ND or echo for it, nor forwards traffic to or from its
   * services (counted as vip_standby; connection entries are kept), nor passes
   * its frames to the host stack. Takes effect at once, between two batches,
   * whether or not a transaction is open.
   */
  setAddressOwned(link: number, addr: string, owned: boolean): void;
  addRoute(prefix: string, r: { link: number; via?: string }): void;
  deleteRoute(prefix: string): void;
  setNeighbour(link: number, addr: string, mac: string, now?: number): void;
  /** Solicits addr's next hop when its MAC is unknown: the link whose TX ring got the request (to be kicked), or -1. */
  probeNeighbour(addr: string, now: number): number;
  neighbours(): Neighbour[];

  drops(): Record<string, bigint>;
  /** Frames held for their next hop's MAC (net/neighq.ts): queued, sent, dropped_* counters and the held gauge; with workers, summed. */
  neighQueueStats(): Record<string, bigint>;
  connCount(af?: Family): number;
  batchStats(): BatchStats;
  /** Size of the connection table (entries), as ipvsadm shows it in "(size=…)". */
  connTableSize(af?: Family): number;
  /** ipvsadm -L -c: the connection entries at time now (the data-plane clock), read in slices. */
  allConnections(now: number, af?: Family): Promise<ConnEntry[]>;

  // ---- connection sync (issue 12; records are src/sync/entry.ts's) ----
  /**
   * Starts (true) or stops logging creations, state changes and refreshes of
   * connection entries and templates (a refresh: a packet for an entry whose
   * timer had run down past half its timeout). Off by default: no cost when
   * off. Starting drops what an earlier period left untaken; stopping keeps
   * it for a last takeConnChanges(). With workers: every worker, later ones too.
   */
  setConnSync(on: boolean): void;
  /**
   * The records logged since the last call (ENTRY_SIZE bytes each,
   * concatenated; a record's time left counts from the change), and how many
   * changes were lost to a full log since the last call. With workers: every worker's.
   */
  takeConnChanges(): Promise<{ records: Uint8Array; lost: number }>;
  /**
   * Every live entry as records, templates first (so the peer links
   * connections to them), at time now: a backup's bulk resync. Read in
   * slices with event-loop turns, so forwarding goes on for big tables.
   */
  exportConnections(now: number): Promise<Uint8Array>;
  /**
   * Installs the peer's records with their timers (expires = now +
   * timeoutMs); an entry that exists is updated (state, timer, real server).
   * Records whose service or real server is not configured here, malformed
   * ones (kind, family) and ones that find the table full are refused and
   * counted. Installing logs nothing (a backup never echoes). A length that
   * is not a multiple of ENTRY_SIZE is WEIR_ERR_SYNC_RECORDS, nothing
   * installed. With workers: a connection goes to the worker that owns it by
   * the steering rule, a template to every worker.
   */
  installConnections(records: Uint8Array, now: number): Promise<{ installed: number; refused: number }>;
  /**
   * Counters since load. With workers: summed over them, each worker's as of
   * its last answer to a sync call (take, export, install); a template
   * installed in every worker counts in each.
   */
  connSyncStats(): ConnSyncStats;
}

/** Refuses a records buffer that is not whole records. */
export function checkRecords(records: Uint8Array): void {
  if (records.length % ENTRY_SIZE !== 0) {
    throw new WeirError("WEIR_ERR_SYNC_RECORDS", `connection-sync records: ${records.length} bytes is not a multiple of ${ENTRY_SIZE}`);
  }
}

/** transactionChunked() over beginTransaction(): the one path for either implementation. */
export async function applyChunked(dp: Pick<DataPlaneApi, "beginTransaction">, ops: ((tx: Transaction) => void)[], pause: Pause): Promise<void> {
  const staged = dp.beginTransaction();
  try {
    for (const op of ops) {
      op(staged.ops);
      if (pause.due()) await pause.next();
    }
  } catch (e) {
    staged.abort();
    throw e;
  }
  staged.commit();
}

/** Bytes of the buffer takeReleasedFrame() copies into (a neighbour-queue slot is smaller). */
const TAKE_CAP = 2048;

export class DataPlane implements DataPlaneApi {
  readonly x: WeirExports;
  /** The data plane's offsets and values (assembly/ctl/layout.ts), read at load. */
  readonly layout: WasmLayout;
  private readonly sched: Map<string, number>;
  private readonly dropNames: string[];
  /** Offsets in the control scratch area (layout.scratch). */
  private readonly S: WasmLayout["scratch"];
  private readonly fwdNum: Record<FwdName, number>;
  private readonly schedFlags: Record<string, number>;

  private constructor(x: WeirExports) {
    this.x = x;
    const L = (this.layout = readLayout(x, (p) => this.str(p)));
    this.S = L.scratch;
    this.fwdNum = { nat: L.fwd.NAT, dr: L.fwd.DR, tun: L.fwd.TUN };
    this.schedFlags = schedFlagBits(L.svcFlag);
    this.sched = new Map();
    for (let i = 0; i < x.schedulerCount(); i++) this.sched.set(this.str(x.schedulerName(i)), i);
    this.dropNames = [];
    for (let i = 0; i < x.dropReasonCount(); i++) this.dropNames.push(this.str(x.dropReasonName(i)));
  }

  static async load(opts: LoadOptions = {}): Promise<DataPlane> {
    const cap4 = opts.connCapacity ?? 65536, cap6 = opts.connCapacity6 ?? 4096;
    const x = await instantiate(opts.debug ?? false, opts.memoryBytes ?? defaultMemoryBytes(cap4, cap6));
    const dp = new DataPlane(x);
    dp.syncLogCapacity = opts.syncLogCapacity ?? 8192;
    if (dp.layout.sync.entrySize !== ENTRY_SIZE) throw new Error(`the data plane's sync record is ${dp.layout.sync.entrySize} bytes, src/sync/entry.ts says ${ENTRY_SIZE}`);
    dp.check(x.init(cap4, cap6, opts.seed ?? (Math.random() * 2 ** 32) >>> 0), "init");
    return dp;
  }

  get memory(): WebAssembly.Memory { return this.x.memory; }
  get schedulers(): string[] { return [...this.sched.keys()]; }
  get dropReasons(): string[] { return this.dropNames.slice(1); }

  private str(ptr: number): string { return readString(this.x.memory, ptr); }
  /** A string the data plane returned (a pointer into its memory). */
  readString(ptr: number): string { return this.str(ptr); }
  // Views over the scratch area, made at first use and kept (the memory is
  // never grown, so its buffer stays): control calls run by the hundred thousand.
  private scratchBuf?: ArrayBuffer;
  private scratchView?: DataView;
  private scratchBytes?: Uint8Array;
  private refreshScratch(): void {
    const buf = this.x.memory.buffer;
    if (buf !== this.scratchBuf) {
      const base = this.x.scratch(), size = this.layout.scratch.size;
      this.scratchBuf = buf as ArrayBuffer;
      this.scratchView = new DataView(buf, base, size);
      this.scratchBytes = new Uint8Array(buf, base, size);
    }
  }
  private view(): DataView { this.refreshScratch(); return this.scratchView!; }
  private bytes(off: number, len: number): Uint8Array { this.refreshScratch(); return this.scratchBytes!.subarray(off, off + len); }
  /** Zeroes scratch bytes [off, off + len) without making a view. */
  private zero(off: number, len: number): void { this.refreshScratch(); this.scratchBytes!.fill(0, off, off + len); }

  private check(rc: number, what: string): void {
    if (rc < 0) throw controlError(this.str(this.x.errorName(rc)), what);
  }

  private putAddr(off: number, text: string): Family {
    const a = parseAddr(text);
    this.zero(off, 16);
    this.scratchBytes!.set(a.bytes, off);
    return a.af;
  }

  private writeService(key: ServiceKey, spec?: ServiceSpec): void {
    const v = this.view();
    this.zero(this.S.svAf, this.S.dsAf - this.S.svAf); // the service spec, up to the real server's
    if ("fwmark" in key) {
      if (!Number.isInteger(key.fwmark) || key.fwmark < 1 || key.fwmark > 0xffffffff) throw new WeirError("WEIR_ERR_BAD_FWMARK", `bad firewall mark: ${key.fwmark}`);
      v.setUint8(this.S.svAf, key.af ?? 4);
      v.setUint32(this.S.svFwmark, key.fwmark, true);
    } else {
      checkPort(key.port, "service port");
      v.setUint8(this.S.svAf, this.putAddr(this.S.svAddr, key.addr));
      v.setUint8(this.S.svProto, IPPROTO[key.proto === "tcp" ? "TCP" : "UDP"]);
      v.setUint16(this.S.svPort, key.port, true);
    }
    const af = v.getUint8(this.S.svAf);
    v.setUint32(this.S.svNetmask, af === 4 ? 32 : 128, true);
    if (!spec) return;
    const id = this.sched.get(spec.scheduler);
    if (id === undefined) throw new WeirError("WEIR_ERR_UNKNOWN_SCHEDULER", `unknown scheduler: ${spec.scheduler}`);
    let flags = 0;
    for (const f of spec.schedFlags ?? []) {
      const bit = this.schedFlags[f];
      if (bit === undefined) throw new WeirError("WEIR_ERR_BAD_SCHED_FLAG", `unknown scheduler flag: ${f}`);
      flags |= bit;
    }
    if (spec.persistent) flags |= this.layout.svcFlag.PERSISTENT;
    if (spec.onePacket) flags |= this.layout.svcFlag.ONEPACKET;
    v.setUint32(this.S.svFlags, flags, true);
    v.setUint32(this.S.svTimeout, spec.persistent ?? 0, true);
    if (spec.netmask !== undefined) v.setUint32(this.S.svNetmask, spec.netmask, true);
    v.setInt32(this.S.svSched, id, true);
  }

  private writeDest(d: Pick<DestSpec, "addr" | "port"> & Partial<DestSpec>): void {
    const v = this.view();
    this.zero(this.S.dsAf, this.S.dsAddr + 16 - this.S.dsAf);
    v.setUint8(this.S.dsAf, this.putAddr(this.S.dsAddr, d.addr));
    v.setUint8(this.S.dsFwd, this.fwdNum[d.fwd ?? "nat"]);
    const port = d.port ?? 0;
    checkPort(port, "real server port", true);
    v.setUint16(this.S.dsPort, port, true);
    v.setInt32(this.S.dsWeight, d.weight ?? 1, true);
    v.setUint32(this.S.dsUThresh, d.upperThreshold ?? 0, true);
    v.setUint32(this.S.dsLThresh, d.lowerThreshold ?? 0, true);
  }

  transaction(fn: (tx: Transaction) => void): void {
    const staged = this.open(false);
    try {
      fn(staged.ops);
    } catch (e) {
      staged.abort();
      throw e;
    }
    staged.commit();
  }

  get busy(): boolean { return this.held; }
  /** A transaction is open across event-loop turns (beginTransaction, transactionChunked). */
  private held = false;

  transactionChunked(ops: ((tx: Transaction) => void)[], pause: Pause): Promise<void> {
    return applyChunked(this, ops, pause);
  }

  beginTransaction(): StagedTransaction { return this.open(true); }

  /**
   * Opens a transaction. held: it may stay open across event-loop turns, so
   * it marks the data plane busy (another one is refused with
   * WEIR_ERR_TX_BUSY until it ends); transaction(fn) is not (it ends before
   * anything else runs: one opened inside it is the data plane's
   * WEIR_ERR_TRANSACTION_OPEN).
   */
  private open(held: boolean): StagedTransaction {
    if (this.held) throw new WeirError("WEIR_ERR_TX_BUSY", "a configuration transaction is being applied");
    const x = this.x;
    this.check(x.txBegin(), "begin transaction");
    this.held = held;
    let open = true;
    const close = () => {
      open = false;
      this.held = false;
      // The module runs AssemblyScript's minimal runtime: no collector runs
      // inside a batch (and no shadow stack slows the hot path); garbage from
      // configuration work is collected here, between batches.
      x.__collect();
    };
    return {
      ops: this.txOps,
      commit: () => {
        if (!open) throw new WeirError("WEIR_ERR_TX_CLOSED", "the transaction is closed");
        try {
          this.check(x.txCommit(), "commit");
        } catch (e) {
          x.txAbort();
          close();
          throw e;
        }
        close();
      },
      abort: () => {
        if (!open) return;
        x.txAbort();
        close();
      },
    };
  }

  /** The operations of an open transaction (the data plane refuses them when none is open); one object for every transaction. */
  private readonly txOps: Transaction = {
    addService: (k, s) => { this.writeService(k, s); this.check(this.x.svcCall(0), "add service"); },
    editService: (k, s) => { this.writeService(k, s); this.check(this.x.svcCall(1), "edit service"); },
    deleteService: (k) => { this.writeService(k); this.check(this.x.svcCall(2), "delete service"); },
    flush: () => { this.check(this.x.svcFlush(), "flush"); },
    addDest: (k, d) => { this.writeService(k); this.writeDest(d); this.check(this.x.destCall(0), "add real server"); },
    editDest: (k, d) => { this.writeService(k); this.writeDest(d); this.check(this.x.destCall(1), "edit real server"); },
    deleteDest: (k, d) => { this.writeService(k); this.writeDest(d); this.check(this.x.destCall(2), "delete real server"); },
    addMarkRule: (r) => {
      const [prefix, lenText] = r.prefix.split("/");
      const af = this.putAddr(this.S.argAddr, prefix);
      const len = lenText === undefined ? (af === 4 ? 32 : 128) : Number(lenText);
      const [lo, hi] = r.ports ?? [0, 65535];
      const proto = r.proto === undefined ? 0 : IPPROTO[r.proto === "tcp" ? "TCP" : "UDP"];
      this.check(this.x.markRuleAdd(af, proto, len, lo, hi, r.mark), "add mark rule");
    },
    clearMarkRules: () => { this.check(this.x.markRulesClear(), "clear mark rules"); },
  };

  serviceCount(): number { return this.x.serviceCount(); }

  serviceStats(key: ServiceKey): Counters {
    this.writeService(key);
    this.check(this.x.svcStats(), "service stats");
    return this.readCounters();
  }

  destStats(key: ServiceKey, d: Pick<DestSpec, "addr" | "port"> & { fwd?: FwdName }): DestCounters {
    this.writeService(key);
    this.writeDest(d);
    this.check(this.x.destStats(), "real server stats");
    const v = this.view();
    const flags = v.getUint32(this.S.resDFlags, true);
    const r = this.S.res, st = this.layout.stats, df = this.layout.destFlag;
    // Spelled out rather than spreading readCounters(): the rate estimator calls this for every real server.
    return {
      conns: v.getBigUint64(r + st.conns, true), inpkts: v.getBigUint64(r + st.inpkts, true), outpkts: v.getBigUint64(r + st.outpkts, true),
      inbytes: v.getBigUint64(r + st.inbytes, true), outbytes: v.getBigUint64(r + st.outbytes, true),
      activeconns: v.getInt32(this.S.resActive, true),
      inactconns: v.getInt32(this.S.resInact, true),
      persistconns: v.getInt32(this.S.resPersist, true),
      available: (flags & df.AVAILABLE) !== 0,
      overloaded: (flags & df.OVERLOAD) !== 0,
    };
  }

  private readCounters(): Counters {
    const v = this.view();
    const r = this.S.res, st = this.layout.stats;
    return {
      conns: v.getBigUint64(r + st.conns, true), inpkts: v.getBigUint64(r + st.inpkts, true), outpkts: v.getBigUint64(r + st.outpkts, true),
      inbytes: v.getBigUint64(r + st.inbytes, true), outbytes: v.getBigUint64(r + st.outbytes, true),
    };
  }

  // ---- timeouts (ipvsadm --set) ----
  setTimeouts(t: { tcp?: number; tcpfin?: number; udp?: number }): void {
    this.x.setTimeouts(t.tcp ?? 0, t.tcpfin ?? 0, t.udp ?? 0);
  }
  getTimeouts(): { tcp: number; tcpfin: number; udp: number } {
    return { tcp: this.x.getTimeout(0), tcpfin: this.x.getTimeout(1), udp: this.x.getTimeout(2) };
  }

  // ---- links, addresses, routes, neighbours ----
  setLink(id: number, l: { mac: string; mtu?: number; up?: boolean }): void {
    this.bytes(this.S.argMac, 8).set([...parseMac(l.mac), 0, 0]);
    this.check(this.x.linkSet(id, l.mtu ?? 1500, l.up === false ? 0 : 1), `link ${id}`);
  }
  deleteLink(id: number): void {
    this.check(this.x.linkDel(id), `delete link ${id}`);
  }

  addAddress(link: number, cidr: string): void {
    const [a, len] = splitPrefix(cidr);
    const af = this.putAddr(this.S.argAddr, a);
    const plen = len ?? (af === 4 ? 32 : 128);
    this.check(this.x.addrAdd(link, af, plen), `address ${cidr}`);
    // The connected route, as the kernel adds one for an address with a prefix.
    const net = networkOf(af, this.bytes(this.S.argAddr, 16), plen);
    this.bytes(this.S.argAddr, 16).set(net);
    const rc = this.x.routeAdd(af, plen, link, 0);
    if (rc < 0 && this.str(this.x.errorName(rc)) !== "EXISTS") this.check(rc, `route for ${cidr}`);
  }
  deleteAddress(link: number, addr: string): void {
    const af = this.putAddr(this.S.argAddr, addr.split("/")[0]);
    this.check(this.x.addrDel(link, af), `delete address ${addr}`);
  }
  setAddressOwned(link: number, addr: string, owned: boolean): void {
    const af = this.putAddr(this.S.argAddr, addr.split("/")[0]);
    this.check(this.x.addrOwn(link, af, owned), `${owned ? "own" : "stand by"} address ${addr}`);
  }
  addRoute(prefix: string, r: { link: number; via?: string }): void {
    const [a, len] = splitPrefix(prefix);
    const af = this.putAddr(this.S.argAddr, a);
    if (r.via) {
      if (this.putAddr(this.S.argAddr2, r.via) !== af) throw new WeirError("WEIR_ERR_ADDRESS_FAMILY", `gateway ${r.via} is not the family of ${prefix}`);
    }
    this.check(this.x.routeAdd(af, len ?? (af === 4 ? 32 : 128), r.link, r.via ? 1 : 0), `route ${prefix}`);
  }
  deleteRoute(prefix: string): void {
    const [a, len] = splitPrefix(prefix);
    const af = this.putAddr(this.S.argAddr, a);
    this.check(this.x.routeDel(af, len ?? (af === 4 ? 32 : 128)), `delete route ${prefix}`);
  }
  setNeighbour(link: number, addr: string, mac: string, now = 0): void {
    const af = this.putAddr(this.S.argAddr, addr);
    this.bytes(this.S.argMac, 8).set([...parseMac(mac), 0, 0]);
    this.check(this.x.neighSet(link, af, now >>> 0), `neighbour ${addr}`);
  }
  /**
   * Asks the data plane to solicit addr's next hop when its MAC is unknown:
   * returns the link whose TX ring got the request (to be kicked), or -1.
   */
  probeNeighbour(addr: string, now: number): number {
    const af = this.putAddr(this.S.argAddr, addr);
    return this.x.neighProbe(af, now >>> 0);
  }

  /** Forgets link's learnt and static neighbours (-1: every link's); frames waiting for any neighbour are dropped (counted). */
  flushNeighbours(link: number): void { this.x.neighFlush(link); }

  neighbours(): Neighbour[] {
    const out = [];
    const names = this.layout.neighStates;
    for (let i = 0, n = this.x.neighCapacity(); i < n; i++) {
      const s = this.x.neighRead(i);
      if (!s) continue;
      const v = this.view();
      const af = v.getUint8(this.S.argAf) as Family;
      out.push({
        link: v.getInt32(this.S.argLink, true),
        addr: formatAddr(af, this.bytes(this.S.argAddr, 16)),
        mac: formatMac(this.bytes(this.S.argMac, 6)),
        state: names[s] as "incomplete" | "reachable" | "permanent",
      });
    }
    return out;
  }

  // ---- counters ----
  drops(): Record<string, bigint> {
    const out: Record<string, bigint> = {};
    for (let i = 1; i < this.dropNames.length; i++) out[this.dropNames[i]] = this.x.dropCounter(i);
    return out;
  }
  /**
   * Frames that met an unresolved next hop (assembly/net/neighq.ts): queued,
   * sent after resolution, dropped (timeout, overflow, too big, flushed,
   * unsent), and held now. This instance's only (each worker has its own queue).
   */
  neighQueueStats(): Record<string, bigint> {
    const out: Record<string, bigint> = {};
    for (let i = 0, n = this.x.neighQueueStatCount(); i < n; i++) out[this.str(this.x.neighQueueStatName(i))] = this.x.neighQueueStat(i);
    out.held = BigInt(this.x.neighQueueHeld());
    return out;
  }

  /**
   * The oldest frame released by a resolution and not yet sent, or null.
   * The ring path sends them itself; batches (tests, benchmarks) take them here.
   */
  takeReleasedFrame(): { link: number; frame: Uint8Array; flags: number } | null {
    if (this.x.neighQueueReady() === 0) return null;
    if (!this.takeBuf) this.takeBuf = this.x.allocBuffer(TAKE_CAP, 64);
    const n = this.x.neighQueueTake(this.takeBuf, TAKE_CAP);
    if (n === 0) return null;
    return { link: this.x.neighQueueTakenLink(), frame: new Uint8Array(this.x.memory.buffer.slice(this.takeBuf, this.takeBuf + n)), flags: this.x.neighQueueTakenFlags() >>> 0 };
  }
  private takeBuf = 0;

  connCount(af: Family = 4): number { return this.x.connCount(af); }
  batchStats(): BatchStats {
    const s = (i: number) => this.x.batchStat(i);
    return { batches: s(0), framesIn: s(1), framesTx: s(2), framesLocal: s(3), framesHeld: s(4) };
  }

  // ---- test hooks (scheduler tests only; not for the supervisor) ----

  /**
   * TEST HOOK: runs the live service's scheduler once for a synthetic new
   * connection, without creating one. Returns the index of the chosen real
   * server in the service's list (insertion order), -1 when the scheduler
   * picks none. dst/dstPort default to the service's address and port.
   */
  testPick(key: ServiceKey, c: { client: string; clientPort?: number; dst?: string; dstPort?: number }): number {
    this.writeService(key);
    const dst = c.dst ?? ("addr" in key ? key.addr : c.client);
    this.putAddr(this.S.argAddr, c.client);
    this.putAddr(this.S.argAddr2, dst);
    const v = this.view();
    v.setUint16(this.S.argSport, c.clientPort ?? 0, true);
    v.setUint16(this.S.argDport, c.dstPort ?? ("port" in key ? key.port : 0), true);
    const r = this.x.testSchedule();
    if (r < -1) throw new WeirError("WEIR_ERR_TEST_PICK", `testSchedule failed (${r}): no such service?`);
    return r;
  }

  /**
   * TEST HOOK: sets a real server's active/inactive connection counters (and
   * re-evaluates its overload flag against its thresholds), so schedulers can
   * be checked against chosen counter values.
   */
  testSetConns(key: ServiceKey, dest: Pick<DestSpec, "addr" | "port"> & { fwd?: FwdName }, active: number, inactive: number): void {
    this.writeService(key);
    this.writeDest(dest);
    const r = this.x.testSetDestConns(active, inactive);
    if (r < 0) throw new WeirError("WEIR_ERR_TEST_SET_CONNS", `testSetDestConns failed (${r}): no such real server`);
  }

  // ---- listings (assembly/ctl/listing.ts): ipvsadm -Z and -L -c ----

  /** ipvsadm -Z: zeroes the counters of one service and its real servers, or of all services. */
  zeroStats(key?: ServiceKey): void {
    if (!key) this.check(this.x.statsZero(1), "zero counters");
    else {
      this.writeService(key);
      this.check(this.x.statsZero(0), "zero counters");
    }
  }

  /** Size of the connection table (entries), as ipvsadm shows it in "(size=…)". */
  connTableSize(af: Family = 4): number { return this.x.connTableCapacity(af); }

  /**
   * The live connection entries (and persistence templates) at time now, the
   * data-plane clock in ms that batches run with. Ports in host order.
   */
  connections(now: number, af?: Family): ConnEntry[] {
    const out: ConnEntry[] = [];
    unsliced(this.readConnections(now, af, out));
    return out;
  }

  /**
   * connections() in slices with event-loop turns between them (pause), so
   * listing a table of a million entries does not stop forwarding. Entries
   * that come or go meanwhile may be missed, as with any table read in parts.
   */
  async connectionsSliced(now: number, af: Family | undefined, pause: Pause): Promise<ConnEntry[]> {
    const out: ConnEntry[] = [];
    await sliced(this.readConnections(now, af, out), pause);
    return out;
  }

  private *readConnections(now: number, af: Family | undefined, out: ConnEntry[]): Generator<void> {
    for (const fam of af ? [af] : ([4, 6] as Family[])) {
      let i = this.x.connRead(fam, 0, now >>> 0);
      while (i >= 0) {
        out.push(this.readConn());
        yield;
        i = this.x.connRead(fam, i + 1, now >>> 0);
      }
    }
  }

  /** ipvsadm -L -c: the entries, sliced. */
  allConnections(now: number, af?: Family): Promise<ConnEntry[]> {
    return this.connectionsSliced(now, af, new Yielder());
  }

  private readConn(): ConnEntry {
    const L = this.layout, C = L.conn;
    const base = this.x.connBuf();
    const v = new DataView(this.x.memory.buffer, base, C.size);
    const b = (off: number) => new Uint8Array(this.x.memory.buffer, base + off, 16);
    const af = v.getUint8(C.af) as Family;
    const p = v.getUint8(C.proto);
    const proto = p === IPPROTO.TCP ? "tcp" : p === IPPROTO.UDP ? "udp" : p === IPPROTO.ICMP || p === IPPROTO.ICMPV6 ? "icmp" : "ip";
    const state = v.getUint8(C.state);
    const flags = v.getUint16(C.flags, true);
    const fwdNum = v.getUint8(C.fwd);
    return {
      af, proto,
      template: (flags & L.connFlag.TEMPLATE) !== 0,
      fwd: fwdNum === L.fwd.NAT ? "nat" : fwdNum === L.fwd.TUN ? "tun" : "dr",
      caddr: formatAddr(af, b(C.caddr)), cport: v.getUint16(C.cport, true),
      vaddr: formatAddr(af, b(C.vaddr)), vport: v.getUint16(C.vport, true),
      daddr: formatAddr(af, b(C.daddr)), dport: v.getUint16(C.dport, true),
      state: proto === "tcp" ? (L.tcpStates[state] ?? "NONE") : proto === "udp" ? "UDP" : proto === "icmp" ? "ICMP" : "NONE",
      expiresMs: Math.max(0, v.getInt32(C.expires, true)),
    };
  }

  // ---- connection sync (assembly/conn/synclog.ts, conn/sync.ts) ----

  private syncLogCapacity = 8192;
  /** Records exchanged with the data plane per call (the area is allocated at first use). */
  private static readonly SYNC_BATCH = 512;
  private syncArea = 0;
  /** The lost counter at the last takeConnChanges(). */
  private lostTaken = 0;

  private syncBuf(): number {
    if (!this.syncArea) this.syncArea = this.x.allocBuffer(DataPlane.SYNC_BATCH * ENTRY_SIZE, 16);
    return this.syncArea;
  }
  private syncStat(i: number): number { return Number(this.x.connSyncStat(i)); }

  setConnSync(on: boolean): void {
    if (this.x.connSyncSet(on, this.syncLogCapacity) === 0 && on) {
      throw new WeirError("WEIR_ERR_SYNC_LOG", `connection-sync log of ${this.syncLogCapacity} entries: must be 1 to 1048576`);
    }
  }

  /** takeConnChanges(), at once. */
  takeConnChangesNow(): { records: Uint8Array; lost: number } {
    const parts: Uint8Array[] = [];
    const buf = this.syncBuf();
    for (;;) {
      const n = this.x.connSyncTake(buf, DataPlane.SYNC_BATCH);
      if (n === 0) break;
      parts.push(new Uint8Array(this.x.memory.buffer, buf, n * ENTRY_SIZE).slice());
    }
    const lost = this.syncStat(1);
    const since = lost - this.lostTaken;
    this.lostTaken = lost;
    return { records: joinBytes(parts), lost: since };
  }

  async takeConnChanges(): Promise<{ records: Uint8Array; lost: number }> { return this.takeConnChangesNow(); }

  /** exportConnections() with a turn whenever pause is due. */
  async exportConnectionsSliced(now: number, pause: Pause): Promise<Uint8Array> {
    const parts: Uint8Array[] = [];
    const buf = this.syncBuf();
    for (const templates of [true, false]) {
      for (const af of [4, 6] as Family[]) {
        const cap = this.x.connTableCapacity(af);
        let from = 0;
        while (from < cap) {
          const n = this.x.connExport(af, templates, from, now >>> 0, buf, DataPlane.SYNC_BATCH);
          if (n > 0) parts.push(new Uint8Array(this.x.memory.buffer, buf, n * ENTRY_SIZE).slice());
          from = this.x.connExportNext();
          if (pause.due()) await pause.next();
        }
      }
    }
    return joinBytes(parts);
  }

  exportConnections(now: number): Promise<Uint8Array> { return this.exportConnectionsSliced(now, new Yielder()); }

  /** installConnections(), at once (a batch of records between two packet batches). */
  installConnectionsNow(records: Uint8Array, now: number): { installed: number; refused: number } {
    checkRecords(records);
    const buf = this.syncBuf();
    let installed = 0;
    const total = records.length / ENTRY_SIZE;
    for (let k = 0; k < total; k += DataPlane.SYNC_BATCH) {
      const n = Math.min(DataPlane.SYNC_BATCH, total - k);
      new Uint8Array(this.x.memory.buffer, buf, n * ENTRY_SIZE).set(records.subarray(k * ENTRY_SIZE, (k + n) * ENTRY_SIZE));
      installed += this.x.connInstall(buf, n, now >>> 0);
    }
    return { installed, refused: total - installed };
  }

  async installConnections(records: Uint8Array, now: number): Promise<{ installed: number; refused: number }> {
    checkRecords(records);
    const pause = new Yielder();
    let installed = 0, refused = 0;
    const step = DataPlane.SYNC_BATCH * ENTRY_SIZE;
    for (let off = 0; off < records.length; off += step) {
      const r = this.installConnectionsNow(records.subarray(off, off + step), now);
      installed += r.installed; refused += r.refused;
      if (pause.due()) await pause.next();
    }
    return { installed, refused };
  }

  connSyncStats(): ConnSyncStats {
    return { logged: this.syncStat(0), lost: this.syncStat(1), installed: this.syncStat(2), refused: this.syncStat(3) };
  }

  /** A set of frame slots and descriptors in the data plane's memory. */
  createBatch(capacity: number, slotSize = 2048): Batch {
    const desc = this.x.allocBuffer(capacity * this.layout.desc.size, 64);
    const frames = this.x.allocBuffer(capacity * slotSize * 2, 4096);
    return new Batch(this.x, this.layout.desc, desc, frames, capacity, slotSize);
  }
}

export interface Neighbour { link: number; addr: string; mac: string; state: "incomplete" | "reachable" | "permanent"; }
/** Every frame in gets one verdict: tx, local (the host stack), held (waiting for its next hop's MAC: sent or dropped later) or drop (the rest). */
export interface BatchStats { batches: bigint; framesIn: bigint; framesTx: bigint; framesLocal: bigint; framesHeld: bigint; }

/** One entry of DataPlane.connections(). */
export interface ConnEntry {
  af: Family;
  proto: "tcp" | "udp" | "icmp" | "ip";
  /** A persistence template (client masked, port 0). */
  template: boolean;
  fwd: FwdName;
  caddr: string; cport: number;
  vaddr: string; vport: number;
  daddr: string; dport: number;
  /** IPVS state name: ESTABLISHED, SYN_RECV, … for TCP; UDP; ICMP. */
  state: string;
  expiresMs: number;
}

function checkPort(p: number, what: string, zeroOk = true): void {
  if (!Number.isInteger(p) || p < (zeroOk ? 0 : 1) || p > 65535) throw new WeirError("WEIR_ERR_BAD_PORT", `${what} out of range: ${p}`);
}

function splitPrefix(s: string): [string, number | undefined] {
  const [a, l] = s.split("/");
  if (l === undefined) return [a, undefined];
  const n = Number(l);
  if (!/^\d+$/.test(l) || n > (a.includes(":") ? 128 : 32)) throw new WeirError("WEIR_ERR_BAD_PREFIX", `bad prefix length in ${s}`);
  return [a, n];
}

function networkOf(af: Family, addr: Uint8Array, len: number): Uint8Array {
  const n = Uint8Array.from(addr);
  const bytes = af === 4 ? 4 : 16;
  for (let i = 0; i < bytes; i++) {
    const keep = Math.max(0, Math.min(8, len - i * 8));
    n[i] &= (0xff << (8 - keep)) & 0xff;
  }
  return n;
}

/** The parts end to end. */
export function joinBytes(parts: Uint8Array[]): Uint8Array {
  if (parts.length === 1) return parts[0];
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let off = 0;
  for (const p of parts) { out.set(p, off); off += p.length; }
  return out;
}
