// Packet I/O on the supervisor's main thread: links attached with AF_PACKET
// rings mapped into the data plane's memory (native addon, native/README.md),
// walked in place by one Wasm call per batch (assembly/ring/io.ts).
//
// The main thread's own event loop watches each RX ring and TAP (native
// watch(): libuv poll handles, no CPU while idle, plus a tick a second for
// the connection clock). A readable ring gets one turn: up to maxBatches ×
// batch frames through the data plane, each link's TX ring kicked once per
// batch, frames passed to and from the TAP mirrors. The watches are
// level-triggered, so a ring still busy after its turn is served again on
// the next loop iteration, after consoles, health checks and timers had
// theirs. (wake "thread", the earlier design, waits in native.pollAsync on
// the addon's poll thread instead.) One Wasm instance, so configuration
// transactions and counter reads stay synchronous; several workers (fanout
// per link, one instance each) are a later step: attach() keeps everything
// about a link in one record that a worker could own.
//
// Per attached link:
//   - RX ring (TPACKET_V2 by default: a frame is handed over at once; V3
//     hands over blocks, adding up to its block timeout at low rates) and a
//     TX ring (V2), both with PACKET_VNET_HDR so offloaded frames (partial
//     checksums, TSO/GSO/GRO) pass through (assembly/xmit/offload.ts);
//   - an nftables netdev ingress drop (table weir_PID), so the kernel's stack
//     never sees the data link's frames;
//   - a TAP mirror (weir-DEV) with the link's MAC and MTU, carrying the
//     link's addresses: frames for the appliance that the data plane does
//     not handle go there, and what the kernel sends there goes out of the
//     link as it is (health checks, management);
//   - an nftables input chain on the TAPs (table inet weir_PID, hostguard.ts):
//     the kernel takes no new connections from the data side unless the
//     operator opened the port (`host-access`);
//   - on detach or exit everything is put back as it was.

import { WeirError } from "./errors.js";
import type { DataPlane } from "./dataplane.js";
import type { Logger } from "../log.js";
import { snapshot, takeOver, restore, ip, IngressDrop, tapName, type LinkSnapshot } from "./host.js";
import type * as Native from "../../native/index.js";
import { DEFAULT_JOURNAL_DIR, HostJournal } from "./journal.js";
import { HostGuard, type HostAccessRule } from "./hostguard.js";

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
  /**
   * After the last frame, keep turning (yielding with setImmediate in
   * between) this long before going back to poll: a reply that comes back
   * within it skips the poll thread's wake-up. Default 0: measured on two
   * cores, spinning took the CPU the peers needed and made latency worse
   * (UDP request/response RTT p50 280 µs without, 440 µs with 200 µs).
   */
  spinUs?: number;
  /**
   * How the loop learns that a ring has frames: "loop" (default), a libuv
   * poll handle per ring and TAP on the main thread's own event loop (native
   * watch()): one wake-up per event; "thread", the addon's poll thread
   * resolving pollAsync through a thread-safe function: two wake-ups (the
   * poll thread's, then the main thread's). Measured here (UDP
   * request/response through NAT, 3 runs each): p99 750-800 µs with "loop",
   * 1.4-1.9 ms with "thread"; TCP stream throughput the same.
   */
  wake?: "thread" | "loop";
  /** nftables table name (default weir_PID). */
  nftTable?: string;
  /** Where attached links' snapshots are kept for cleanup after an unclean exit (journal.ts); null: nowhere. */
  journalDir?: string | null;
  /** Clock of the data plane, ms. */
  now: () => number;
  log: Logger;
  /** Called when a link went away under the appliance (after it was detached). */
  onGone?: (dev: string, error: string) => void;
  /**
   * Socket filter (cBPF, native setFilter) for the RX rings opened from now
   * on: with worker threads each ring takes only its share of the frames
   * (replica/steer). None: every frame.
   */
  rxFilter?: () => Uint8Array | undefined;
  /** A worker thread's I/O: rings only (attachRings); no nftables, TAPs or host changes of its own. */
  ringsOnly?: boolean;
}

/** Counters of one attached link. */
export interface LinkIoStats {
  dev: string;
  id: number;
  tap: string;
  rxVersion: number;
  /** PACKET_STATISTICS: frames the kernel dropped for want of room in the RX ring, and ring freezes (V3). */
  ringDrops: number;
  ringFreezes: number;
  /** TAP writes that found the device queue full. */
  tapDrops: number;
  /** From the data plane's ring walker (assembly/ring/port.ts). */
  counters: Record<string, bigint>;
}

interface Region { off: number; size: number; }

