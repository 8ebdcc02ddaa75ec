// ICMP errors that belong to a connection (ip_vs_in_icmp / ip_vs_out_icmp):
// the quoted datagram names the connection. An error from the client side
// about a packet the service sent (quoted VIP → client) goes to the real
// server; an error from a NAT real server about a client's packet (quoted
// client → RIP) goes to the client with the real server's addresses turned
// back into the virtual service's. IPv4 only for now.

import * as M from "../packet/meta";
import { Link, owns4 } from "../net/link";
import { conns4 } from "../core";
import { NONE } from "../conn/table";
import { FWD_MASQ, FWD_TUNNEL } from "../svc/dest";
import { encap4, TUN_OVERHEAD } from "./tun";
import { destState } from "../svc/bind";
import { countIn, countOut } from "../stats/counters";
import { csumAdd, csumFinish, csumReplace4 } from "../packet/checksum";
import { IPPROTO_TCP, IPPROTO_UDP } from "../packet/ipv4";
import * as D from "../stats/drops";
import { V_LOCAL, drop, copyDatagram, routeAndSend, sendIp } from "./out";
import * as route from "../net/route";
import { link } from "../net/link";
import { v4addr } from "../util/bytes";

export function handleIcmpError4(inP: usize, lk: Link, outP: usize, outCap: u32, now: u32): i32 {
  const end = M.l3end;
  const inner = M.l4 + 8;
  if (inner + 20 > end) return drop(D.R_ICMP_MALFORMED);
  const ihl = (<u32>load<u8>(inP + inner) & 0xf) << 2;
  if ((load<u8>(inP + inner) >> 4) != 4 || ihl < 20 || inner + ihl + 8 > end) return drop(D.R_ICMP_MALFORMED);
  const iproto = load<u8>(inP + inner + 9);
  if (iproto != IPPROTO_TCP && iproto != IPPROTO_UDP) return unmatched(lk);
  const isrc = load<u32>(inP + inner + 12), idst = load<u32>(inP + inner + 16);
  const isport = load<u16>(inP + inner + ihl), idport = load<u16>(inP + inner + ihl + 2);
  const t = conns4;
  const len = end - M.l3;

  // Client side: the quoted packet went VIP:vport → client:cport.
  let i = t.lookupIn(iproto, idst, idport, isrc, isport, now);
  if (i != NONE) {
    const st = destState(t.destId(i));
    countIn(st.stats, len); countIn(st.svcStats, len);
    const daddr = t.daddr(i);
    if (!route.lookup4(daddr)) return drop(D.R_NO_ROUTE);
    const out = link(route.nhLink);
    if (out === null || !out.up) return drop(D.R_NO_ROUTE);
    if (t.fwd(i) == FWD_TUNNEL) {
      // TUN: like the connection's packets, the error travels inside IP-in-IP
      // (IPVS hands it to the connection's xmit); sent bare, it would be
      // routed back here when the real server is not on this link.
      if (len + TUN_OVERHEAD > out.mtu) return drop(D.R_TOO_BIG);
      const inner4 = copyDatagram(inP, outP, outCap, TUN_OVERHEAD);
      if (inner4 == 0) return drop(D.R_OUT_NO_ROOM);
      encap4(inner4 - TUN_OVERHEAD, len, out.primary4, daddr);
      return sendIp(outP, outCap, len + TUN_OVERHEAD, out!, 4, route.nhAddr, now);
    }
    const ip = copyDatagram(inP, outP, outCap, 0);
    if (ip == 0) return drop(D.R_OUT_NO_ROOM);
    if (t.fwd(i) == FWD_MASQ) {
      rewrite(ip, 16, daddr, ip + (inner - M.l3), 12, ihl, t.dport(i), 0);
      return sendIp(outP, outCap, len, out!, 4, route.nhAddr, now);
    }
    return sendIp(outP, outCap, len, out!, 4, v4addr(daddr), now);
  }
  // Real-server side (NAT): the quoted packet went client:cport → RIP:rport.
  i = t.lookupOut(iproto, idst, idport, isrc, isport, now);
  if (i != NONE) {
    const st = destState(t.destId(i));
    countOut(st.stats, len); countOut(st.svcStats, len);
    const ip = copyDatagram(inP, outP, outCap, 0);
    if (ip == 0) return drop(D.R_OUT_NO_ROOM);
    rewrite(ip, 12, t.vaddr(i), ip + (inner - M.l3), 16, ihl, t.vport(i), 2);
    return routeAndSend(outP, outCap, len, 4, v4addr(M.daddr4), now);
  }
  return unmatched(lk);
}

@inline function unmatched(lk: Link): i32 {
  return owns4(lk, M.daddr4) ? V_LOCAL : drop(D.R_ICMP_UNMATCHED);
}

/**
 * Rewrites the outer address at ip+outerOff and the quoted packet's address
 * at inner+innerOff and port at inner+ihl+portOff to addr/port; fixes both
 * IP header checksums and recomputes the ICMP checksum over the message.
 */
function rewrite(ip: usize, outerOff: u32, addr: u32, inner: usize, innerOff: u32, ihl: u32, port: u16, portOff: u32): void {
  const oldOuter = load<u32>(ip + outerOff);
  store<u32>(ip + outerOff, addr);
  store<u16>(ip + 10, <u16>csumReplace4(<u32>load<u16>(ip + 10), oldOuter, addr));
  const oldInner = load<u32>(inner + innerOff);
  store<u32>(inner + innerOff, addr);
  store<u16>(inner + 10, <u16>csumReplace4(<u32>load<u16>(inner + 10), oldInner, addr));
  store<u16>(inner + ihl + portOff, port);
  const icmp = inner - 8;
  const icmpLen = <u32>(ip + (<usize>bswap<u16>(load<u16>(ip + 2))) - icmp);
  store<u16>(icmp + 2, 0);
  store<u16>(icmp + 2, csumFinish(csumAdd(icmp, icmpLen, 0)));
}
