// ICMP and ICMPv6 errors that belong to a connection (ip_vs_in_icmp /
// ip_vs_out_icmp): the quoted datagram names the connection. An error from
// the client side about a packet the service sent (quoted VIP → client)
// goes to the real server; an error from a NAT real server about a client's
// packet (quoted client → RIP) goes to the client with the real server's
// addresses turned back into the virtual service's. Written once over the
// address type, as core.ts is. A quoted IPv6 packet must carry its
// transport header right after the fixed header (extension headers in a
// quote are not walked).

import * as M from "../packet/meta";
import { Link, owns, owns4, standby4Has, standby6Has } from "../net/link";
import { table, NONE } from "../conn/table";
import { FWD_MASQ, FWD_TUNNEL } from "../svc/dest";
import { encap4, TUN_OVERHEAD } from "./tun";
import { destState } from "../svc/bind";
import { countIn, countOut } from "../stats/counters";
import { csumAdd, csumFinish, csumReplace4, pseudo6 } from "../packet/checksum";
import { IPPROTO_TCP, IPPROTO_UDP, IPPROTO_ICMPV6 } from "../packet/ipv4";
import * as D from "../stats/drops";
import { V_LOCAL, drop } from "./verdict";
import { copyDatagram, routeAndSend, sendIp } from "./send";
import * as route from "../net/route";
import { link } from "../net/link";
import { v4addr, toV128 } from "../util/bytes";

@inline function isV6<A>(): bool { return isVector<A>(); }

export function handleIcmpError<A>(inP: usize, lk: Link, outP: usize, outCap: u32, now: u32): i32 {
  const af: u8 = isV6<A>() ? 6 : 4;
  const end = M.l3end;
  const inner = M.l4 + 8;
  // The quoted header: IPv4 with its IHL, or the fixed IPv6 header.
  let ihl: u32 = 40;
  if (isV6<A>()) {
    if (inner + 48 > end || (load<u8>(inP + inner) >> 4) != 6) return drop(D.R_ICMP_MALFORMED);
  } else {
    if (inner + 20 > end) return drop(D.R_ICMP_MALFORMED);
    ihl = (<u32>load<u8>(inP + inner) & 0xf) << 2;
    if ((load<u8>(inP + inner) >> 4) != 4 || ihl < 20 || inner + ihl + 8 > end) return drop(D.R_ICMP_MALFORMED);
  }
  const iproto = load<u8>(inP + inner + (isV6<A>() ? 6 : 9));
  if (iproto != IPPROTO_TCP && iproto != IPPROTO_UDP) return unmatched<A>(lk);
  const isrc = load<A>(inP + inner + (isV6<A>() ? 8 : 12));
  const idst = load<A>(inP + inner + (isV6<A>() ? 24 : 16));
  const isport = load<u16>(inP + inner + ihl), idport = load<u16>(inP + inner + ihl + 2);
  const t = table<A>();
  const len = end - M.l3;

  // Client side: the quoted packet went VIP:vport → client:cport.
  let i = t.lookupIn(iproto, idst, idport, isrc, isport, now);
  if (i != NONE) {
    const st = destState(t.destId(i));
    countIn(st.stats, len); countIn(st.svcStats, len);
    const daddr = t.daddr(i);
    const routed = isV6<A>() ? route.lookup(6, toV128<A>(daddr)) : route.lookup4(<u32>daddr);
    if (!routed) return drop(D.R_NO_ROUTE);
    const out = link(route.nhLink);
    if (out === null || !out.up) return drop(D.R_NO_ROUTE);
    if (!isV6<A>() && t.fwd(i) == FWD_TUNNEL) {
      // TUN: like the connection's packets, the error travels inside IP-in-IP
      // (IPVS hands it to the connection's xmit); sent bare, it would be
      // routed back here when the real server is not on this link.
      if (len + TUN_OVERHEAD > out.mtu) return drop(D.R_TOO_BIG);
      const inner4 = copyDatagram(inP, outP, outCap, TUN_OVERHEAD);
      if (inner4 == 0) return drop(D.R_OUT_NO_ROOM);
      encap4(inner4 - TUN_OVERHEAD, len, out.primary4, <u32>daddr);
      return sendIp(outP, outCap, len + TUN_OVERHEAD, out!, 4, route.nhAddr, now);
    }
    const ip = copyDatagram(inP, outP, outCap, 0);
    if (ip == 0) return drop(D.R_OUT_NO_ROOM);
    if (t.fwd(i) == FWD_MASQ) {
      // Outer destination and quoted source become the real server.
      rewrite<A>(ip, isV6<A>() ? 24 : 16, daddr, ip + (inner - M.l3), isV6<A>() ? 8 : 12, ihl, t.dport(i), 0, len);
      return sendIp(outP, outCap, len, out!, af, route.nhAddr, now);
    }
    return sendIp(outP, outCap, len, out!, af, toV128<A>(daddr), now);
  }
  // Real-server side (NAT): the quoted packet went client:cport → RIP:rport.
  i = t.lookupOut(iproto, idst, idport, isrc, isport, now);
  if (i != NONE) {
    // It would leave from the VIP: not while the VIP is in standby (net/link.ts).
    if (isV6<A>() ? standby6Has(toV128<A>(t.vaddr(i))) : standby4Has(<u32>t.vaddr(i))) return drop(D.R_VIP_STANDBY);
    const st = destState(t.destId(i));
    countOut(st.stats, len); countOut(st.svcStats, len);
    const ip = copyDatagram(inP, outP, outCap, 0);
    if (ip == 0) return drop(D.R_OUT_NO_ROOM);
    // Outer source and quoted destination become the virtual service.
    rewrite<A>(ip, isV6<A>() ? 8 : 12, t.vaddr(i), ip + (inner - M.l3), isV6<A>() ? 24 : 16, ihl, t.vport(i), 2, len);
    return routeAndSend(outP, outCap, len, af, isV6<A>() ? M.daddr6 : v4addr(M.daddr4), now);
  }
  return unmatched<A>(lk);
}