interface Attached {
  /** Native watches of rx and the TAP (wake "loop"). */
  watches: number[];
  dev: string;
  id: number;
  rx: number;
  tx: number;
  tap: number;
  tapName: string;
  /** The TAP's MTU: the link's, as configured. */
  mtu: number;
  regions: Region[];
  rxGeom: Native.RingGeometry;
  txGeom: Native.RingGeometry;
  snap: LinkSnapshot;
  /** Addresses and routes put on the TAP ("addr/len", "dst via gw"). */
  addrs: Set<string>;
  routes: Set<string>;
  ringDrops: number;
  ringFreezes: number;
  tapDrops: number;
  gone: boolean;
  /** A worker's rings on a link the supervisor attached: the TAP is the supervisor's (written to, never read or closed here), the host side untouched. */
  borrowed: boolean;
}

/** Desired kernel-side addresses and routes of a link (its TAP mirror). */
export interface LinkNet { addrs: string[]; routes: { dst: string; via?: string }[]; mtu?: number; }

const MiB = 1 << 20;

export class PacketIo {
  private native!: NativeMod;
  private readonly links = new Map<string, Attached>();
  private readonly byId = new Map<number, Attached>();
  private readonly pool = new Map<number, number[]>();
  private readonly drop: IngressDrop | undefined;
  private readonly guard: HostGuard | undefined;
  private readonly journal: HostJournal | undefined;
  private waker = -1;
  private running = false;
  private loopDone: Promise<void> = Promise.resolve();
  private mem: Uint8Array;
  private readonly memView: DataView;
  private lastStats = 0;
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
      spinUs: o.spinUs ?? 0,
      wake: o.wake ?? "loop",
      now: o.now,
      log: o.log,
      onGone: o.onGone,
      rxFilter: o.rxFilter,
    };
    this.drop = o.ringsOnly ? undefined : new IngressDrop(o.nftTable ?? `weir_${process.pid}`);
    this.guard = this.drop && new HostGuard(this.drop.table);
    const dir = o.journalDir === undefined ? DEFAULT_JOURNAL_DIR : o.journalDir;
    this.journal = dir && this.drop ? new HostJournal(dir, this.drop.table) : undefined;
    this.mem = new Uint8Array(dp.memory.buffer);
    this.memView = new DataView(dp.memory.buffer); // the memory never grows (rings are mapped into it)
  }

  /** Loads the addon and starts the loop (idle: one wake-up a second for the expiry sweep). */
  async start(): Promise<void> {
    if (this.journal) {
      for (const line of await HostJournal.recover(this.journal.dir, (m) => this.opts.log.warn(m))) this.opts.log.warn(line);
    }
    this.native = await import("../../native/index.js");
    this.waker = this.native.wakerOpen();
    this.running = true;
    this.loopDone = this.opts.wake === "loop" ? this.tickLoop() : this.loop();
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
    const drop = this.drop;
    if (!drop) throw new WeirError("WEIR_ERR_IO_RINGS_ONLY", "this packet I/O attaches rings only");
    if (this.links.has(dev)) return;
    const n = this.native;
    const o = this.opts;
    const log = o.log.child({ link: dev });
    try {
      n.linkInfo(dev);
    } catch (e) {
      const code = (e as Native.NativeError).code;
      throw new WeirError("WEIR_ERR_NO_DEVICE", code === "ENODEV" ? "no such device" : (e as Error).message);
    }
    const undo: (() => Promise<unknown> | unknown)[] = [];
    const regions: Region[] = [];
    try {
      const snap = await snapshot(dev);
      this.journal?.record(dev, snap);
      undo.push(() => this.journal?.forget(dev));
      await drop.add(dev, id);
      undo.push(() => drop.remove(id));
      await takeOver(dev, snap);
      undo.push(() => restore(dev, snap, (m) => log.warn(m)));

      const tname = tapName(dev, id);
      const tap = n.tapOpen(tname);
      undo.push(() => n.tapClose(tap.handle));
      // The kernel stack is guarded before the TAP comes up.
      await this.guard!.addTap(dev, tap.name);
      undo.push(() => this.guard!.removeTap(dev));
      await ip("link", "set", "dev", tap.name, "address", mac, "mtu", String(mtu), "up");
      const a = this.openRings(dev, id, tap.handle, tap.name, mtu, snap, false, undo, regions);
      // Addresses the link had in the kernel move to its mirror.
      for (const x of snap.addrs) await this.addAddr(a, `${x.addr}/${x.len}`).catch((e) => log.warn({ err: e }, "address not moved"));
      this.wake();
      log.info({ tap: tap.name, rx: { version: a.rxGeom.version, size: a.rxGeom.size }, tx: { slots: a.txGeom.frameCount, size: a.txGeom.size }, qdiscBypass: a.txGeom.qdiscBypass }, "link attached");
    } catch (e) {
      await this.unwind(undo, regions, log);
      throw e;
    }
  }

  private async unwind(undo: (() => Promise<unknown> | unknown)[], regions: Region[], log: Logger): Promise<void> {
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
   * plane's memory; frames for the host stack go to the supervisor's TAP.
   */
  attachRings(dev: string, id: number, tap: number, mtu: number): Promise<void> {
    return this.serial(async () => {
      if (!this.running) throw new WeirError("WEIR_ERR_IO_STOPPED", "packet I/O is not running");
      if (this.links.has(dev)) return;
      const undo: (() => unknown)[] = [];
      const regions: Region[] = [];
      try {
        this.openRings(dev, id, tap, tapName(dev, id), mtu, { up: true, addrs: [], disableIpv6: null }, true, undo, regions);
        this.wake();
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

  private openRings(dev: string, id: number, tap: number, tname: string, mtu: number, snap: LinkSnapshot, borrowed: boolean,
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
    const a: Attached = {
      dev, id, rx, tx, tap, tapName: tname, mtu, regions: [...regions], rxGeom, txGeom, snap,
      addrs: new Set(), routes: new Set(), ringDrops: 0, ringFreezes: 0, tapDrops: 0, gone: false, watches: [], borrowed,
    };
    this.links.set(dev, a);
    // A borrowed TAP is read by the supervisor only.
    if (o.wake === "loop") a.watches = (borrowed ? [rx] : [rx, tap]).map((h) => n.watch(h, () => this.onReadable()));
    this.byId.set(id, a);
    return a;
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
    this.wake(); // the pending poll holds duplicates of these descriptors: let it go
    const quiet = (what: string, fn: () => unknown) => {
      try { fn(); } catch (e) { log.warn({ err: e }, what); }
    };
    quiet("close rx", () => n.close(a.rx));
    quiet("close tx", () => n.close(a.tx));
    for (const r of a.regions) this.release(r);
    if (a.borrowed) return;
    quiet("close tap", () => n.tapClose(a.tap));
    try { await this.guard?.removeTap(dev); } catch (e) { log.warn({ err: e }, "host guard not updated"); }
    try { await this.drop?.remove(a.id); } catch (e) { log.warn({ err: e }, "nft chain not removed"); }
    if (!a.gone) await restore(dev, a.snap, (m) => log.warn(m));
    this.journal?.forget(dev);
    log.info("link detached");
  }

  /** The ports the kernel stack takes new connections on from the data links (`host-access`). */
  setHostAccess(rules: readonly HostAccessRule[]): Promise<void> {
    return this.serial(async () => {
      if (!this.guard) throw new WeirError("WEIR_ERR_IO_RINGS_ONLY", "this packet I/O attaches rings only");
      await this.guard.setRules(rules);
    });
  }

  /** Makes the TAP mirror of dev carry exactly these addresses ("a/len") and routes. */
  syncNet(dev: string, want: LinkNet): Promise<void> {
    return this.serial(async () => {
      const a = this.links.get(dev);
      if (!a) return;
      const log = this.opts.log.child({ link: dev });
      // `ip link set DEV mtu N` reaches the TAP too: the kernel's own traffic on the link must fit it.
      if (want.mtu !== undefined && want.mtu !== a.mtu) {
        await ip("link", "set", "dev", a.tapName, "mtu", String(want.mtu)).then(() => { a.mtu = want.mtu!; }, (e) => log.warn({ err: e }, "TAP mtu not set"));
      }
      const keep = new Set([...want.addrs, ...a.snap.addrs.map((x) => `${x.addr}/${x.len}`)]);
      for (const x of [...a.addrs]) {
        if (keep.has(x)) continue;
        await ip("addr", "del", x, "dev", a.tapName).catch((e) => log.warn({ err: e }, "address not removed"));
        a.addrs.delete(x);
      }
      for (const x of want.addrs) if (!a.addrs.has(x)) await this.addAddr(a, x).catch((e) => log.warn({ err: e, addr: x }, "address not mirrored"));
      const routes = new Map(want.routes.map((r) => [`${r.dst}${r.via ? ` via ${r.via}` : ""}`, r]));
      for (const k of [...a.routes]) {
        if (routes.has(k)) continue;
        await ip("route", "del", k.split(" ")[0], "dev", a.tapName).catch(() => undefined);
        a.routes.delete(k);
      }
      for (const [k, r] of routes) {
        if (a.routes.has(k)) continue;
        const args = ["route", "replace", r.dst, ...(r.via ? ["via", r.via] : []), "dev", a.tapName];
        await ip(...args).then(() => a.routes.add(k), (e) => log.warn({ err: e, route: k }, "route not mirrored"));
      }
    });
  }

  private async addAddr(a: Attached, cidr: string): Promise<void> {
    // nodad: the address is the appliance's already; noprefixroute is not wanted (the kernel needs the connected route).
    const v6 = cidr.includes(":");
    await ip("addr", "replace", cidr, "dev", a.tapName, ...(v6 ? ["nodad"] : []));
    a.addrs.add(cidr);
  }

  /** Detaches every link, stops the loop, removes the nft table. */
  async close(): Promise<void> {
    for (const dev of [...this.links.keys()]) await this.detach(dev);
    this.running = false;
    this.stopTicks?.();
    this.wake();
    await this.loopDone;
    if (this.waker >= 0) {
      try { this.native.close(this.waker); } catch { /* closed */ }
      this.waker = -1;
    }
    await this.drop?.drop().catch((e) => this.opts.log.warn({ err: e }, "nft table not removed"));
    await this.guard?.drop().catch((e) => this.opts.log.warn({ err: e }, "nft guard table not removed"));
    this.journal?.remove();
  }

  private wake(): void {
    if (this.waker >= 0) {
      try { this.native.wake(this.waker); } catch { /* closing */ }
    }
  }

  // ---- the loop ----

  private emptyWakes = 0;
  private stopTicks?: () => void;

  /** wake "loop": a watched ring or TAP is readable. One turn; level-triggered watches call again if frames remain. */
  private onReadable(): void {
    if (!this.running) return;
    try {
      if (this.turn() > 0) this.emptyWakes = 0;
      // Readable with nothing to read: a socket error. stats() takes it (and a gone link is detached).
      else if (++this.emptyWakes >= 4) { this.emptyWakes = 0; this.checkLinks(true); }
    } catch (e) {
      this.opts.log.error({ err: e }, "packet I/O turn failed");
    }
  }

  /** wake "loop": once a second, a turn for the clock and expiry sweep, and the links' counters. */
  private tickLoop(): Promise<void> {
    const timer = setInterval(() => {
      if (!this.running) return;
      this.onReadable();
      this.checkLinks(true);
      this.lastStats = Date.now();
    }, 1000);
    return new Promise<void>((resolve) => { this.stopTicks = () => { clearInterval(timer); resolve(); }; });
  }

  private async loop(): Promise<void> {
    const n = this.native;
    const log = this.opts.log;
    while (this.running) {
      const handles = [this.waker];
      for (const a of this.links.values()) handles.push(a.rx, ...(a.borrowed ? [] : [a.tap]));
      let ready: number[] = [];
      try {
        ready = await n.pollAsync(handles, 1000);
      } catch (e) {
        // A handle closed between building the list and the call: build it again.
        if ((e as Native.NativeError).code !== "WEIR_ERR_BAD_HANDLE") log.warn({ err: e }, "poll failed");
        await new Promise((r) => setTimeout(r, 10));
        continue;
      }
      if (!this.running) break;
      try {
        // Busy: turn after turn, yielding in between, until the rings have
        // stayed empty for spinUs (bounded CPU per burst; none when idle).
        let last = performance.now();
        const spinMs = this.opts.spinUs / 1000;
        while (this.running) {
          if (this.turn() > 0) last = performance.now();
          else if (performance.now() - last >= spinMs) break;
          await new Promise((r) => setImmediate(r));
        }
      } catch (e) {
        log.error({ err: e }, "packet I/O turn failed");
      }
      const t = Date.now();
      if (ready.length > 0 || t - this.lastStats >= 1000) this.checkLinks(t - this.lastStats >= 1000);
      if (t - this.lastStats >= 1000) this.lastStats = t;
    }
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
      if (a.borrowed) continue;
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

  /** PACKET_STATISTICS (drops, freezes) and socket errors: a link that went away is detached. */
  private checkLinks(all: boolean): void {
    if (!all) return;
    const n = this.native;
    for (const a of [...this.links.values()]) {
      try {
        const s = n.stats(a.rx);
        a.ringDrops += s.drops;
        a.ringFreezes += s.freezes;
        if (s.error) this.lost(a, s.error);
        else n.linkInfo(a.dev);
      } catch (e) {
        this.lost(a, (e as Native.NativeError).code ?? (e as Error).message);
      }
    }
  }

  private lost(a: Attached, error: string): void {
    if (a.gone || !this.links.has(a.dev)) return;
    if (!["ENETDOWN", "ENODEV", "ENXIO", "WEIR_ERR_BAD_HANDLE"].includes(error)) {
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
      return { dev: a.dev, id: a.id, tap: a.tapName, rxVersion: a.rxGeom.version, ringDrops: a.ringDrops, ringFreezes: a.ringFreezes, tapDrops: a.tapDrops, counters };
    });
  }
}
