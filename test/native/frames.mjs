// Frame building and ring walking for the native tests: a plain-JS stand-in
// for what the Wasm data plane does in place (native/README.md has the layouts).
import { BLOCK_DESC, TPACKET3_HDR, TPACKET2_HDR, TP_STATUS, VIRTIO_NET_HDR } from "../../native/index.js";

export const SRC_MAC = [0x02, 0, 0, 0, 0, 0x01];
export const DST_MAC = [0x02, 0, 0, 0, 0, 0x02]; // nobody's: the peer kernel ignores it

function ipChecksum(b, off, len) {
  let s = 0;
  for (let i = 0; i < len; i += 2) s += (b[off + i] << 8) | b[off + i + 1];
  while (s > 0xffff) s = (s & 0xffff) + (s >>> 16);
  return ~s & 0xffff;
}

/**
 * An Ethernet/IPv4/UDP frame 198.18.0.1:sport → 198.18.0.2:dport of `len` bytes
 * (≥ 60), payload = seq (u32 BE) then bytes derived from seq.
 */
export function udpFrame(seq, len, { sport = 40000, dport = 7000, src = [198, 18, 0, 1], dst = [198, 18, 0, 2] } = {}) {
  const f = new Uint8Array(len);
  f.set(DST_MAC, 0);
  f.set(SRC_MAC, 6);
  f[12] = 0x08;
  f[13] = 0x00;
  const ip = 14;
  const ipLen = len - 14;
  f[ip] = 0x45;
  f[ip + 2] = ipLen >> 8;
  f[ip + 3] = ipLen & 0xff;
  f[ip + 6] = 0x40; // DF
  f[ip + 8] = 64;
  f[ip + 9] = 17;
  f.set(src, ip + 12);
  f.set(dst, ip + 16);
  const c = ipChecksum(f, ip, 20);
  f[ip + 10] = c >> 8;
  f[ip + 11] = c & 0xff;
  const u = ip + 20;
  f[u] = sport >> 8;
  f[u + 1] = sport & 0xff;
  f[u + 2] = dport >> 8;
  f[u + 3] = dport & 0xff;
  f[u + 4] = (ipLen - 20) >> 8;
  f[u + 5] = (ipLen - 20) & 0xff;
  const p = u + 8;
  f[p] = seq >>> 24;
  f[p + 1] = (seq >>> 16) & 0xff;
  f[p + 2] = (seq >>> 8) & 0xff;
  f[p + 3] = seq & 0xff;
  for (let i = p + 4; i < len; i++) f[i] = (seq * 31 + i * 7) & 0xff;
  return f;
}

export function seqOf(frame) {
  const p = 14 + 20 + 8;
  return ((frame[p] << 24) | (frame[p + 1] << 16) | (frame[p + 2] << 8) | frame[p + 3]) >>> 0;
}

/** Writes frames into a TPACKET_V2 TX ring; returns how many were queued (stops at a busy slot). */
export class TxRing {
  constructor(mem, g) {
    this.mem = mem;
    this.g = g;
    this.dv = new DataView(mem.buffer, mem.byteOffset, mem.byteLength);
    this.next = 0;
  }
  /** Queues one frame (with an optional 10-byte virtio_net_hdr); false when the slot is still in use. */
  put(frame, vnet) {
    const base = this.g.offset + this.next * this.g.frameSize;
    const st = this.dv.getUint32(base + TPACKET2_HDR.STATUS, true);
    if (st !== TP_STATUS.AVAILABLE && st !== TP_STATUS.WRONG_FORMAT) return false;
    let data = base + TPACKET2_HDR.DATA_OFFSET;
    let len = frame.length;
    if (this.g.vnetHdr) {
      this.mem.fill(0, data, data + VIRTIO_NET_HDR.SIZE);
      if (vnet) this.mem.set(vnet, data);
      data += VIRTIO_NET_HDR.SIZE;
      len += VIRTIO_NET_HDR.SIZE;
    }
    this.mem.set(frame, data);
    this.dv.setUint32(base + TPACKET2_HDR.LEN, len, true);
    this.dv.setUint32(base + TPACKET2_HDR.STATUS, TP_STATUS.SEND_REQUEST, true);
    this.next = (this.next + 1) % this.g.frameCount;
    return true;
  }
}

