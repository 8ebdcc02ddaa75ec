// The packet loop on the supervisor's main thread (and on each worker
// thread's): AF_PACKET rings of the attached links mapped into the data
// plane's memory (native addon, native/README.md), walked in place by one
// Wasm call per batch (assembly/ring/), and the frames to and from each
// link's TAP mirror. What attaching does on the host (nftables, the TAP
// device, addresses, the journal) is linkhost.ts's.
//
// The thread's own event loop watches each RX ring and TAP it reads (native
// watch(): libuv poll handles, no CPU while idle, plus a tick a second for
// the connection clock and the links' counters). A readable ring gets one
// turn: up to maxBatches × batch frames through the data plane, each link's
// TX ring kicked once per batch, frames passed to and from the TAP mirrors.
// The watches are level-triggered, so a ring still busy after its turn is
// served again on the next loop iteration, after consoles, health checks and
// timers had theirs. One Wasm instance per thread, so configuration
// transactions and counter reads stay synchronous.
//
// Per attached link: an RX ring (TPACKET_V2 by default: a frame is handed over
// at once; V3 hands over blocks, adding up to its block timeout at low rates)
// and a TX ring (V2), both with PACKET_VNET_HDR so offloaded frames (partial
// checksums, TSO/GSO/GRO) pass through (assembly/xmit/offload.ts). With worker
// threads (replica/), each worker opens its own rings on every link
// (attachRings) with a socket filter that takes only its share (steer/), and
// the supervisor keeps the host side and reads the TAPs.

import { WeirError } from "./errors.js";
import type { DataPlane } from "./dataplane.js";
import type { Logger } from "../log.js";
import { tapName } from "./host.js";
import type * as Native from "../../native/index.js";
import { DEFAULT_JOURNAL_DIR } from "./journal.js";
import type { HostAccessRule } from "./hostguard.js";
import { LinkHost, type HostLink, type LinkNet } from "./linkhost.js";

type NativeMod = typeof Native;

export interface IoOptions {
  /** RX ring: TPACKET_V2 (default, lowest latency) or V3 (blocks). */
  rxVersion?: 2 | 3;
  /** V2: slots and slot size (a slot holds the largest frame: 64 KiB GSO/GRO + headers). */
  rxSlots?: number;
  rxSlotSize?: number;
  /** V3: blocks, block size and block timeout. */
  rxBlocks?: number;
  rxBlockSize?: number;
  rxBlockTimeoutMs?: number;
  /** TX ring: slots and slot size (data + 32-byte header + virtio header). */
  txSlots?: number;
  txSlotSize?: number;
  /** Frames per Wasm call, and calls per turn before yielding. */
  batch?: number;
  maxBatches?: number;
  /** Bytes of each link's host-stack mirror queue (drained after every call). */
  localQueueBytes?: number;
  /** nftables table name (default weir_PID). */
  nftTable?: string;
  /** Where attached links' snapshots are kept for cleanup after an unclean exit (journal.ts); null: nowhere. */
  journalDir?: string | null;
  /** Clock of the data plane, ms. */
  now: () => number;
  log: Logger;
  /**
   * Called when a link went away under the appliance (the device vanished:
   * ENODEV, ENXIO), after it was detached. A link set down or losing its
   * carrier is not gone: it stays attached (LinkState).
   */
  onGone?: (dev: string, error: string) => void;
  /**
   * Socket filter (cBPF, native setFilter) for the RX rings opened from now
   * on: with worker threads each ring takes only its share of the frames
   * (steer/program.ts). None: every frame.
   */
  rxFilter?: () => Uint8Array | undefined;
  /** A worker thread's I/O: rings only (attachRings); no nftables, TAPs or host changes of its own. */
  ringsOnly?: boolean;
}

/**
 * What the kernel says of an attached link (SIOCGIFFLAGS, read once a
 * second): frames flow only when "up". "down": set down from outside (no
 * IFF_UP); "no-carrier": up without a carrier (a veth whose peer is down, a
 * cable out).
 */
export type LinkState = "up" | "down" | "no-carrier";

