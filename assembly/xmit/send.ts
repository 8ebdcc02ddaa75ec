// Building output frames: the IP datagram goes after a fresh, untagged
// Ethernet header for the egress link; the next hop's MAC comes from the
// neighbour table, and an unresolved one turns the output into an ARP
// request (or an IPv6 neighbour solicitation) for it while a copy of the
// frame waits for the answer (net/neighq.ts). Each call returns the frame's
// verdict (verdict.ts).

import { Link, link } from "../net/link";
import * as neigh from "../net/neigh";
import * as neighq from "../net/neighq";
import { outFlags } from "./offload";
import * as route from "../net/route";
import { writeEther, ETH_HLEN, ETH_P_IP, ETH_P_IPV6 } from "../packet/ether";
import { writeArpRequest } from "../net/arp";
import { writeNeighSolicit } from "../net/nd";
import * as D from "../stats/drops";
import * as M from "../packet/meta";
import { v4of, copyBytes } from "../util/bytes";
import { drop, held, tx, txAnswer, txInstead } from "./verdict";

/**
 * Copies the input's IP datagram to the output slot after room for an
 * Ethernet header and `headroom` more bytes. Returns the IP header's new
 * address, or 0 when the slot is too small.
 */
export function copyDatagram(inP: usize, outP: usize, outCap: u32, headroom: u32): usize {
  const dlen = M.l3end - M.l3;
  if (ETH_HLEN + headroom + dlen > outCap) return 0;
  const dst = outP + ETH_HLEN + headroom;
  const src = inP + M.l3;
  if (dst != src) copyBytes(dst, src, dlen);
  return dst;
}

/**
 * Sends an IP packet of ipLen bytes already at outP+14 towards next hop nh
 * on link lk: writes the Ethernet header, or (unresolved) parks the frame
 * and replaces it with a neighbour solicitation.
 */
@inline export function sendIp(outP: usize, outCap: u32, ipLen: u32, lk: Link, af: u8, nh: v128, now: u32): i32 {
  if (neigh.lookup(lk.id, af, nh)) {
    writeEther(outP, neigh.foundMac, lk.mac, af == 4 ? ETH_P_IP : ETH_P_IPV6);
    return tx(lk.id, ETH_HLEN + ipLen);
  }
  return unresolved(outP, outCap, ipLen, lk, af, nh, now);
}

/**
 * The next hop has no MAC: the frame waits in neighq.ts (V_HELD: not a drop;
 * neigh_unresolved counts it only if it is lost later, there) and the output
 * becomes a solicitation (rate-limited). A frame the queue cannot keep is a
 * neigh_unresolved drop now.
 */
function unresolved(outP: usize, outCap: u32, ipLen: u32, lk: Link, af: u8, nh: v128, now: u32): i32 {
  const e = neigh.incomplete(lk.id, af, nh, now);
  const due = neigh.solicitDue;
  const kept = neighq.hold(e, lk.id, af, outP, ETH_HLEN + ipLen, outFlags, now);
  if (due) {
    const n = af == 4 ? writeArpRequest(outP, outCap, lk, v4of(nh)) : writeNeighSolicit(outP, outCap, lk, nh);
    if (n > 0) return kept ? txAnswer(lk.id, n) : txInstead(lk.id, n, D.R_NEIGH_UNRESOLVED);
  }
  return kept ? held() : drop(D.R_NEIGH_UNRESOLVED);
}

/** Routes dst (af) and sends the packet at outP+14; counts no_route. */
export function routeAndSend(outP: usize, outCap: u32, ipLen: u32, af: u8, dst: v128, now: u32): i32 {
  const ok = af == 4 ? route.lookup4(v4of(dst)) : route.lookup(af, dst);
  if (!ok) return drop(D.R_NO_ROUTE);
  const lk = link(route.nhLink);
  if (lk === null || !lk.up) return drop(D.R_NO_ROUTE);
  return sendIp(outP, outCap, ipLen, lk!, af, route.nhAddr, now);
}
