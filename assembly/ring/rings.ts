// An attached link's packet I/O state (LinkRings, by link id): its AF_PACKET
// rings mapped into this memory (native mapInto; layouts in native/README.md),
// its host-stack mirror queue, and counters. The supervisor opens and maps
// the rings and calls ioAttach/ioDetach (index.ts); ring/io.ts walks them.

import { MAX_LINKS } from "../net/link";

// Counters (ioCounter(link, i)).
export const C_RX_FRAMES: i32 = 0;     // frames taken from the RX ring
export const C_RX_BYTES: i32 = 1;
export const C_RX_TRUNCATED: i32 = 2;  // longer than an RX slot (tp_snaplen < tp_len): dropped
export const C_TX_FRAMES: i32 = 3;     // frames queued on the TX ring (segments count one each)
export const C_TX_BYTES: i32 = 4;
export const C_TX_RING_FULL: i32 = 5;  // no free TX slot: dropped
export const C_TX_TOO_BIG: i32 = 6;    // output longer than a TX slot: dropped
export const C_LOCAL_FRAMES: i32 = 7;  // queued for the host stack (TAP mirror)
export const C_LOCAL_FULL: i32 = 8;    // mirror queue full: dropped
export const C_HOST_FRAMES: i32 = 9;   // from the host stack (TAP) out of the link
export const C_GSO_SEGMENTS: i32 = 10; // segments made here (GSO in IP-in-IP)
export const C_TX_NO_RINGS: i32 = 11;  // forwarded to a link without I/O attached: dropped (published as tx_no_port)
export const C_COUNT: i32 = 12;
export const COUNTER_NAMES: StaticArray<string> = [
  "rx_frames", "rx_bytes", "rx_truncated", "tx_frames", "tx_bytes", "tx_ring_full", "tx_too_big",
  "local_frames", "local_queue_full", "host_frames", "gso_segments", "tx_no_port",
];

@final export class LinkRings {
  id: i32 = 0;
  // RX ring: TPACKET_V2 (slot i at rxBase + i × rxFrameSize) or V3 (blocks).
  rxBase: usize = 0;
  rxVersion: u32 = 2;
  rxBlockSize: u32 = 0;
  rxBlockCount: u32 = 0;
  rxFrameSize: u32 = 0;
  rxFrameCount: u32 = 0;
  rxVnet: bool = false;
  /** V2: next slot; V3: current block. */
  rxCur: u32 = 0;
  /** V3: frames left in the current block (0: no block open) and the next frame header. */
  v3Left: u32 = 0;
  v3Hdr: usize = 0;
  // TX ring: TPACKET_V2, slot i at txBase + i × txFrameSize, data at +32.
  txBase: usize = 0;
  txFrameSize: u32 = 0;
  txFrameCount: u32 = 0;
  txVnet: bool = false;
  txNext: u32 = 0;
  /** Frames marked SEND_REQUEST since the supervisor last kicked this link. */
  txPending: u32 = 0;
  // Host-stack mirror queue: entries [u32 length][frame], 4-byte aligned, drained after every ioRun.
  localBase: usize = 0;
  localCap: u32 = 0;
  localUsed: u32 = 0;
  counters: StaticArray<u64> = new StaticArray<u64>(C_COUNT);
}

/** The attached links' rings by link id (null: no I/O attached). */
export const attached = new StaticArray<LinkRings | null>(MAX_LINKS);

@inline export function ringsOf(id: i32): LinkRings | null {
  return id >= 0 && id < MAX_LINKS ? unchecked(attached[id]) : null;
}

@inline export function count(p: LinkRings, c: i32, n: u64 = 1): void {
  unchecked(p.counters[c] += n);
}
