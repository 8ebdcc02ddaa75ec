// Internet checksum (RFC 1071) and its incremental update (RFC 1624).
// Sums are taken over raw (network order) 16-bit words loaded little-endian:
// the one's-complement sum is byte-order independent, so a checksum field
// read the same way can be compared and patched without byte swaps.

/** Adds len bytes at p to a 32-bit running sum (not folded). */
export function csumAdd(p: usize, len: u32, sum: u64): u64 {
  let s = sum;
  let i: u32 = 0;
  for (; i + 8 <= len; i += 8) {
    const w = load<u64>(p + i);
    s += (w & 0xffffffff) + (w >>> 32);
  }
  for (; i + 2 <= len; i += 2) s += <u64>load<u16>(p + i);
  if (i < len) s += <u64>load<u8>(p + i); // odd trailing byte, padded with zero
  return s;
}

/** Folds a running sum to 16 bits (not complemented). */
@inline export function csumFold(sum: u64): u32 {
  let s = (sum & 0xffffffff) + (sum >>> 32);
  s = (s & 0xffff) + (s >>> 16);
  s = (s & 0xffff) + (s >>> 16);
  s = (s & 0xffff) + (s >>> 16);
  return <u32>s;
}

/** Final checksum value to store (complemented fold). */
@inline export function csumFinish(sum: u64): u16 { return <u16>(~csumFold(sum) & 0xffff); }

/** RFC 1624 eqn 3 for a 32-bit field: HC' = ~(~HC + ~m + m'). */
@inline export function csumReplace4(check: u32, from: u32, to: u32): u32 {
  let s: u64 = <u64>(~check & 0xffff) + <u64>(~from & 0xffff) + <u64>((~from) >>> 16)
    + <u64>(to & 0xffff) + <u64>(to >>> 16);
  return ~csumFold(s) & 0xffff;
}

/** RFC 1624 eqn 3 for a 16-bit field. */
@inline export function csumReplace2(check: u32, from: u32, to: u32): u32 {
  const s: u64 = <u64>(~check & 0xffff) + <u64>(~from & 0xffff) + <u64>(to & 0xffff);
  return ~csumFold(s) & 0xffff;
}

/** Replaces a 128-bit field (an IPv6 address) in a checksum. */
export function csumReplace16(check: u32, from: v128, to: v128): u32 {
  let s: u64 = <u64>(~check & 0xffff);
  const f0 = <u32>i32x4.extract_lane(from, 0), f1 = <u32>i32x4.extract_lane(from, 1);
  const f2 = <u32>i32x4.extract_lane(from, 2), f3 = <u32>i32x4.extract_lane(from, 3);
  const t0 = <u32>i32x4.extract_lane(to, 0), t1 = <u32>i32x4.extract_lane(to, 1);
  const t2 = <u32>i32x4.extract_lane(to, 2), t3 = <u32>i32x4.extract_lane(to, 3);
  s += <u64>(~f0 & 0xffff) + <u64>((~f0) >>> 16) + <u64>(~f1 & 0xffff) + <u64>((~f1) >>> 16);
  s += <u64>(~f2 & 0xffff) + <u64>((~f2) >>> 16) + <u64>(~f3 & 0xffff) + <u64>((~f3) >>> 16);
  s += <u64>(t0 & 0xffff) + <u64>(t0 >>> 16) + <u64>(t1 & 0xffff) + <u64>(t1 >>> 16);
  s += <u64>(t2 & 0xffff) + <u64>(t2 >>> 16) + <u64>(t3 & 0xffff) + <u64>(t3 >>> 16);
  return ~csumFold(s) & 0xffff;
}

/**
 * A partial checksum (the folded pseudo-header sum a sender with checksum
 * offload leaves in the field, not complemented) after a 32-bit field of
 * the pseudo-header changed: seed − from + to, one's complement, no complement.
 */
@inline export function csumAdjust4(seed: u32, from: u32, to: u32): u32 {
  return ~csumReplace4(~seed & 0xffff, from, to) & 0xffff;
}

/** As csumAdjust4 for a 128-bit field (an IPv6 address). */
@inline export function csumAdjust16(seed: u32, from: v128, to: v128): u32 {
  return ~csumReplace16(~seed & 0xffff, from, to) & 0xffff;
}

/** IPv4 pseudo-header sum for (src, dst raw, proto, L4 length). */
@inline export function pseudo4(src: u32, dst: u32, proto: u32, len: u32): u64 {
  return <u64>(src & 0xffff) + <u64>(src >>> 16) + <u64>(dst & 0xffff) + <u64>(dst >>> 16)
    + <u64>bswap<u16>(<u16>proto) + <u64>bswap<u16>(<u16>len);
}

/** IPv6 pseudo-header sum; addresses at sp and dp. */
@inline export function pseudo6(sp: usize, dp: usize, proto: u32, len: u32): u64 {
  return csumAdd(sp, 16, csumAdd(dp, 16, <u64>bswap<u32>(len) + <u64>bswap<u32>(proto)));
}
