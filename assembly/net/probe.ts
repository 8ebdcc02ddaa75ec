// Proactive neighbour resolution. The data plane resolves a next hop when a
// packet needs it and drops that packet meanwhile (no queue), so the first
// SYN to a real server nobody has talked to would wait for a TCP
// retransmission (1 s or more). The supervisor therefore probes the next
// hops of configured real servers ahead of traffic: probe() routes the
// address and, when its MAC is unknown, writes an ARP request (or IPv6
// neighbour solicitation) into the egress link's TX ring, rate-limited by
// the neighbour table like any other solicitation.

import { link } from "./link";
import * as route from "./route";
import * as neigh from "./neigh";
import { writeArpRequest } from "./arp";
import { writeNeighSolicit } from "./nd";
import { ringsOf } from "../ring/rings";
import { txSlot, txCap, txCommit } from "../ring/tx";
import { v4of } from "../util/bytes";

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
