// VS/NAT rewrites (ip_vs_nat_xmit and the snat/dnat handlers): destination
// address and port towards the real server, source address and port on the
// way back; IPv4 header and transport checksums patched incrementally
// (RFC 1624). Non-first fragments carry no transport header: only the
// address changes, and the first fragment's patch covers the transport
// checksum of the whole datagram.

import { csumReplace4, csumReplace2, csumReplace16, csumAdjust4, csumAdjust16 } from "../packet/checksum";
import { partialL4 } from "./offload";
import { IPPROTO_TCP, IPPROTO_UDP } from "../packet/ipv4";
import { TCP_CSUM_OFF } from "../packet/tcp";
import { UDP_CSUM_OFF } from "../packet/udp";

/** Patches a transport checksum for an address and port change. */
@inline function patchL4<A>(l4: usize, proto: u8, portOff: u32, oldA: A, newA: A, newPort: u16): void {
  let coff: u32;
  if (proto == IPPROTO_TCP) coff = TCP_CSUM_OFF;
  else if (proto == IPPROTO_UDP) coff = UDP_CSUM_OFF;
  else return;
  const oldPort = <u32>load<u16>(l4 + portOff);
  store<u16>(l4 + portOff, newPort);
  let c = <u32>load<u16>(l4 + coff);
  if (partialL4()) {
    // Checksum offload: the field holds the pseudo-header sum, which has the
    // addresses but not the ports (the sender's device sums those with the
    // segment). Adjust it as a plain one's-complement sum, no complement.
    c = isVector<A>() ? csumAdjust16(c, changetype<v128>(oldA), changetype<v128>(newA)) : csumAdjust4(c, <u32>oldA, <u32>newA);
    store<u16>(l4 + coff, <u16>c);
    return;
  }
  if (proto == IPPROTO_UDP && c == 0 && !isVector<A>()) return; // IPv4 UDP without checksum
  if (isVector<A>()) c = csumReplace16(c, changetype<v128>(oldA), changetype<v128>(newA));
  else c = csumReplace4(c, <u32>oldA, <u32>newA);
  c = csumReplace2(c, oldPort, <u32>newPort);
  if (proto == IPPROTO_UDP && c == 0) c = 0xffff;
  store<u16>(l4 + coff, <u16>c);
}

/** Rewrites an address field of the IP header at ip+aoff (and the IPv4 header checksum). */
@inline function patchAddr<A>(ip: usize, aoff: u32, newA: A): A {
  const oldA = load<A>(ip + aoff);
  store<A>(ip + aoff, newA);
  if (!isVector<A>()) {
    store<u16>(ip + 10, <u16>csumReplace4(<u32>load<u16>(ip + 10), <u32>oldA, <u32>newA));
  }
  return oldA;
}

/** Client → real server: destination becomes daddr:dport. l4 = 0 for non-first fragments. */
@inline export function dnat<A>(ip: usize, l4: usize, proto: u8, daddr: A, dport: u16): void {
  const oldA = patchAddr<A>(ip, isVector<A>() ? 24 : 16, daddr);
  if (l4 != 0) patchL4<A>(l4, proto, 2, oldA, daddr, dport);
}

/** Real server → client: source becomes vaddr:vport. */
export function snat<A>(ip: usize, l4: usize, proto: u8, vaddr: A, vport: u16): void {
  const oldA = patchAddr<A>(ip, isVector<A>() ? 8 : 12, vaddr);
  if (l4 != 0) patchL4<A>(l4, proto, 0, oldA, vaddr, vport);
}
