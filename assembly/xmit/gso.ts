// Segmentation of a GSO frame in the data plane (what the kernel's
// tcp_gso_segment / udp4_ufo_fragment do), for output the kernel cannot take
// as one GSO frame through AF_PACKET: TCP or UDP (UDP_L4) GSO inside IP-in-IP
// (TUN), which virtio_net_hdr has no gso_type for.
//
// The frame is the output form: an untagged Ethernet header, IP headers
// (IPv4 outer and inner, or one IPv4/IPv6 header without extensions), the L4
// header at csum_start, then the payload. Segment k carries payload bytes
// [k × gso_size, (k+1) × gso_size); every IPv4 header gets its id + k, its
// total length and its checksum; TCP gets seq + k × gso_size, FIN and PSH
// only on the last segment, CWR only on the first; UDP its length; and the
// L4 checksum is computed in full.
//
// UFO (gso_type UDP, what udp4_ufo_fragment does): the inner IPv4 UDP
// datagram is cut into IP fragments of gso_size bytes of IP payload (the
// UDP header counts in the first; rounded down to a multiple of 8), all with
// the datagram's IP id, MF on all but the last, and the UDP checksum of the
// whole datagram in the first; each fragment gets its own outer header
// (id + k). An IPv6 datagram (it would need a fragment header) is not cut.

import * as O from "./offload";
import { csumAdd, csumFinish, pseudo4, pseudo6 } from "../packet/checksum";
import { ETH_HLEN } from "../packet/ether";
import { IPPROTO_IPIP, IPPROTO_TCP, IPPROTO_UDP } from "../packet/ipv4";
import { ld16, ld32, st16, st32, copyBytes } from "../util/bytes";

const IPPROTO_IPV6: u32 = 41;

@inline function l4Len(p: usize, start: u32, f: u32): u32 {
  return O.csumOffset(f) == 16 ? (<u32>load<u8>(p + start + 12) >> 4) << 2 : 8;
}

/** Number of segments of the GSO frame at p (len bytes, flags f); 0 when it is not one. */
export function gsoCount(p: usize, len: u32, f: u32): u32 {
  if (!O.isGso(f) || (f & O.OF_NEEDS_CSUM) == 0) return 0;
  const start = O.csumStart(f);
  if (O.gsoType(f) == O.GSO_UDP) {
    const fs = O.gsoSize(f) & ~7;
    if (fs == 0 || ufoInner(p, len, start) == 0) return 0;
    return (len - start + fs - 1) / fs;
  }
  if (start + 20 > len) return 0;
  const hdrEnd = start + l4Len(p, start, f);
  if (hdrEnd > len) return 0;
  const gs = O.gsoSize(f);
  const payload = len - hdrEnd;
  return payload == 0 ? 1 : (payload + gs - 1) / gs;
}

/**
 * Writes segment k of the GSO frame at p to dst (cap bytes): its length, or
 * 0 when k is past the end, the segment does not fit, or the headers are not
 * ones this walks.
 */
export function gsoSegment(p: usize, len: u32, f: u32, k: u32, dst: usize, cap: u32): u32 {
  if (O.gsoType(f) == O.GSO_UDP) return ufoFragment(p, len, f, k, dst, cap);
  const start = O.csumStart(f);
  const tcp = O.csumOffset(f) == 16;
  const hdrEnd = start + l4Len(p, start, f);
  const gs = O.gsoSize(f);
  if (hdrEnd > len || gs == 0) return 0;
  const payload = len - hdrEnd;
  const off = k * gs;
  if (off >= payload && !(payload == 0 && k == 0)) return 0;
  const chunk = payload - off < gs ? payload - off : gs;
  const segLen = hdrEnd + chunk;
  if (segLen > cap) return 0;
  copyBytes(dst, p, hdrEnd);
  if (chunk > 0) memory.copy(dst + hdrEnd, p + hdrEnd + off, chunk);
  const last = off + chunk >= payload;

  // IP headers from the Ethernet header to the L4 header.
  let ip: u32 = ETH_HLEN;
  let inner: u32 = ETH_HLEN;
  let v6 = false;
  for (let depth = 0; depth < 2 && ip < start; depth++) {
    const h = dst + ip;
    const ver = <u32>load<u8>(h) >> 4;
    inner = ip;
    if (ver == 4) {
      const ihl = (<u32>load<u8>(h) & 0xf) << 2;
      st16(h + 2, segLen - ip);
      st16(h + 4, (ld16(h + 4) + k) & 0xffff);
      store<u16>(h + 10, 0);
      store<u16>(h + 10, csumFinish(csumAdd(h, ihl, 0)));
      v6 = false;
      const proto = <u32>load<u8>(h + 9);
      ip += ihl;
      if (proto != IPPROTO_IPIP && proto != IPPROTO_IPV6) break;
    } else if (ver == 6) {
      st16(h + 4, segLen - ip - 40);
      v6 = true;
      const nh = <u32>load<u8>(h + 6);
      ip += 40;
      if (nh != IPPROTO_IPIP && nh != IPPROTO_IPV6) break;
    } else {
      return 0;
    }
  }
  if (ip != start) return 0;

  const l4 = dst + start;
  const l4len = segLen - start;
  if (tcp) {
    st32(l4 + 4, ld32(p + start + 4) + off);
    let fl = <u32>load<u8>(l4 + 13);
    if (!last) fl &= ~0x09;      // FIN, PSH
    if (k != 0) fl &= ~0x80;     // CWR
    store<u8>(l4 + 13, <u8>fl);
  } else {
    st16(l4 + 4, l4len);
  }
  const coff: u32 = tcp ? 16 : 6;
  store<u16>(l4 + coff, 0);
  const proto: u32 = tcp ? IPPROTO_TCP : IPPROTO_UDP;
  const ph: u64 = v6
    ? pseudo6(dst + inner + 8, dst + inner + 24, proto, l4len)
    : pseudo4(load<u32>(dst + inner + 12), load<u32>(dst + inner + 16), proto, l4len);
  let c = csumFinish(csumAdd(l4, l4len, ph));
  if (!tcp && c == 0) c = 0xffff;
  store<u16>(l4 + coff, c);
  return segLen;
}

