// Raw frames on one data link: an AF_PACKET RX socket with a classic BPF
// filter the caller gives (only the frames it takes ever reach the ring), read
// on this thread's event loop (native watch(): no CPU while idle), and an
// AF_PACKET TX ring for whole frames. VRRP (vrrpio.ts) and connection sync
// (src/sync/) are its users; each brings its own filter.
//
// AF_PACKET sees a frame before the nftables netdev ingress drop the
// appliance puts on attached links, and every AF_PACKET socket gets its own
// copy, so this works on attached links and leaves the data plane's RX ring
// alone. RX is TPACKET_V2 (a frame is handed over at once: V3's block
// timeout would add to every frame's latency) with PACKET_IGNORE_OUTGOING
// (our own frames do not come back). The kernel moves an 802.1Q tag into the
// frame's metadata before AF_PACKET sees it; a tag found in the frame itself
// is taken out the same way, so onFrame always gets an untagged frame and the
// VLAN id beside it.
//
// Multicast on real NICs: the kernel has no subscription to a group on a
// data link (its addresses live on the TAP mirror), and the addon has no
// PACKET_ADD_MEMBERSHIP; veth and TAP do not filter, a NIC with a multicast
// filter needs its link in allmulticast mode.

import { WeirError, type ErrorCode } from "../errors.js";
import type * as Native from "../../native/index.js";
import { ETH_8021Q as ETH_P_8021Q } from "./steer/rule.js";

type NativeMod = typeof Native;

export interface RawLinkOptions {
  /**
   * A frame that passed the filter: an untagged Ethernet frame (a copy, the
   * caller's to keep), the time it was read (µs on `now`), and the 802.1Q
   * VLAN id it carried, or null when it had no tag. Should not throw: an
   * exception propagates out of the event loop's callback (uncaught), after
   * the frame's slot was given back.
   */
  onFrame(frame: Uint8Array, at: number, vlan: number | null): void;
  /** A socket error the kernel reported, by errno name: ENETDOWN when the link went down (reception resumes when it comes back up) or away. */
  onLinkError?(errno: string): void;
  /** Clock for `at`, µs. Default: the process's monotonic clock in µs, as vrrp/clock.ts's systemScheduler. */
  now?: () => number;
  /** The addon (tests); default: loaded from native/. */
  native?: NativeMod;
}

/** What a user of RawLink brings: its socket filter, and how its errors read. */
export interface RawLinkKind {
  /** sock_filter[] (8 bytes an instruction), attached before bind. */
  filter: Uint8Array;
  /** Names the I/O in messages: "VRRP packet I/O". */
  what: string;
  /** The code of an open or send failure other than NO_DEVICE and IO_STOPPED. */
  ioCode: ErrorCode;
  /**
   * The RX ring: slots of slotSize bytes (a power of two ≥ 128, holding the
   * largest frame plus the kernel's ~80-byte slot header). Default 32 of 16 KiB,
   * for a few frames at a time (VRRP); a bulk of sync messages needs more slots.
   */
  rxRing?: { slotSize: number; slots: number };
}

/** Counters of one link (also readable as the object's fields). */
export interface RawLinkStats {
  dev: string;
  /** Frames handed to onFrame. */
  rxFrames: number;
  /** Frames longer than an RX slot (never handed on). */
  rxTruncated: number;
  /** PACKET_STATISTICS drops: frames lost for want of a free RX slot. */
  rxRingDrops: number;
  /** Frames the kernel took and sent. */
  txFrames: number;
  /** send() calls that sent nothing (link down or gone, device queue full, a frame the kernel refused). */
  txFailures: number;
  /** Socket errors reported (onLinkError), and the last one. */
  linkErrors: number;
  lastError: string | null;
}

// RX: 32 slots of 16 KiB (a frame of a 9000-byte MTU fits; neither VRRP nor sync's multicast UDP is GRO'd).
const RX_SLOT = 1 << 14, RX_SLOTS = 32;
const PAGE = 4096;

/** TPACKET_V2 ring options: one slot per frame, blocks of at least a page (the kernel's rule) holding whole slots. */
function rxGeometry(kind: RawLinkKind): { blockSize: number; blockCount: number; frameSize: number } {
  const slot = kind.rxRing?.slotSize ?? RX_SLOT, slots = kind.rxRing?.slots ?? RX_SLOTS;
  const block = Math.max(slot, PAGE);
  return { blockSize: block, blockCount: Math.ceil((slot * slots) / block), frameSize: slot };
}
const WASM_PAGE = 1 << 16;
// TX: 16 slots of 16 KiB (frame data starts 32 bytes into a slot).
const TX_SLOT = 1 << 14, TX_SLOTS = 16;

function errnoOf(e: unknown): string {
  return (e as Native.NativeError)?.code ?? (e as Error)?.message ?? String(e);
}

export class RawLink {
  rxFrames = 0;
  rxTruncated = 0;
  rxRingDrops = 0;
  txFrames = 0;
  txFailures = 0;
  linkErrors = 0;
  lastError: string | null = null;

