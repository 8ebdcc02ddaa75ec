// One RX frame through the data plane (ring/io.ts walks the rings): output
// to the egress link's TX ring, host-stack frames to the ingress link's
// mirror queue.
//
// Output goes to a scratch slot and is copied into the egress TX slot (the
// egress link is known only after processing). Writing straight into a TX
// slot of a guessed egress link measured the same (docs/architecture.md:
// ~110 ns/frame either way), so the simpler copy stays.

import { processFrame } from "../core";
import { outLen, outLink, V_TX, V_LOCAL, V_HELD } from "../xmit/verdict";
import * as O from "../xmit/offload";
import { countLocal, countHeld } from "./batch";
import { LinkRings, ringsOf, count, C_TX_NO_RINGS } from "./rings";
import { txSend, localQueue } from "./tx";
import * as neigh from "../net/neigh";
import * as neighq from "../net/neighq";

/** Output scratch: the largest frame (64 KiB GSO) plus TUN's 20 bytes, with room. */
const SCRATCH_CAP: u32 = 131072;

let scratchOut: usize = 0;
export let curNow: u32 = 0;
export let txCount: u32 = 0;

/** Starts a turn at time now. */
export function begin(now: u32): void {
  if (scratchOut == 0) scratchOut = (heap.alloc(<usize>SCRATCH_CAP + 64) + 63) & ~<usize>63;
  curNow = now;
  txCount = 0;
}

export function visit(p: LinkRings, frame: usize, len: u32, flags: u32): void {
  O.setInFlags(flags);
  const v = processFrame(frame, len, p.id, scratchOut, SCRATCH_CAP, curNow);
  if (v == V_TX) {
    const q = ringsOf(outLink);
    if (q === null) count(p, C_TX_NO_RINGS);
    else if (txSend(q, scratchOut, outLen, O.outFlags)) txCount++;
  } else if (v == V_LOCAL) {
    O.completeInput(frame, len); // the TAP takes no offload state: complete a partial checksum
    localQueue(p, frame, len);
    countLocal();
  } else if (v == V_HELD) {
    countHeld();
  }
  // A learnt MAC releases the frames that waited for it, right behind the answer that taught it.
  if (neigh.resolvedWaiting) neighq.releaseResolved(curNow);
  if (neighq.readyCount != 0) sendReady();
}

/** Sends the frames released from the neighbour queue, oldest first. */
export function sendReady(): void {
  for (let s = neighq.nextReady(); s >= 0; s = neighq.nextReady()) {
    const q = ringsOf(neighq.readyLink(s));
    let sent = false;
    if (q !== null && txSend(q, neighq.readyFrame(s), neighq.readyLen(s), neighq.readyFlags(s))) { txCount++; sent = true; }
    neighq.readyDone(sent ? neighq.Q_SENT : neighq.Q_UNSENT); // TX ring full or too big: counted on the ring too
  }
}
