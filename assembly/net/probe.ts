// Proactive neighbour resolution. The data plane resolves a next hop when a
// packet needs it and drops that packet meanwhile (no queue), so the first
// SYN to a real server nobody has talked to would wait for a TCP
// retransmission (1 s or more). The supervisor therefore probes the next
// hops of configured real servers ahead of traffic: probe() routes the
// address and, when its MAC is unknown, writes an ARP request (or IPv6
// neighbour solicitation) into the egress link's TX ring, rate-limited by
// the neighbour table like any other solicitation. resolicitWaiting() does
// the same, each turn of the ring path, for neighbours that frames wait for
// (neighq.ts), so a lost solicitation or answer is asked again after a
// second rather than when the next packet happens to need it.

import { link } from "./link";
import * as route from "./route";
import * as neigh from "./neigh";
import { writeArpRequest } from "./arp";
import { writeNeighSolicit } from "./nd";
import { ringsOf } from "../ring/rings";
import { txSlot, txCap, txCommit } from "../ring/tx";
import { v4of } from "../util/bytes";
import * as neighq from "./neighq";

/**
 * Probes address a (af 4 or 6). Returns the link id when a solicitation was
 * queued on its TX ring (the supervisor kicks that link), or -1 when nothing
 * had to be sent (no route, link not attached, MAC known, or rate-limited).
 */
export function probe(af: u8, a: v128, now: u32): i32 {
  const ok = af == 4 ? route.lookup4(v4of(a)) : route.lookup(af, a);
  if (!ok) return -1;
  const lk = link(route.nhLink);
  if (lk === null || !lk.up) return -1;
  const nh = route.nhAddr;
  if (neigh.lookup(lk.id, af, nh)) return -1;
  const p = ringsOf(lk.id);
  if (p === null) return -1;
  const slot = txSlot(p);
  if (slot == 0) return -1;
  if (!neigh.shouldSolicit(lk.id, af, nh, now)) return -1;
  const cap = txCap(p);
  const n = af == 4 ? writeArpRequest(slot, cap, lk, v4of(nh)) : writeNeighSolicit(slot, cap, lk, nh);
  if (n == 0) return -1;
  txCommit(p, n, 0);
  return lk.id;
}

/** Writes a solicitation for neighbour entry e on its link's TX ring; true when one was queued. */
function solicitEntry(e: i32): bool {
  const lk = link(neigh.entryLink(e));
  if (lk === null || !lk.up) return false;
  const p = ringsOf(lk.id);
  if (p === null) return false;
  const slot = txSlot(p);
  if (slot == 0) return false;
  const af = neigh.entryAf(e);
  const a = neigh.entryAddr(e);
  const cap = txCap(p);
  const n = af == 4 ? writeArpRequest(slot, cap, lk, v4of(a)) : writeNeighSolicit(slot, cap, lk, a);
  if (n == 0) return false;
  txCommit(p, n, 0);
  return true;
}

let lastResolicit: u32 = 0;

/** Solicits again (once a second each, neigh.retryDue) the neighbours that frames wait for; at most every 100 ms. */
export function resolicitWaiting(now: u32): void {
  if (neighq.used == 0 || <i32>(now - lastResolicit) < 100) return;
  lastResolicit = now;
  for (let s = 0; s < neighq.POOL; s++) {
    const e = neighq.waitingEntry(s);
    if (e >= 0 && neigh.retryDue(e, now)) solicitEntry(e);
  }
}
