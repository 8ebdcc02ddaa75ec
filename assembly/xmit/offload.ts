// Offload state of a frame: the virtio_net_hdr that AF_PACKET carries with
// PACKET_VNET_HDR (native/README.md), folded into the descriptor's 32-bit
// `flags` field (assembly/ring/batch.ts), in and out:
//
//   bit 0      NEEDS_CSUM   the L4 checksum field holds the folded pseudo-header
//                           sum (not complemented); whoever sends completes it
//   bit 1      DATA_VALID   the checksum was verified (input only)
//   bits 2-4   gso_type & 7 (1 TCPV4, 3 UDP, 4 TCPV6, 5 UDP_L4; 0 none)
//   bit 5      gso ECN
//   bit 6      csum_offset is UDP's (6), else TCP's (16)
//   bits 7-15  csum_start, bytes from the Ethernet header (< 512)
//   bits 16-31 gso_size, payload bytes per segment
//
// hdr_len is not carried: it follows from csum_start and the L4 header.
//
// Rules of the frame path (core.ts, xmit/method.ts): a partial checksum of a TCP/UDP
// datagram whose csum_start is its L4 header stays partial through NAT (the
// address change adjusts the seed as a plain one's-complement sum, ports are
// not part of it) and through DR; csum_start follows any L2 change. Any
// other partial checksum is completed on input. GSO frames keep their
// fields, so the kernel segments them on transmit; IP-in-IP (TUN) output
// cannot carry GSO through AF_PACKET, so the TX path segments it here
// (xmit/gso.ts), and a TUN frame with only a partial checksum is completed.

import * as M from "../packet/meta";
import { csumAdd, csumFinish } from "../packet/checksum";
import { IPPROTO_TCP, IPPROTO_UDP } from "../packet/ipv4";

export const OF_NEEDS_CSUM: u32 = 0x1;
export const OF_DATA_VALID: u32 = 0x2;
export const OF_GSO_SHIFT: u32 = 2;
export const OF_GSO_MASK: u32 = 0x1c;
export const OF_GSO_ECN: u32 = 0x20;
export const OF_CSUM_UDP: u32 = 0x40;
export const OF_CSUM_START_SHIFT: u32 = 7;
export const OF_CSUM_START_MASK: u32 = 0x1ff << 7;
export const OF_GSO_SIZE_SHIFT: u32 = 16;
/** csum_start values above this are completed on input (room for L2 growth on output). */
export const CSUM_START_MAX: u32 = 480;

export const GSO_NONE: u32 = 0;
export const GSO_TCPV4: u32 = 1;
export const GSO_UDP: u32 = 3;
export const GSO_TCPV6: u32 = 4;
export const GSO_UDP_L4: u32 = 5;

/** The current input frame's offload state, and the output's. */
export let inFlags: u32 = 0;
export let outFlags: u32 = 0;
export function setInFlags(f: u32): void { inFlags = f; }
@inline export function resetOutFlags(): void { outFlags = 0; }

@inline export function gsoType(f: u32): u32 { return (f & OF_GSO_MASK) >> OF_GSO_SHIFT; }
@inline export function gsoSize(f: u32): u32 { return f >>> OF_GSO_SIZE_SHIFT; }
@inline export function csumStart(f: u32): u32 { return (f & OF_CSUM_START_MASK) >> OF_CSUM_START_SHIFT; }
@inline export function csumOffset(f: u32): u32 { return (f & OF_CSUM_UDP) != 0 ? 6 : 16; }
@inline export function isGso(f: u32): bool { return (f & OF_GSO_MASK) != 0 && gsoSize(f) != 0; }

/**
 * Flags for a virtio_net_hdr at v (10 bytes, little-endian) in front of a
 * frame of len bytes at p. A partial checksum the flags cannot describe
 * (csum_start too far, an unusual csum_offset) is completed in place here.
 */
export function fromVnet(v: usize, p: usize, len: u32): u32 {
  const vf = <u32>load<u8>(v);
  const gt = <u32>load<u8>(v, 1);
  const gs = <u32>load<u16>(v, 4);
  let f: u32 = vf & OF_DATA_VALID;
  if ((vf & OF_NEEDS_CSUM) != 0) {
    const start = <u32>load<u16>(v, 6);
    const off = <u32>load<u16>(v, 8);
    if (start <= CSUM_START_MAX && (off == 16 || off == 6) && start + off + 2 <= len) {
      f |= OF_NEEDS_CSUM | (start << OF_CSUM_START_SHIFT) | (off == 6 ? OF_CSUM_UDP : 0);
      if ((gt & 7) != 0 && gs != 0) f |= ((gt & 7) << OF_GSO_SHIFT) | (gt & 0x80 ? OF_GSO_ECN : 0) | (gs << OF_GSO_SIZE_SHIFT);
    } else if (start + off + 2 <= len) {
      completeAt(p, start, off, len, false);
    }
  }
  return f;
}

/**
 * Writes the virtio_net_hdr for flags f at v, for the frame at p. hdr_len:
 * csum_start plus the TCP header length (8 for UDP).
 */
