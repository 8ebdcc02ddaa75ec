// The verdict of the frame in flight and the results that go with it: every
// frame ends with exactly one verdict (drop, transmit, local), and every drop
// counts exactly one reason (stats/drops.ts). runBatch (ring/batch.ts) and
// the ring walker (ring/forward.ts) read these after processFrame.

import * as D from "../stats/drops";
import { resetOutFlags } from "./offload";

export const V_DROP: i32 = 0;
export const V_TX: i32 = 1;
export const V_LOCAL: i32 = 2;
/** Kept in the neighbour queue (net/neighq.ts) until its next hop answers: neither sent nor dropped yet. */
export const V_HELD: i32 = 3;

/** Results of the current frame besides its verdict. */
export let outLen: u32 = 0;
export let outLink: i32 = -1;
export let reason: i32 = 0;

export function resetOut(): void { outLen = 0; outLink = -1; reason = 0; resetOutFlags(); }

@inline export function drop(r: i32): i32 { reason = r; D.countDrop(r); return V_DROP; }

/**
 * The input frame is dropped (counted under r) but the output slot holds an
 * answer to send instead (an ICMP error or a solicitation).
 */
export function txInstead(l: i32, len: u32, r: i32): i32 {
  D.countDrop(r);
  resetOutFlags(); // an answer of our own: complete checksums, no offload
  reason = r;
  return tx(l, len);
}

/** The input is held (V_HELD) and the output slot holds our own frame to send (a solicitation). */
export function txAnswer(l: i32, len: u32): i32 {
  resetOutFlags();
  reason = 0;
  return tx(l, len);
}

/** The input is held (V_HELD), nothing to send. */
@inline export function held(): i32 { reason = 0; return V_HELD; }

/** Output ready: len bytes at the output slot, to link l. */
@inline export function tx(l: i32, len: u32): i32 { outLink = l; outLen = len; return V_TX; }
