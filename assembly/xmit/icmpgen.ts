// ICMP messages the appliance originates: echo replies for owned
// addresses, and "fragmentation needed" / "packet too big" when a packet
// cannot go on at the egress MTU. They go straight back to the previous hop
// (the input frame's source MAC) on the ingress link.

import { Link } from "../net/link";
import { ETH_HLEN, ETH_P_IP, ETH_P_IPV6, loadMac, writeEther } from "../packet/ether";
import { writeIPv4 } from "../packet/ipv4";
import { writeIPv6 } from "../packet/ipv6";
import { csumAdd, csumFinish, csumReplace2, pseudo6 } from "../packet/checksum";
import { ICMP_ECHOREPLY, ICMP_DEST_UNREACH, ICMP_FRAG_NEEDED, ICMP6_ECHO_REPLY, ICMP6_PKT_TOOBIG } from "../packet/icmp";
import * as M from "../packet/meta";

/** RFC 1812: quote as much of the datagram as fits in 576 bytes. */
const QUOTE4_MAX: u32 = 576 - 28;
/** RFC 4443: the whole message must fit the IPv6 minimum MTU. */
const QUOTE6_MAX: u32 = 1280 - 48;

/** Echo reply for an echo request at inP; returns the frame length or 0. */
export function echoReply(inP: usize, lk: Link, outP: usize, outCap: u32): u32 {
  const ipLen = M.l3end - M.l3;
  if (ETH_HLEN + ipLen > outCap) return 0;
  const src = inP + M.l3;
  const ip = outP + ETH_HLEN;
  if (ip != src) memory.copy(ip, src, ipLen);
  writeEther(outP, loadMac(inP + 6), lk.mac, M.af == 4 ? ETH_P_IP : ETH_P_IPV6);
  const icmp = ip + (M.l4 - M.l3);
  const oldTypeCode = <u32>load<u16>(icmp);
  if (M.af == 4) {
    store<u32>(ip + 12, M.daddr4);
    store<u32>(ip + 16, M.saddr4);
    store<u8>(ip + 8, 64);
    store<u16>(ip + 10, 0);
    const ihl = (<u32>load<u8>(ip) & 0xf) << 2;
    store<u16>(ip + 10, csumFinish(csumAdd(ip, ihl, 0)));
    store<u8>(icmp, ICMP_ECHOREPLY);
  } else {
    v128.store(ip + 8, M.daddr6);
    v128.store(ip + 24, M.saddr6);
    store<u8>(ip + 7, 64);
    store<u8>(icmp, ICMP6_ECHO_REPLY);
  }
  // Type changes; addresses swap (same pseudo-header sum), so one 16-bit patch suffices.
  store<u16>(icmp + 2, <u16>csumReplace2(<u32>load<u16>(icmp + 2), oldTypeCode, <u32>load<u16>(icmp)));
  return ETH_HLEN + ipLen;
}

/** ICMP dest-unreachable/frag-needed (v4) or packet-too-big (v6) quoting the input datagram. */
export function tooBig(inP: usize, lk: Link, outP: usize, outCap: u32, mtu: u32): u32 {
  const dlen = M.l3end - M.l3;
  const ip = outP + ETH_HLEN;
  if (M.af == 4) {
    const q = dlen < QUOTE4_MAX ? dlen : QUOTE4_MAX;
    if (ETH_HLEN + 28 + q > outCap) return 0;
    memory.copy(ip + 28, inP + M.l3, q);
    const icmp = ip + 20;
    store<u8>(icmp, ICMP_DEST_UNREACH); store<u8>(icmp + 1, ICMP_FRAG_NEEDED);
    store<u16>(icmp + 2, 0); store<u16>(icmp + 4, 0);
    store<u16>(icmp + 6, bswap<u16>(<u16>mtu));
    store<u16>(icmp + 2, csumFinish(csumAdd(icmp, 8 + q, 0)));
    const src = lk.primary4 != 0 ? lk.primary4 : M.daddr4;
    writeIPv4(ip, 0xc0, 28 + q, 0, false, 64, 1, src, M.saddr4);
    writeEther(outP, loadMac(inP + 6), lk.mac, ETH_P_IP);
    return ETH_HLEN + 28 + q;
  }
  const q = dlen < QUOTE6_MAX ? dlen : QUOTE6_MAX;
  if (ETH_HLEN + 48 + q > outCap) return 0;
  memory.copy(ip + 48, inP + M.l3, q);
  const icmp = ip + 40;
  store<u8>(icmp, ICMP6_PKT_TOOBIG); store<u8>(icmp + 1, 0);
  store<u16>(icmp + 2, 0);
  store<u32>(icmp + 4, bswap<u32>(mtu));
  writeIPv6(ip, 8 + q, 58, 64, lk.hasPrimary6 ? lk.primary6 : M.daddr6, M.saddr6);
  store<u16>(icmp + 2, csumFinish(csumAdd(icmp, 8 + q, pseudo6(ip + 8, ip + 24, 58, 8 + q))));
  writeEther(outP, loadMac(inP + 6), lk.mac, ETH_P_IPV6);
  return ETH_HLEN + 48 + q;
}