/** Counters of one attached link. */
export interface LinkIoStats {
  dev: string;
  id: number;
  tap: string;
  rxVersion: number;
  /** The link's state as last seen (the supervisor's view; absent from a test's figures). */
  state?: LinkState;
  /** Times the link went down (admin or carrier) while attached. */
  downs?: number;
  /** PACKET_STATISTICS: frames the kernel dropped for want of room in the RX ring, and ring freezes (V3). */
  ringDrops: number;
  ringFreezes: number;
  /** TAP writes that found the device queue full. */
  tapDrops: number;
  /** From the data plane's ring walker (assembly/ring/). */
  counters: Record<string, bigint>;
}

interface Region { off: number; size: number; }

interface Attached {
  /** Native watches of rx and the TAP. */
  watches: number[];
  dev: string;
  id: number;
  rx: number;
  tx: number;
  tap: number;
  tapName: string;
  regions: Region[];
  rxGeom: Native.RingGeometry;
  txGeom: Native.RingGeometry;
  ringDrops: number;
  ringFreezes: number;
  tapDrops: number;
  gone: boolean;
  /** As last seen; frames resume by themselves when it is "up" again (the rings stay). */
  state: LinkState;
  /** Times it went down while attached, and when it last did (ms, the data plane's clock). */
  downs: number;
  downSince: number;
  /** Attached before its carrier came (a veth just set up): not a down until it is set down or was up. */
  settling: boolean;
  /**
   * The link's host side (linkhost.ts). None: a worker's rings on a link the
   * supervisor attached, whose TAP is the supervisor's (written to, never
   * read or closed here).
   */
  host?: HostLink;
}

const MiB = 1 << 20;

/** Errors of a device that vanished (ENETDOWN is not one: the link is only down). */
const GONE = new Set(["ENODEV", "ENXIO", "WEIR_ERR_BAD_HANDLE"]);

function linkState(info: Native.LinkInfo): LinkState {
  return !info.up ? "down" : info.running ? "up" : "no-carrier";
}

function errnoOf(e: unknown): string {
  return (e as Native.NativeError).code ?? (e as Error).message;
}

export class PacketIo {
  private native!: NativeMod;
  private readonly links = new Map<string, Attached>();
  private readonly byId = new Map<number, Attached>();
  private readonly pool = new Map<number, number[]>();
  private readonly host: LinkHost | undefined;
  private running = false;
  private loopDone: Promise<void> = Promise.resolve();
  private mem: Uint8Array;
  private readonly memView: DataView;
  private busy: Promise<unknown> = Promise.resolve();
  readonly opts: Required<Omit<IoOptions, "onGone" | "nftTable" | "journalDir" | "rxFilter" | "ringsOnly">> & Pick<IoOptions, "onGone" | "rxFilter">;

  constructor(private readonly dp: DataPlane, o: IoOptions) {
    this.opts = {
      rxVersion: o.rxVersion ?? 2,
      rxSlots: o.rxSlots ?? 256,
      rxSlotSize: o.rxSlotSize ?? 1 << 17,
      rxBlocks: o.rxBlocks ?? 64,
      rxBlockSize: o.rxBlockSize ?? 1 << 18,
      rxBlockTimeoutMs: o.rxBlockTimeoutMs ?? 1,
      txSlots: o.txSlots ?? 256,
      txSlotSize: o.txSlotSize ?? 69632,
      batch: o.batch ?? 256,
      maxBatches: o.maxBatches ?? 8,
      localQueueBytes: o.localQueueBytes ?? MiB,
      now: o.now,
      log: o.log,
      onGone: o.onGone,
      rxFilter: o.rxFilter,
    };
    this.host = o.ringsOnly ? undefined : new LinkHost({
      table: o.nftTable ?? `weir_${process.pid}`,
      journalDir: o.journalDir === undefined ? DEFAULT_JOURNAL_DIR : o.journalDir,
      native: () => this.native,
      log: o.log,
    });
    this.mem = new Uint8Array(dp.memory.buffer);
    this.memView = new DataView(dp.memory.buffer); // the memory never grows (rings are mapped into it)
  }