export function toVnet(v: usize, p: usize, f: u32): void {
  if ((f & OF_NEEDS_CSUM) == 0) {
    store<u64>(v, 0);
    store<u16>(v, 0, 8);
    return;
  }
  const start = csumStart(f);
  const off = csumOffset(f);
  const l4h: u32 = off == 16 ? (<u32>load<u8>(p + start + 12) >> 4) << 2 : 8;
  store<u8>(v, <u8>OF_NEEDS_CSUM);
  store<u8>(v, <u8>(gsoType(f) | ((f & OF_GSO_ECN) != 0 ? 0x80 : 0)), 1);
  store<u16>(v, <u16>(start + l4h), 2);
  store<u16>(v, <u16>gsoSize(f), 4);
  store<u16>(v, <u16>start, 6);
  store<u16>(v, <u16>off, 8);
}

/**
 * Completes a partial checksum: the field at start+off holds the seed, the
 * checksum covers [start, end). UDP's computed zero is sent as 0xffff.
 */
export function completeAt(p: usize, start: u32, off: u32, end: u32, udp: bool): void {
  let c = csumFinish(csumAdd(p + start, end - start, 0));
  if (udp && c == 0) c = 0xffff;
  store<u16>(p + start + off, c);
}

/**
 * Called once the IP header is parsed (meta set): a partial checksum that is
 * not a TCP/UDP one at the L4 header (or that belongs to a fragment) is
 * completed in the input frame now, so the rest of the path only ever sees
 * complete checksums or ones it knows how to carry.
 */
export function settleInput(p: usize): void {
  const f = inFlags;
  if ((f & OF_NEEDS_CSUM) == 0) return;
  const start = csumStart(f);
  const udp = (f & OF_CSUM_UDP) != 0;
  const proto = M.proto;
  if (!M.fragment && start == M.l4 && ((proto == IPPROTO_TCP && !udp) || (proto == IPPROTO_UDP && udp))) return;
  const off = csumOffset(f);
  if (start + off + 2 <= M.l3end && start >= M.l3) completeAt(p, start, off, M.l3end, udp);
  inFlags = 0;
}

/** Completes the input frame's partial checksum in place (a frame for the host stack). */
export function completeInput(p: usize, len: u32): void {
  const f = inFlags;
  if ((f & OF_NEEDS_CSUM) == 0) return;
  const start = csumStart(f);
  const off = csumOffset(f);
  const end = M.l3end > start && M.l3end <= len ? M.l3end : len;
  if (start + off + 2 <= end) completeAt(p, start, off, end, off == 6);
  inFlags = f & ~(OF_NEEDS_CSUM | OF_GSO_MASK | OF_CSUM_START_MASK | OF_CSUM_UDP);
}

/** True when the current input's L4 checksum is a partial one (NAT adjusts the seed). */
@inline export function partialL4(): bool { return (inFlags & OF_NEEDS_CSUM) != 0; }

/**
 * Output offload state for the current datagram copied so that its IP
 * header moved from inL3 (input frame) to outL3 (output frame).
 */
export function carry(inL3: u32, outL3: u32): void {
  const f = inFlags;
  if ((f & OF_NEEDS_CSUM) == 0) { outFlags = 0; return; }
  const start = csumStart(f) - inL3 + outL3;
  outFlags = (f & ~(OF_CSUM_START_MASK | OF_DATA_VALID)) | (start << OF_CSUM_START_SHIFT);
}

/**
 * Output offload state after IP-in-IP encapsulation (inner IP header now at
 * outL3 of outP, datagram ends at end): GSO is kept for the TX path to
 * segment (xmit/gso.ts); a partial checksum alone is completed here, since
 * the kernel cannot be told about it inside the tunnel and the real server's
 * decapsulator should not have to.
 */
export function tunnelOut(outP: usize, inL3: u32, outL3: u32, end: u32): void {
  const f = inFlags;
  if ((f & OF_NEEDS_CSUM) == 0) { outFlags = 0; return; }
  if (isGso(f)) { carry(inL3, outL3); return; }
  completeAt(outP, csumStart(f) - inL3 + outL3, csumOffset(f), end, (f & OF_CSUM_UDP) != 0);
  outFlags = 0;
}

/**
 * The largest packet the current datagram becomes on the wire: a GSO frame's
 * segments (headers + gso_size), else the datagram itself.
 */
export function wireLen(p: usize, ipLen: u32): u32 {
  const f = inFlags;
  if (!isGso(f)) return ipLen;
  const start = csumStart(f);
  if (start < M.l3) return ipLen;
  // UFO's gso_size is a fragment's whole IP payload; TSO's and UDP_L4's follow the L4 header.
  const l4h: u32 = gsoType(f) == GSO_UDP ? 0 : csumOffset(f) == 16 ? (<u32>load<u8>(p + start + 12) >> 4) << 2 : 8;
  const seg = start - M.l3 + l4h + gsoSize(f);
  return seg < ipLen ? seg : ipLen;
}