@inline function unmatched<A>(lk: Link): i32 {
  const mine = isV6<A>() ? owns(lk, 6, M.daddr6) : owns4(lk, M.daddr4);
  return mine ? V_LOCAL : drop(D.R_ICMP_UNMATCHED);
}

/**
 * Rewrites the outer address at ip+outerOff and the quoted packet's address
 * at inner+innerOff and port at inner+ihl+portOff to addr/port. IPv4 patches
 * both header checksums; the ICMP checksum is recomputed over the message
 * (ICMPv6 with its pseudo header).
 */
function rewrite<A>(ip: usize, outerOff: u32, addr: A, inner: usize, innerOff: u32, ihl: u32, port: u16, portOff: u32, len: u32): void {
  const oldOuter = load<A>(ip + outerOff);
  const oldInner = load<A>(inner + innerOff);
  store<A>(ip + outerOff, addr);
  store<A>(inner + innerOff, addr);
  if (!isV6<A>()) {
    store<u16>(ip + 10, <u16>csumReplace4(<u32>load<u16>(ip + 10), <u32>oldOuter, <u32>addr));
    store<u16>(inner + 10, <u16>csumReplace4(<u32>load<u16>(inner + 10), <u32>oldInner, <u32>addr));
  }
  store<u16>(inner + ihl + portOff, port);
  const icmp = inner - 8;
  const icmpLen = len - <u32>(icmp - ip);
  store<u16>(icmp + 2, 0);
  const init: u64 = isV6<A>() ? pseudo6(ip + 8, ip + 24, IPPROTO_ICMPV6, icmpLen) : 0;
  store<u16>(icmp + 2, csumFinish(csumAdd(icmp, icmpLen, init)));
}
