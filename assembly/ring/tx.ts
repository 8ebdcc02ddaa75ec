// Writing a link's TPACKET_V2 TX ring in place (native/README.md, "TX"):
// take slots in order, skip none (a busy slot means the ring is full), write
// the virtio_net_hdr and the frame, then tp_len, then SEND_REQUEST last.
// The supervisor kicks the link once per ioRun (native kickTx).

import { LinkRings, count, C_TX_FRAMES, C_TX_BYTES, C_TX_RING_FULL, C_TX_TOO_BIG, C_GSO_SEGMENTS, C_LOCAL_FRAMES, C_LOCAL_FULL } from "./rings";
import { toVnet } from "../xmit/offload";
import { gsoCount, gsoSegment, needsSoftGso } from "../xmit/gso";
import { copyBytes } from "../util/bytes";

const TP_STATUS_AVAILABLE: u32 = 0;
const TP_STATUS_SEND_REQUEST: u32 = 1;
const TP_STATUS_WRONG_FORMAT: u32 = 4;
const TX_DATA: usize = 32;
const VNET_LEN: usize = 10;

@inline function slotAddr(p: LinkRings, i: u32): usize { return p.txBase + <usize>i * <usize>p.txFrameSize; }

/** Where the next frame's bytes go in p's TX ring (after its virtio header), or 0 when the ring is full. */
export function txSlot(p: LinkRings): usize {
  const s = slotAddr(p, p.txNext);
  const st = load<u32>(s);
  if (st != TP_STATUS_AVAILABLE && st != TP_STATUS_WRONG_FORMAT) return 0;
  return s + TX_DATA + (p.txVnet ? VNET_LEN : 0);
}

/** Room for a frame in a TX slot. */
@inline export function txCap(p: LinkRings): u32 { return p.txFrameSize - <u32>TX_DATA - (p.txVnet ? <u32>VNET_LEN : 0); }

/** Hands the frame written at txSlot(p) (len bytes, offload flags f) to the kernel. */
export function txCommit(p: LinkRings, len: u32, f: u32): void {
  const s = slotAddr(p, p.txNext);
  let n = len;
  if (p.txVnet) {
    toVnet(s + TX_DATA, s + TX_DATA + VNET_LEN, f);
    n += <u32>VNET_LEN;
  }
  store<u32>(s, n, 4);
  store<u32>(s, TP_STATUS_SEND_REQUEST);
  p.txNext = p.txNext + 1 == p.txFrameCount ? 0 : p.txNext + 1;
  p.txPending++;
  count(p, C_TX_FRAMES);
  count(p, C_TX_BYTES, len);
}

/**
 * Sends a frame (len bytes at src, offload flags f) out of p, copying it into
 * the next TX slot, or as segments when it is GSO the kernel cannot take.
 * Returns false when it was dropped (counted).
 */
export function txSend(p: LinkRings, src: usize, len: u32, f: u32): bool {
  if (needsSoftGso(src, f)) return txSegments(p, src, len, f);
  if (len > txCap(p)) { count(p, C_TX_TOO_BIG); return false; }
  const dst = txSlot(p);
  if (dst == 0) { count(p, C_TX_RING_FULL); return false; }
  if (dst != src) copyBytes(dst, src, len);
  txCommit(p, len, f);
  return true;
}

/** Segments a GSO frame into consecutive TX slots (xmit/gso.ts). */
export function txSegments(p: LinkRings, src: usize, len: u32, f: u32): bool {
  const n = gsoCount(src, len, f);
  if (n == 0) { count(p, C_TX_TOO_BIG); return false; }
  const cap = txCap(p);
  for (let k: u32 = 0; k < n; k++) {
    const dst = txSlot(p);
    if (dst == 0) { count(p, C_TX_RING_FULL, n - k); return false; }
    const m = gsoSegment(src, len, f, k, dst, cap);
    if (m == 0) { count(p, C_TX_TOO_BIG, n - k); return false; }
    txCommit(p, m, 0);
    count(p, C_GSO_SEGMENTS);
  }
  return true;
}

/** Queues a frame for the host stack behind p (the TAP mirror); false when the queue is full (counted). */
export function localQueue(p: LinkRings, src: usize, len: u32): bool {
  const need = (4 + len + 3) & ~3;
  if (p.localUsed + need > p.localCap) { count(p, C_LOCAL_FULL); return false; }
  const e = p.localBase + p.localUsed;
  store<u32>(e, len);
  memory.copy(e + 4, src, len);
  p.localUsed += need;
  count(p, C_LOCAL_FRAMES);
  return true;
}