/** Walks a TPACKET_V3 RX ring in place, handing blocks back to the kernel. */
export class RxRing {
  constructor(mem, g) {
    this.mem = mem;
    this.g = g;
    this.dv = new DataView(mem.buffer, mem.byteOffset, mem.byteLength);
    this.block = 0;
  }
  /** Calls fn(frameBytes, info) for each frame in the blocks ready now; returns the frame count. */
  drain(fn) {
    let n = 0;
    for (let b = 0; b < this.g.blockCount; b++) {
      const base = this.g.offset + this.block * this.g.blockSize;
      const status = this.dv.getUint32(base + BLOCK_DESC.BLOCK_STATUS, true);
      if ((status & TP_STATUS.USER) === 0) break;
      const count = this.dv.getUint32(base + BLOCK_DESC.NUM_PKTS, true);
      let h = base + this.dv.getUint32(base + BLOCK_DESC.OFFSET_TO_FIRST_PKT, true);
      for (let i = 0; i < count; i++) {
        const mac = this.dv.getUint16(h + TPACKET3_HDR.MAC, true);
        const snap = this.dv.getUint32(h + TPACKET3_HDR.SNAPLEN, true);
        const info = {
          len: this.dv.getUint32(h + TPACKET3_HDR.LEN, true),
          status: this.dv.getUint32(h + TPACKET3_HDR.STATUS, true),
          mac,
          net: this.dv.getUint16(h + TPACKET3_HDR.NET, true),
          vnet: this.g.vnetHdr ? this.mem.slice(h + mac - VIRTIO_NET_HDR.SIZE, h + mac) : null,
          blockStatus: status,
        };
        fn(this.mem.subarray(h + mac, h + mac + snap), info);
        n++;
        h += this.dv.getUint32(h + TPACKET3_HDR.NEXT_OFFSET, true);
      }
      this.dv.setUint32(base + BLOCK_DESC.BLOCK_STATUS, TP_STATUS.KERNEL, true);
      this.block = (this.block + 1) % this.g.blockCount;
    }
    return n;
  }
}

export function equalBytes(a, b) {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** Walks a TPACKET_V2 RX ring (openRx version 2): one slot per frame at i × frameSize. */
export class RxRingV2 {
  constructor(mem, g) {
    this.mem = mem;
    this.g = g;
    this.dv = new DataView(mem.buffer, mem.byteOffset, mem.byteLength);
    this.slot = 0;
  }
  drain(fn, max = this.g.frameCount) {
    let n = 0;
    while (n < max) {
      const base = this.g.offset + this.slot * this.g.frameSize;
      const status = this.dv.getUint32(base + TPACKET2_HDR.STATUS, true);
      if ((status & TP_STATUS.USER) === 0) break;
      const mac = this.dv.getUint16(base + TPACKET2_HDR.MAC, true);
      const snap = this.dv.getUint32(base + TPACKET2_HDR.SNAPLEN, true);
      const info = {
        len: this.dv.getUint32(base + TPACKET2_HDR.LEN, true),
        status,
        mac,
        net: this.dv.getUint16(base + TPACKET2_HDR.NET, true),
        vnet: this.g.vnetHdr ? this.mem.slice(base + mac - VIRTIO_NET_HDR.SIZE, base + mac) : null,
      };
      fn(this.mem.subarray(base + mac, base + mac + snap), info);
      this.dv.setUint32(base + TPACKET2_HDR.STATUS, TP_STATUS.KERNEL, true);
      this.slot = (this.slot + 1) % this.g.frameCount;
      n++;
    }
    return n;
  }
}
