// The batch interface: one call processes `count` frames described by an
// array of 32-byte descriptors, so a single crossing from JavaScript covers
// a whole ring batch (Snabb's `for i = 1, nreadable(link)`). The I/O layer
// points the descriptors at RX ring frames and TX ring slots mapped into
// this memory; tests and benchmarks point them at plain buffers.
//
// Descriptor (little-endian):
//   0  u32 in:  frame offset        4  u32 in:  frame length
//   8  u32 in:  output slot offset  12 u32 in:  output slot capacity
//   16 u32 out: output length       20 u16 in:  ingress link
//   22 u16 out: egress link         24 u16 out: verdict (0 drop, 1 tx, 2 local)
//   26 u16 out: drop reason         28 u32 in/out: flags (reserved for offload state)
// Input and output may be the same slot (in-place rewrite).

import { processFrame, setInLink } from "../core";
import { outLen, outLink, reason } from "../xmit/out";
import { conns4, conns6 } from "../core";

export const DESC_SIZE: u32 = 32;
/** Connection entries examined for expiry per batch, per table. */
export let expireBudget: u32 = 64;
export function setExpireBudget(n: u32): void { expireBudget = n; }

/** Batch statistics for the supervisor's metrics. */
export let batches: u64 = 0;
export let framesIn: u64 = 0;
export let framesTx: u64 = 0;
export let framesLocal: u64 = 0;

export function runBatch(desc: usize, count: u32, now: u32): u32 {
  let tx: u32 = 0;
  for (let k: u32 = 0; k < count; k++) {
    const d = desc + <usize>k * DESC_SIZE;
    const inLink = <i32>load<u16>(d, 20);
    setInLink(inLink);
    const v = processFrame(<usize>load<u32>(d), load<u32>(d, 4), inLink, <usize>load<u32>(d, 8), load<u32>(d, 12), now);
    store<u32>(d, v == 1 ? outLen : 0, 16);
    store<u16>(d, <u16>(v == 1 ? outLink : 0), 22);
    store<u16>(d, <u16>v, 24);
    store<u16>(d, <u16>reason, 26);
    if (v == 1) tx++; else if (v == 2) framesLocal++;
  }
  conns4.expireStep(now, expireBudget);
  conns6.expireStep(now, expireBudget);
  batches++;
  framesIn += count;
  framesTx += tx;
  return tx;
}