  private closed = false;
  private watchId: number | undefined;
  private rxSlot = 0;
  private txSlot = 0;
  private readonly view: DataView;
  private readonly now: () => number;

  protected constructor(
    readonly dev: string,
    private readonly kind: RawLinkKind,
    private readonly n: NativeMod,
    private readonly rx: Native.Handle,
    private readonly rxRing: Native.RingGeometry,
    private readonly tx: Native.Handle,
    private readonly txRing: Native.RingGeometry,
    /** Both rings, mapped at rxRing.offset and txRing.offset. */
    private readonly mem: Uint8Array,
    private readonly o: RawLinkOptions,
  ) {
    this.view = new DataView(mem.buffer, mem.byteOffset, mem.byteLength);
    this.now = o.now ?? (() => Math.floor(performance.now() * 1000));
  }

  /**
   * Opens the RX socket (filter attached before bind: nothing else ever
   * reaches its ring) and the TX ring on dev, and starts reading. Throws
   * WeirError NO_DEVICE for an unknown link, kind.ioCode for any other failure
   * (e.g. EPERM without CAP_NET_RAW); nothing stays open then.
   */
  static async openRaw<T extends RawLink>(this: { prototype: T }, dev: string, kind: RawLinkKind, o: RawLinkOptions): Promise<T> {
    // `this` is the class openRaw was called on (RawLink or a subclass), so the link is one of it.
    const Link = this as unknown as new (...a: ConstructorParameters<typeof RawLinkCtorShape>) => T;
    const n = o.native ?? (await import("../../native/index.js"));
    const opened: Native.Handle[] = [];
    try {
      const rx = n.openRx(dev, {
        version: 2, ...rxGeometry(kind),
        filter: kind.filter, ignoreOutgoing: true,
      });
      opened.push(rx);
      const tx = n.openTx(dev, { frameSize: TX_SLOT, frameCount: TX_SLOTS });
      opened.push(tx);
      // Both rings in one small memory of our own, mapped with mapInto rather than mapSeparate:
      // a mapping holds its socket open, and close() unmaps at once (mapSeparate's mapping
      // goes only when its buffer is collected, and the socket would go on taking frames).
      const rxSize = n.ringInfo(rx).size, txSize = n.ringInfo(tx).size;
      const pages = Math.ceil((rxSize + txSize) / WASM_PAGE);
      const mem = new Uint8Array(new WebAssembly.Memory({ initial: pages, maximum: pages }).buffer);
      const rxRing = n.mapInto(rx, mem, 0);
      const txRing = n.mapInto(tx, mem, rxSize);
      const link = new Link(dev, kind, n, rx, rxRing, tx, txRing, mem, o);
      link.watchId = n.watch(rx, () => link.onReadable());
      return link;
    } catch (e) {
      for (const h of opened.reverse()) {
        try { n.close(h); } catch { /* closing what we opened: nothing more to do */ }
      }
      const code = errnoOf(e);
      if (code === "ENODEV") throw new WeirError("WEIR_ERR_NO_DEVICE", `no such network device: ${dev}`);
      throw new WeirError(kind.ioCode, `cannot open ${kind.what} on ${dev}: ${(e as Error)?.message ?? code}`);
    }
  }

  get isClosed(): boolean { return this.closed; }

  /** The largest frame send() takes (the kernel also refuses one longer than the link's MTU + 14, or + 18 with a tag). */
  get maxFrame(): number { return this.txRing.frameSize - this.n.TPACKET2_HDR.DATA_OFFSET; }

  /**
   * Sends one whole Ethernet frame now (one TX slot, one kick). Returns
   * whether the kernel sent it; a failure (link down or gone, device queue
   * full, a frame the kernel refuses) is counted in txFailures and its errno
   * kept in lastError, and leaves the ring ready for the next frame. Throws
   * WeirError IO_STOPPED after close(), kind.ioCode for a frame shorter than an
   * Ethernet header or longer than maxFrame.
   */
  send(frame: Uint8Array): boolean {
    if (this.closed) throw new WeirError("WEIR_ERR_IO_STOPPED", `${this.kind.what} on ${this.dev} is closed`);
    if (frame.length < 14 || frame.length > this.maxFrame) {
      throw new WeirError(this.kind.ioCode, `a frame of ${frame.length} bytes cannot be sent on ${this.dev} (14..${this.maxFrame})`);
    }
    const { TPACKET2_HDR: T, TP_STATUS: S } = this.n;
    const dv = this.view;
    const base = this.txRing.offset + this.txSlot * this.txRing.frameSize;
    const st = dv.getUint32(base + T.STATUS, true);
    // Only our previous frames can be in the ring, each sent or taken back when it was kicked:
    // a busy slot is one the device has not released yet (16 frames ago).
    if (st !== S.AVAILABLE && st !== S.WRONG_FORMAT) return this.failed("EBUSY");
    this.mem.set(frame, base + T.DATA_OFFSET);
    dv.setUint32(base + T.LEN, frame.length, true);
    dv.setUint32(base + T.STATUS, S.SEND_REQUEST, true);
    let sent = 0;
    let err: string | undefined;
    try {
      sent = this.n.kickTx(this.tx);
    } catch (e) {
      err = errnoOf(e);
    }
    if (dv.getUint32(base + T.STATUS, true) === S.SEND_REQUEST) {
      // Not taken (link down: ENETDOWN before the ring is read; EAGAIN/ENOBUFS: put back for a retry).
      // Take it back and keep the slot, so the kernel's ring position and ours stay together.
      dv.setUint32(base + T.STATUS, S.AVAILABLE, true);
      return this.failed(err ?? "EAGAIN");
    }
    // Taken: the kernel moved past this slot (sent, or skipped as malformed with PACKET_LOSS).
    this.txSlot = (this.txSlot + 1) % this.txRing.frameCount;
    if (err !== undefined || sent <= 0) return this.failed(err ?? "EMSGSIZE");
    this.txFrames++;
    return true;
  }

