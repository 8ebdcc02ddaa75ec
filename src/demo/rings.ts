// Plain AF_PACKET rings through the addon for the demo helpers (the
// decapsulator and the test agent): a TPACKET_V2 RX ring (one slot per frame,
// handed over at once) and a TPACKET_V2 TX ring, each in a mapping of its own.
// Layouts: native/README.md.

import * as native from "../../native/index.js";

const { TPACKET2_HDR, TP_STATUS, VIRTIO_NET_HDR } = native;

export interface RxFrame {
  /** The Ethernet frame (a view into the ring: copy what you keep). */
  frame: Uint8Array;
  /** tp_status flags (CSUMNOTREADY, GSO_TCP, …). */
  status: number;
  /** Bytes on the wire (more than frame.length when the slot truncated it). */
  len: number;
  /** The virtio_net_hdr, when the ring was opened with vnetHdr. */
  vnet: Uint8Array | null;
}

export class RxRing {
  readonly handle: native.Handle;
  private readonly mem: Uint8Array;
  private readonly dv: DataView;
  private readonly g: native.SeparateRing;
  private slot = 0;

  /** slotSize bytes per frame (a power of two ≥ 4096 holding the largest frame), slots of them. */
  constructor(readonly ifname: string, opts: { slotSize?: number; slots?: number; vnetHdr?: boolean; ignoreOutgoing?: boolean } = {}) {
    const slotSize = opts.slotSize ?? 1 << 17;
    this.handle = native.openRx(ifname, {
      version: 2, blockSize: slotSize, blockCount: opts.slots ?? 32, frameSize: slotSize,
      vnetHdr: opts.vnetHdr ?? false, ignoreOutgoing: opts.ignoreOutgoing ?? true,
    });
    this.g = native.mapSeparate(this.handle);
    this.mem = new Uint8Array(this.g.buffer);
    this.dv = new DataView(this.g.buffer);
  }

  /** Calls fn for each waiting frame (at most max); returns how many. */
  drain(fn: (f: RxFrame) => void, max = this.g.frameCount): number {
    let n = 0;
    while (n < max) {
      const base = this.slot * this.g.frameSize;
      const status = this.dv.getUint32(base + TPACKET2_HDR.STATUS, true);
      if ((status & TP_STATUS.USER) === 0) break;
      const mac = this.dv.getUint16(base + TPACKET2_HDR.MAC, true);
      const snap = this.dv.getUint32(base + TPACKET2_HDR.SNAPLEN, true);
      try {
        fn({
          frame: this.mem.subarray(base + mac, base + mac + snap),
          status,
          len: this.dv.getUint32(base + TPACKET2_HDR.LEN, true),
          vnet: this.g.vnetHdr ? this.mem.subarray(base + mac - VIRTIO_NET_HDR.SIZE, base + mac) : null,
        });
      } finally {
        this.dv.setUint32(base + TPACKET2_HDR.STATUS, TP_STATUS.KERNEL, true);
        this.slot = (this.slot + 1) % this.g.frameCount;
      }
      n++;
    }
    return n;
  }

  close(): void {
    native.close(this.handle);
  }
}

export class TxRing {
  readonly handle: native.Handle;
  private readonly mem: Uint8Array;
  private readonly dv: DataView;
  private readonly g: native.SeparateRing;
  private next = 0;

  constructor(readonly ifname: string, opts: { frameSize?: number; frameCount?: number; vnetHdr?: boolean } = {}) {
    this.handle = native.openTx(ifname, {
      frameSize: opts.frameSize ?? 1 << 16, frameCount: opts.frameCount ?? 16, vnetHdr: opts.vnetHdr ?? false,
    });
    this.g = native.mapSeparate(this.handle);
    this.mem = new Uint8Array(this.g.buffer);
    this.dv = new DataView(this.g.buffer);
  }

  /** Queues one frame (with a 10-byte virtio_net_hdr when the ring has them); false when the slot is busy. */
  put(frame: Uint8Array, vnet?: Uint8Array): boolean {
    const base = this.next * this.g.frameSize;
    const st = this.dv.getUint32(base + TPACKET2_HDR.STATUS, true);
    if (st !== TP_STATUS.AVAILABLE && st !== TP_STATUS.WRONG_FORMAT) return false;
    let data = base + TPACKET2_HDR.DATA_OFFSET;
    let len = frame.length;
    if (this.g.vnetHdr) {
      this.mem.fill(0, data, data + VIRTIO_NET_HDR.SIZE);
      if (vnet) this.mem.set(vnet.subarray(0, VIRTIO_NET_HDR.SIZE), data);
      data += VIRTIO_NET_HDR.SIZE;
      len += VIRTIO_NET_HDR.SIZE;
    }
    if (data + frame.length > base + this.g.frameSize) throw new Error(`frame of ${frame.length} bytes does not fit a ${this.g.frameSize}-byte slot`);
    this.mem.set(frame, data);
    this.dv.setUint32(base + TPACKET2_HDR.LEN, len, true);
    this.dv.setUint32(base + TPACKET2_HDR.STATUS, TP_STATUS.SEND_REQUEST, true);
    this.next = (this.next + 1) % this.g.frameCount;
    return true;
  }

  kick(): number {
    return native.kickTx(this.handle);
  }

  close(): void {
    native.close(this.handle);
  }
}
