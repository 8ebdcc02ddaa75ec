// VS/TUN (ip_vs_tunnel_xmit): the client's datagram goes unchanged inside a
// new IPv4 header (IP-in-IP, protocol 4) addressed to the real server, which
// decapsulates it and answers the client directly. The outer header copies
// the inner TOS and DF; when the result would exceed the egress MTU and DF
// is set, the client gets ICMP "fragmentation needed" with MTU − 20.

import { writeIPv4, IPPROTO_IPIP, IP_DF } from "../packet/ipv4";
import { ld16 } from "../util/bytes";

export const TUN_OVERHEAD: u32 = 20;
let ipId: u32 = 1;

/** Writes the outer header at outer (20 bytes before the inner datagram). */
export function encap4(outer: usize, innerLen: u32, src: u32, dst: u32): void {
  const inner = outer + TUN_OVERHEAD;
  const df = (ld16(inner + 6) & IP_DF) != 0;
  const tos = <u32>load<u8>(inner + 1);
  ipId = (ipId + 1) & 0xffff;
  writeIPv4(outer, tos, innerLen + TUN_OVERHEAD, <u32>bswap<u16>(<u16>ipId), df, 64, IPPROTO_IPIP, src, dst);
}

/** True when the inner datagram forbids fragmentation. */
export function innerDf(inner: usize): bool { return (ld16(inner + 6) & IP_DF) != 0; }