  private failed(errno: string): false {
    this.txFailures++;
    this.lastError = errno;
    return false;
  }

  /** The counters, PACKET_STATISTICS read first (they reset in the kernel on every read and accumulate here). */
  stats(): RawLinkStats {
    if (!this.closed) this.readSocketStats();
    return {
      dev: this.dev, rxFrames: this.rxFrames, rxTruncated: this.rxTruncated, rxRingDrops: this.rxRingDrops,
      txFrames: this.txFrames, txFailures: this.txFailures, linkErrors: this.linkErrors, lastError: this.lastError,
    };
  }

  /** Stops reading, unmaps both rings and closes both sockets. Idempotent. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    if (this.watchId !== undefined) this.n.unwatch(this.watchId);
    this.watchId = undefined;
    for (const h of [this.rx, this.tx]) {
      try { this.n.close(h); } catch { /* already gone with its link: nothing to release */ }
    }
  }

  // ---- receiving ----

  /**
   * The RX socket is readable or in error: every waiting frame, then the
   * socket error if any. libuv stops a poll handle that reports POLLERR
   * (ENETDOWN when the link goes down), so after an error the watch is
   * started again: reception resumes when the link comes back up.
   */
  private onReadable(): void {
    if (this.closed) return;
    this.drain();
    if (!this.closed) this.readSocketStats();
  }

  private readSocketStats(): void {
    let error: string | null;
    try {
      const s = this.n.stats(this.rx);
      this.rxRingDrops += s.drops;
      error = s.error;
    } catch (e) {
      error = errnoOf(e);
    }
    if (error === null) return;
    this.linkErrors++;
    this.lastError = error;
    if (this.watchId !== undefined) {
      this.n.unwatch(this.watchId);
      this.watchId = this.n.watch(this.rx, () => this.onReadable());
    }
    this.o.onLinkError?.(error);
  }

  private drain(): number {
    const { TPACKET2_HDR: T, TP_STATUS: S } = this.n;
    const dv = this.view, mem = this.mem, g = this.rxRing;
    let n = 0;
    while (n < g.frameCount && !this.closed) {
      const base = g.offset + this.rxSlot * g.frameSize;
      const status = dv.getUint32(base + T.STATUS, true);
      if ((status & S.USER) === 0) break;
      n++;
      try {
        const mac = dv.getUint16(base + T.MAC, true);
        const snap = dv.getUint32(base + T.SNAPLEN, true);
        if (snap < dv.getUint32(base + T.LEN, true)) {
          this.rxTruncated++;
          continue;
        }
        let frame = mem.slice(base + mac, base + mac + snap);
        let vlan: number | null = status & S.VLAN_VALID ? dv.getUint16(base + T.VLAN_TCI, true) & 0xfff : null;
        if (vlan === null && frame.length >= 18 && ((frame[12] << 8) | frame[13]) === ETH_P_8021Q) {
          // The tag still in the frame (the filter took it): out, as the kernel does.
          vlan = ((frame[14] << 8) | frame[15]) & 0xfff;
          const untagged = new Uint8Array(frame.length - 4);
          untagged.set(frame.subarray(0, 12), 0);
          untagged.set(frame.subarray(16), 12);
          frame = untagged;
        }
        this.rxFrames++;
        this.o.onFrame(frame, this.now(), vlan);
      } finally {
        dv.setUint32(base + T.STATUS, S.KERNEL, true);
        this.rxSlot = (this.rxSlot + 1) % g.frameCount;
      }
    }
    return n;
  }
}

/** The constructor's parameters, for openRaw's `new` (the constructor itself is protected). */
declare class RawLinkCtorShape {
  constructor(dev: string, kind: RawLinkKind, n: NativeMod, rx: Native.Handle, rxRing: Native.RingGeometry,
    tx: Native.Handle, txRing: Native.RingGeometry, mem: Uint8Array, o: RawLinkOptions);
}
