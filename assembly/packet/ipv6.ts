// IPv6: fixed header plus a bounded walk over extension headers to find the
// transport header (hop-by-hop, routing, fragment, destination options, AH).

import * as M from "./meta";
import { ld16, ld32 } from "../util/bytes";

export const V6_OK: i32 = 0;
export const V6_MALFORMED: i32 = 1;
export const V6_BAD_EXT: i32 = 2;

const NH_HOPOPTS: u8 = 0;
const NH_ROUTING: u8 = 43;
const NH_FRAGMENT: u8 = 44;
const NH_AH: u8 = 51;
const NH_DSTOPTS: u8 = 60;
const MAX_EXT: i32 = 8;
// Fragment header, bytes 2-3 in host order: offset in 8-byte units, M flag.
const IP6F_OFF_MASK: u32 = 0xfff8;
const IP6F_MORE_FRAG: u32 = 0x0001;

export function parseIPv6(p: usize, off: u32, len: u32): i32 {
  if (len < off + 40) return V6_MALFORMED;
  const h = p + off;
  if ((load<u8>(h) >> 4) != 6) return V6_MALFORMED;
  const plen = ld16(h + 4);
  const end = off + 40 + plen;
  if (end > len) return V6_MALFORMED;
  M.setL3(6, off, end);
  M.setAddrs6(v128.load(h + 8), v128.load(h + 24));
  M.setTtl(load<u8>(h + 7));
  M.setFrag(false, true, 0, false);
  let nh = load<u8>(h + 6);
  let nhOff: u32 = off + 6;
  let cur: u32 = off + 40;
  for (let i = 0; i < MAX_EXT; i++) {
    if (nh == NH_HOPOPTS || nh == NH_ROUTING || nh == NH_DSTOPTS) {
      if (cur + 8 > end) return V6_BAD_EXT;
      const hl = (<u32>load<u8>(p + cur + 1) + 1) << 3;
      if (cur + hl > end) return V6_BAD_EXT;
      nhOff = cur; nh = load<u8>(p + cur); cur += hl;
    } else if (nh == NH_AH) {
      if (cur + 8 > end) return V6_BAD_EXT;
      const hl = (<u32>load<u8>(p + cur + 1) + 2) << 2;
      if (cur + hl > end) return V6_BAD_EXT;
      nhOff = cur; nh = load<u8>(p + cur); cur += hl;
    } else if (nh == NH_FRAGMENT) {
      if (cur + 8 > end) return V6_BAD_EXT;
      const fo = ld16(p + cur + 2);
      const offset = fo & IP6F_OFF_MASK;
      const mf = (fo & IP6F_MORE_FRAG) != 0;
      M.setFrag(true, offset == 0, ld32(p + cur + 4), mf);
      nhOff = cur; nh = load<u8>(p + cur); cur += 8;
    } else {
      M.setL4(nh, cur);
      M.setV6NextHdrOff(nhOff);
      return V6_OK;
    }
  }
  return V6_BAD_EXT;
}

/** Writes a 40-byte IPv6 header; addresses copied from sp/dp. */
export function writeIPv6(h: usize, plen: u32, nh: u32, hop: u32, src: v128, dst: v128): void {
  store<u32>(h, bswap<u32>(0x60000000));
  store<u16>(h + 4, bswap<u16>(<u16>plen));
  store<u8>(h + 6, <u8>nh);
  store<u8>(h + 7, <u8>hop);
  v128.store(h + 8, src);
  v128.store(h + 24, dst);
}
