// ICMPv6 errors that belong to a connection: the IPv6 counterpart of
// icmperr.ts. The quoted packet must carry its transport header right after
// the fixed header (extension headers in a quote are not walked). IPv6 has
// no header checksum; the ICMPv6 checksum covers a pseudo header, so it is
// recomputed after the addresses change.

import * as M from "../packet/meta";
import { Link, owns } from "../net/link";
import { conns6 } from "../core";
import { NONE } from "../conn/table";
import { FWD_MASQ } from "../svc/dest";
import { destState } from "../svc/bind";
import { countIn, countOut } from "../stats/counters";
import { csumAdd, csumFinish, pseudo6 } from "../packet/checksum";
import { IPPROTO_TCP, IPPROTO_UDP, IPPROTO_ICMPV6 } from "../packet/ipv4";
import * as D from "../stats/drops";
import { V_LOCAL, drop, copyDatagram, routeAndSend, sendIp } from "./out";
import * as route from "../net/route";
import { link } from "../net/link";

export function handleIcmpError6(inP: usize, lk: Link, outP: usize, outCap: u32, now: u32): i32 {
  const end = M.l3end;
  const inner = M.l4 + 8;
  if (inner + 48 > end || (load<u8>(inP + inner) >> 4) != 6) return drop(D.R_ICMP_MALFORMED);
  const iproto = load<u8>(inP + inner + 6);
  if (iproto != IPPROTO_TCP && iproto != IPPROTO_UDP) return unmatched(lk);
  const isrc = v128.load(inP + inner + 8), idst = v128.load(inP + inner + 24);
  const isport = load<u16>(inP + inner + 40), idport = load<u16>(inP + inner + 42);
  const t = conns6;
  const len = end - M.l3;

  // Client side: the quoted packet went VIP:vport → client:cport.
  let i = t.lookupIn(iproto, idst, idport, isrc, isport, now);
  if (i != NONE) {
    const st = destState(t.destId(i));
    countIn(st.stats, len); countIn(st.svcStats, len);
    const daddr = t.daddr(i);
    if (!route.lookup(6, daddr)) return drop(D.R_NO_ROUTE);
    const out = link(route.nhLink);
    if (out === null || !out.up) return drop(D.R_NO_ROUTE);
    const ip = copyDatagram(inP, outP, outCap, 0);
    if (ip == 0) return drop(D.R_OUT_NO_ROOM);
    if (t.fwd(i) == FWD_MASQ) {
      rewrite(ip, 24, daddr, ip + (inner - M.l3), 8, t.dport(i), 0, len);
      return sendIp(outP, outCap, len, out!, 6, route.nhAddr, now);
    }
    return sendIp(outP, outCap, len, out!, 6, daddr, now);
  }
  // Real-server side (NAT): the quoted packet went client:cport → RIP:rport.
  i = t.lookupOut(iproto, idst, idport, isrc, isport, now);
  if (i != NONE) {
    const st = destState(t.destId(i));
    countOut(st.stats, len); countOut(st.svcStats, len);
    const ip = copyDatagram(inP, outP, outCap, 0);
    if (ip == 0) return drop(D.R_OUT_NO_ROOM);
    rewrite(ip, 8, t.vaddr(i), ip + (inner - M.l3), 24, t.vport(i), 2, len);
    return routeAndSend(outP, outCap, len, 6, M.daddr6, now);
  }
  return unmatched(lk);
}

@inline function unmatched(lk: Link): i32 {
  return owns(lk, 6, M.daddr6) ? V_LOCAL : drop(D.R_ICMP_UNMATCHED);
}

/** Outer address at ip+outerOff and quoted address/port become addr/port; checksum redone. */
function rewrite(ip: usize, outerOff: u32, addr: v128, inner: usize, innerOff: u32, port: u16, portOff: u32, len: u32): void {
  v128.store(ip + outerOff, addr);
  v128.store(inner + innerOff, addr);
  store<u16>(inner + 40 + portOff, port);
  const icmp = inner - 8;
  const icmpLen = len - <u32>(icmp - ip);
  store<u16>(icmp + 2, 0);
  store<u16>(icmp + 2, csumFinish(csumAdd(icmp, icmpLen, pseudo6(ip + 8, ip + 24, IPPROTO_ICMPV6, icmpLen))));
}
