// IPv4: header validation (version, IHL, total length, checksum), options
// skipped, fragments noted (the first fragment carries the ports; later ones
// are matched through conn/frag.ts).

import * as M from "./meta";
import { csumAdd, csumFold } from "./checksum";
import { ld16 } from "../util/bytes";

export const IPPROTO_ICMP: u8 = 1;
export const IPPROTO_IPIP: u8 = 4;
export const IPPROTO_TCP: u8 = 6;
export const IPPROTO_UDP: u8 = 17;
export const IPPROTO_ICMPV6: u8 = 58;

export const IP_DF: u32 = 0x4000;
export const IP_MF: u32 = 0x2000;
export const IP_OFFMASK: u32 = 0x1fff;

export const V4_OK: i32 = 0;
export const V4_MALFORMED: i32 = 1;
export const V4_BAD_CSUM: i32 = 2;

/** Parses the IPv4 header at p+off; the frame is len bytes. Sets meta. */
@inline export function parseIPv4(p: usize, off: u32, len: u32): i32 {
  if (len < off + 20) return V4_MALFORMED;
  const h = p + off;
  const vihl = <u32>load<u8>(h);
  const ihl = (vihl & 0xf) << 2;
  if ((vihl >> 4) != 4 || ihl < 20) return V4_MALFORMED;
  const tot = ld16(h + 2);
  if (tot < ihl || off + tot > len) return V4_MALFORMED;
  if (csumFold(csumAdd(h, ihl, 0)) != 0xffff) return V4_BAD_CSUM;
  const frag = ld16(h + 6);
  const offset = frag & IP_OFFMASK;
  const mf = (frag & IP_MF) != 0;
  M.setFrag(mf || offset != 0, offset == 0, <u32>load<u16>(h + 4), mf);
  M.setL3(4, off, off + tot);
  M.setAddrs4(load<u32>(h + 12), load<u32>(h + 16));
  M.setL4(load<u8>(h + 9), off + ihl);
  M.setTtl(load<u8>(h + 8));
  return V4_OK;
}

/** Decrements TTL at h with the RFC 1624 checksum patch. */
@inline export function decTtl4(h: usize): void {
  const old = <u32>load<u16>(h + 8);      // ttl,proto word, raw
  store<u8>(h + 8, load<u8>(h + 8) - 1);
  const nw = <u32>load<u16>(h + 8);
  // incremental: header checksum at h+10
  const c = <u32>load<u16>(h + 10);
  let s: u64 = <u64>(~c & 0xffff) + <u64>(~old & 0xffff) + <u64>nw;
  s = (s & 0xffff) + (s >>> 16); s = (s & 0xffff) + (s >>> 16);
  store<u16>(h + 10, <u16>(~s & 0xffff));
}

/** Writes a 20-byte IPv4 header (no options) with its checksum. Addresses raw. */
export function writeIPv4(h: usize, tos: u32, totLen: u32, id: u32, df: bool, ttl: u32, proto: u32, src: u32, dst: u32): void {
  store<u8>(h, 0x45);
  store<u8>(h + 1, <u8>tos);
  store<u16>(h + 2, bswap<u16>(<u16>totLen));
  store<u16>(h + 4, <u16>id);
  store<u16>(h + 6, df ? bswap<u16>(<u16>IP_DF) : 0);
  store<u8>(h + 8, <u8>ttl);
  store<u8>(h + 9, <u8>proto);
  store<u16>(h + 10, 0);
  store<u32>(h + 12, src);
  store<u32>(h + 16, dst);
  store<u16>(h + 10, <u16>(~csumFold(csumAdd(h, 20, 0)) & 0xffff));
}