  /** Loads the addon and starts the loop (idle: one wake-up a second for the expiry sweep). */
  async start(): Promise<void> {
    await this.host?.recover();
    this.native = await import("../../native/index.js");
    this.running = true;
    this.loopDone = this.ticks();
  }

  get attached(): string[] { return [...this.links.keys()]; }

  /** Sends what the data plane queued on link id's TX ring outside a turn (neighbour probes). */
  kickLink(id: number): void {
    const a = this.byId.get(id);
    if (!a || this.dp.x.ioTakePending(id) === 0) return;
    try { this.native.kickTx(a.tx); } catch (e) { this.lost(a, (e as Native.NativeError).code ?? (e as Error).message); }
  }

  /** Serialises attach/detach/sync (each awaits host commands). */
  private serial<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.busy.then(fn, fn);
    this.busy = run.catch(() => undefined);
    return run;
  }

  // ---- attach / detach ----

  attach(dev: string, id: number, mac: string, mtu: number): Promise<void> {
    return this.serial(() => this.attachNow(dev, id, mac, mtu));
  }

  private region(size: number): number {
    const free = this.pool.get(size);
    if (free?.length) return free.pop()!;
    const off = this.dp.x.allocBuffer(size, 4096);
    if (!off) throw new WeirError("WEIR_ERR_NO_MEMORY", `no room for a ${size}-byte ring in the data plane's memory`);
    return off;
  }

  private release(r: Region): void {
    let free = this.pool.get(r.size);
    if (!free) this.pool.set(r.size, (free = []));
    free.push(r.off);
  }

  private async attachNow(dev: string, id: number, mac: string, mtu: number): Promise<void> {
    if (!this.running) throw new WeirError("WEIR_ERR_IO_STOPPED", "packet I/O is not running");
    const host = this.host;
    if (!host) throw new WeirError("WEIR_ERR_IO_RINGS_ONLY", "this packet I/O attaches rings only");
    if (this.links.has(dev)) return;
    const log = this.opts.log.child({ link: dev });
    const h = await host.attach(dev, id, mac, mtu, log);
    const undo: (() => unknown)[] = [];
    const regions: Region[] = [];
    try {
      const a = this.openRings(dev, id, h.tap, h.tapName, h, undo, regions);
      await host.moveAddrs(h, log);
      log.info({ tap: h.tapName, rx: { version: a.rxGeom.version, size: a.rxGeom.size }, tx: { slots: a.txGeom.frameCount, size: a.txGeom.size }, qdiscBypass: a.txGeom.qdiscBypass }, "link attached");
    } catch (e) {
      await this.unwind(undo, regions, log);
      await host.abandon(h, log);
      throw e;
    }
  }

  private async unwind(undo: (() => unknown)[], regions: Region[], log: Logger): Promise<void> {
    for (const u of undo.reverse()) {
      try { await u(); } catch (err) { log.warn({ err }, "undo failed"); }
    }
    for (const r of regions) this.release(r);
  }

  /** The TAP mirror's handle of an attached link (worker threads write the host stack's frames to it). */
  tapHandle(dev: string): number | undefined { return this.links.get(dev)?.tap; }

  /**
   * A worker's share of a link the supervisor attached (replica/worker.ts):
   * its own RX ring (with its steering filter) and TX ring in this data
   * plane's memory; frames for the host stack go to the supervisor's TAP
   * (handle tap). mtu is the link's, for the record: the TAP is not this
   * thread's to set.
   */
  attachRings(dev: string, id: number, tap: number, mtu: number): Promise<void> {
    return this.serial(async () => {
      if (!this.running) throw new WeirError("WEIR_ERR_IO_STOPPED", "packet I/O is not running");
      if (this.links.has(dev)) return;
      const undo: (() => unknown)[] = [];
      const regions: Region[] = [];
      try {
        this.openRings(dev, id, tap, tapName(dev, id), undefined, undo, regions);
      } catch (e) {
        await this.unwind(undo, regions, this.opts.log);
        throw e;
      }
    });
  }

  /** Replaces the RX rings' socket filter (the steering changed). */
  setRxFilter(program: Uint8Array): void {
    for (const a of this.links.values()) this.native.setFilter(a.rx, program);
  }

  private openRings(dev: string, id: number, tap: number, tname: string, host: HostLink | undefined,
    undo: (() => unknown)[], regions: Region[]): Attached {
    const n = this.native;
    const o = this.opts;
    const filter = o.rxFilter?.();
    const rxOpts: Native.RxOptions = o.rxVersion === 2
      ? { version: 2, blockSize: Math.max(o.rxSlotSize, 4096), blockCount: Math.ceil((o.rxSlots * o.rxSlotSize) / Math.max(o.rxSlotSize, 4096)), frameSize: o.rxSlotSize, vnetHdr: true, filter }
      : { version: 3, blockSize: o.rxBlockSize, blockCount: o.rxBlocks, frameSize: 2048, blockTimeoutMs: o.rxBlockTimeoutMs, vnetHdr: true, filter };
    const rx = n.openRx(dev, rxOpts);
    undo.push(() => n.close(rx));
    const tx = n.openTx(dev, { frameSize: o.txSlotSize, frameCount: o.txSlots, vnetHdr: true });
    undo.push(() => n.close(tx));
    const rxInfo = n.ringInfo(rx), txInfo = n.ringInfo(tx);
    const rxR = { off: this.region(rxInfo.size), size: rxInfo.size };
    regions.push(rxR);
    const txR = { off: this.region(txInfo.size), size: txInfo.size };
    regions.push(txR);
    const locR = { off: this.region(o.localQueueBytes), size: o.localQueueBytes };
    regions.push(locR);
    const rxGeom = n.mapInto(rx, this.mem, rxR.off);
    const txGeom = n.mapInto(tx, this.mem, txR.off);
    const rc = this.dp.x.ioAttach(id, rxR.off, rxGeom.version, rxGeom.blockSize, rxGeom.blockCount, rxGeom.frameSize, rxGeom.frameCount, 1,
      txR.off, txGeom.frameSize, txGeom.frameCount, 1, locR.off, locR.size);
    if (rc !== 0) throw new WeirError("WEIR_ERR_IO_ATTACH", `data plane refused link ${id}`);
    const state = linkState(n.linkInfo(dev));
    const a: Attached = {
      dev, id, rx, tx, tap, tapName: tname, regions: [...regions], rxGeom, txGeom,
      ringDrops: 0, ringFreezes: 0, tapDrops: 0, gone: false, state, downs: 0, downSince: 0, settling: state !== "up", watches: [], host,
    };
    this.links.set(dev, a);
    this.watchLink(a);
    this.byId.set(id, a);
    return a;
  }

  /** Watches the link's RX ring and (its own) TAP; again after a socket error, which stops a libuv poll handle. */
  private watchLink(a: Attached): void {
    for (const w of a.watches) this.native.unwatch(w);
    // A borrowed TAP is read by the supervisor only.
    a.watches = (a.host ? [a.rx, a.tap] : [a.rx]).map((h) => this.native.watch(h, () => this.onReadable()));
  }

  detach(dev: string): Promise<void> {
    return this.serial(() => this.detachNow(dev));
  }

  private async detachNow(dev: string): Promise<void> {
    const a = this.links.get(dev);
    if (!a) return;
    const n = this.native;
    const log = this.opts.log.child({ link: dev });
    this.links.delete(dev);
    for (const w of a.watches) this.native.unwatch(w);
    a.watches = [];
    this.byId.delete(a.id);
    this.dp.x.ioDetach(a.id);
    const quiet = (what: string, fn: () => unknown) => {
      try { fn(); } catch (e) { log.warn({ err: e }, what); }
    };
    quiet("close rx", () => n.close(a.rx));
    quiet("close tx", () => n.close(a.tx));
    for (const r of a.regions) this.release(r);
    if (!a.host) return;
    await this.host!.detach(a.host, a.gone, log);
    log.info("link detached");
  }

  /** The ports the kernel stack takes new connections on from the data links (`host-access`). */
  setHostAccess(rules: readonly HostAccessRule[]): Promise<void> {
    return this.serial(async () => {
      if (!this.host) throw new WeirError("WEIR_ERR_IO_RINGS_ONLY", "this packet I/O attaches rings only");
      await this.host.setHostAccess(rules);
    });
  }

  /** Makes the TAP mirror of dev carry exactly these addresses ("a/len") and routes. */
  syncNet(dev: string, want: LinkNet): Promise<void> {
    return this.serial(async () => {
      const h = this.links.get(dev)?.host;
      if (!h) return;
      await this.host!.syncNet(h, want, this.opts.log.child({ link: dev }));
    });
  }

  /** Detaches every link, stops the loop, removes the nft tables. */
  async close(): Promise<void> {
    for (const dev of [...this.links.keys()]) await this.detach(dev);
    this.running = false;
    this.stopTicks?.();
    await this.loopDone;
    await this.host?.close();
  }

  // ---- the loop ----

  private emptyWakes = 0;
  private stopTicks?: () => void;

  /** A watched ring or TAP is readable. One turn; level-triggered watches call again if frames remain. */
  private onReadable(): void {
    if (!this.running) return;
    try {
      if (this.turn() > 0) this.emptyWakes = 0;
      // Readable with nothing to read: a socket error. stats() takes it (and a gone link is detached).
      else if (++this.emptyWakes >= 4) { this.emptyWakes = 0; this.checkLinks(); }
    } catch (e) {
      this.opts.log.error({ err: e }, "packet I/O turn failed");
    }
  }

  /** Once a second, a turn for the clock and expiry sweep, and the links' counters; resolves when stopped. */
  private ticks(): Promise<void> {
    const timer = setInterval(() => {
      if (!this.running) return;
      this.onReadable();
      this.checkLinks();
    }, 1000);
    return new Promise<void>((resolve) => { this.stopTicks = () => { clearInterval(timer); resolve(); }; });
  }

  /** One turn: up to maxBatches batches through the data plane, then the TAP mirrors. Returns frames moved. */
  turn(): number {
    const x = this.dp.x;
    const o = this.opts;
    let total = 0;
    for (let b = 0; b < o.maxBatches; b++) {
      const got = x.ioRun(o.batch, o.now() >>> 0);
      this.flush();
      total += got;
      if (got < o.batch) break;
    }
    total += this.fromHost();
    return total;
  }

  /** Kicks links with TX frames queued and writes the host-stack frames to the TAPs. */
  private flush(): void {
    const x = this.dp.x;
    const n = this.native;
    for (const a of this.links.values()) {
      if (x.ioTakePending(a.id) > 0) {
        try { n.kickTx(a.tx); } catch (e) { this.lost(a, (e as Native.NativeError).code ?? (e as Error).message); continue; }
      }
      const used = x.ioLocalUsed(a.id);
      if (used === 0) continue;
      const base = x.ioLocalBase(a.id);
      const dv = this.memView;
      for (let off = 0; off < used;) {
        const len = dv.getUint32(base + off, true);
        try {
          if (n.tapWrite(a.tap, this.mem.subarray(base + off + 4, base + off + 4 + len)) === 0) a.tapDrops++;
        } catch {
          a.tapDrops++;
        }
        off += (4 + len + 3) & ~3;
      }
      x.ioLocalReset(a.id);
    }
  }

  /** Frames the kernel wrote to the TAP mirrors go out of their links unchanged. */
  private fromHost(): number {
    const x = this.dp.x;
    const n = this.native;
    let moved = 0;
    for (const a of this.links.values()) {
      if (!a.host) continue; // a borrowed TAP is read by the supervisor
      let k = 0;
      for (; k < 64; k++) {
        const slot = x.ioHostSlot(a.id);
        if (!slot) break;
        let len = 0;
        try { len = n.tapRead(a.tap, this.mem.subarray(slot, slot + x.ioHostCap(a.id))); } catch { break; }
        if (len === 0) break;
        x.ioHostCommit(a.id, len);
      }
      if (k > 0 && x.ioTakePending(a.id) > 0) {
        try { n.kickTx(a.tx); } catch (e) { this.lost(a, (e as Native.NativeError).code ?? (e as Error).message); }
      }
      moved += k;
    }
    return moved;
  }

  /**
   * PACKET_STATISTICS (drops, freezes), the socket error and the link's
   * state. Reading the error (SO_ERROR) clears it, so a level-triggered
   * POLLERR does not call again; libuv stops a poll handle that reported
   * POLLERR, so after an error the watch is started again (frames resume
   * when the link is up again). A device that vanished is detached.
   */
  private checkLinks(): void {
    const n = this.native;
    for (const a of [...this.links.values()]) {
      let error: string | null;
      try {
        const s = n.stats(a.rx);
        a.ringDrops += s.drops;
        a.ringFreezes += s.freezes;
        error = s.error;
      } catch (e) {
        error = errnoOf(e);
      }
      if (error !== null) {
        if (GONE.has(error)) { this.lost(a, error); continue; }
        this.watchLink(a);
        if (error !== "ENETDOWN") this.opts.log.warn({ link: a.dev, error }, "link error");
      }
      let info: Native.LinkInfo;
      try {
        info = n.linkInfo(a.dev);
      } catch (e) {
        this.lost(a, errnoOf(e));
        continue;
      }
      this.noteState(a, linkState(info), error);
    }
  }

  /**
   * Logs and counts a change of the link's state; the link stays attached and
   * configured up either way. A worker's rings log at debug level: the
   * supervisor's line is the one the operator reads.
   */
  private noteState(a: Attached, state: LinkState, error: string | null): void {
    if (state === a.state) return;
    const was = a.state;
    a.state = state;
    const log = this.opts.log;
    const say = this.host ? log.warn.bind(log) : log.debug.bind(log);
    if (state === "up") {
      const settled = a.settling;
      a.settling = false;
      if (settled) log.debug({ link: a.dev, was }, "link up");
      else (this.host ? log.info.bind(log) : log.debug.bind(log))({ link: a.dev, was, downMs: this.opts.now() - a.downSince }, "link up again: frames flow");
      return;
    }
    if (was === "up" || (a.settling && state === "down")) {
      a.settling = false;
      a.downs++;
      a.downSince = this.opts.now();
      say({ link: a.dev, state, error: error ?? undefined, downs: a.downs },
        `link ${state === "down" ? "set down" : "lost its carrier"}: kept attached, frames resume when it is up`);
    } else {
      say({ link: a.dev, was, state }, "link still down");
    }
  }

  /** A socket call failed: a vanished device is detached; a link down only noted (checkLinks sees it come back). */
  private lost(a: Attached, error: string): void {
    if (a.gone || !this.links.has(a.dev)) return;
    if (error === "ENETDOWN") {
      // Sending on a link that is down (a kick): noted once, frames wait in the TX ring.
      if (a.state === "up") this.noteState(a, "down", error);
      return;
    }
    if (!GONE.has(error)) {
      this.opts.log.warn({ link: a.dev, error }, "link error");
      return;
    }
    a.gone = true;
    this.opts.log.error({ link: a.dev, error }, "link went away: detaching it");
    void this.detach(a.dev).then(() => this.opts.onGone?.(a.dev, error), (e) => this.opts.log.warn({ err: e }, "detach failed"));
  }

  // ---- counters ----

  stats(): LinkIoStats[] {
    const x = this.dp.x;
    const names: string[] = [];
    for (let i = 0; i < x.ioCounterCount(); i++) names.push(this.dp.readString(x.ioCounterName(i)));
    return [...this.links.values()].map((a) => {
      const counters: Record<string, bigint> = {};
      names.forEach((nm, i) => (counters[nm] = x.ioCounter(a.id, i)));
      return { dev: a.dev, id: a.id, tap: a.tapName, rxVersion: a.rxGeom.version, state: a.state, downs: a.downs, ringDrops: a.ringDrops, ringFreezes: a.ringFreezes, tapDrops: a.tapDrops, counters };
    });
  }
}