/**
 * The inner IPv4 header of an IPv4-in-IPv4 frame whose inner datagram is an
 * unfragmented UDP one with its UDP header at start (and at least that
 * header in len); 0 otherwise.
 */
function ufoInner(p: usize, len: u32, start: u32): u32 {
  const o = p + ETH_HLEN;
  if (ld16(p + 12) != 0x0800 || <u32>load<u8>(o) >> 4 != 4 || <u32>load<u8>(o + 9) != IPPROTO_IPIP) return 0;
  const inner = ETH_HLEN + ((<u32>load<u8>(o) & 0xf) << 2);
  const h = p + inner;
  if (inner + 20 > len || <u32>load<u8>(h) >> 4 != 4 || <u32>load<u8>(h + 9) != IPPROTO_UDP) return 0;
  if ((ld16(h + 6) & 0x3fff) != 0) return 0; // already a fragment
  if (inner + ((<u32>load<u8>(h) & 0xf) << 2) != start || start + 8 > len) return 0;
  return inner;
}

/** Fragment k of a UFO frame (see the top): its length, or 0 past the end or when it does not fit. */
function ufoFragment(p: usize, len: u32, f: u32, k: u32, dst: usize, cap: u32): u32 {
  const start = O.csumStart(f);
  const inner = ufoInner(p, len, start);
  const fs = O.gsoSize(f) & ~7;
  if (inner == 0 || fs == 0) return 0;
  const total = len - start; // the inner datagram's IP payload: UDP header and data
  const off = k * fs;
  if (off >= total) return 0;
  const chunk = total - off < fs ? total - off : fs;
  const segLen = start + chunk;
  if (segLen > cap) return 0;
  copyBytes(dst, p, start);
  memory.copy(dst + start, p + start + off, chunk);
  if (k == 0) {
    // The checksum of the whole datagram: the field holds the pseudo-header seed (NEEDS_CSUM).
    let c = csumFinish(csumAdd(p + start, total, 0));
    if (c == 0) c = 0xffff;
    store<u16>(dst + start + 6, c);
  }
  const o = dst + ETH_HLEN;
  const oihl = (<u32>load<u8>(o) & 0xf) << 2;
  st16(o + 2, segLen - ETH_HLEN);
  st16(o + 4, (ld16(o + 4) + k) & 0xffff);
  store<u16>(o + 10, 0);
  store<u16>(o + 10, csumFinish(csumAdd(o, oihl, 0)));
  // Inner header: same id in every fragment; DF cleared, the sender asked for these fragments.
  const h = dst + inner;
  const ihl = (<u32>load<u8>(h) & 0xf) << 2;
  st16(h + 2, ihl + chunk);
  st16(h + 6, (off + chunk < total ? 0x2000 : 0) | (off >> 3));
  store<u16>(h + 10, 0);
  store<u16>(h + 10, csumFinish(csumAdd(h, ihl, 0)));
  return segLen;
}

/** True when output at p must be segmented here: GSO inside IP-in-IP. */
export function needsSoftGso(p: usize, f: u32): bool {
  if (!O.isGso(f)) return false;
  if (ld16(p + 12) != 0x0800) return false;
  const proto = <u32>load<u8>(p + ETH_HLEN + 9);
  return proto == IPPROTO_IPIP || proto == IPPROTO_IPV6;
}
