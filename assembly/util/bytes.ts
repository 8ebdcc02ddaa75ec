// Network byte order helpers. Packet fields are read with one load and a
// bswap; addresses and ports are kept in network order ("raw") wherever they
// are only compared or hashed, and converted only where arithmetic needs it.

@inline export function ld16(p: usize): u32 { return <u32>bswap<u16>(load<u16>(p)); }
@inline export function ld32(p: usize): u32 { return bswap<u32>(load<u32>(p)); }
@inline export function st16(p: usize, v: u32): void { store<u16>(p, bswap<u16>(<u16>v)); }
@inline export function st32(p: usize, v: u32): void { store<u32>(p, bswap<u32>(v)); }

/** Raw (network order) 16-bit value to host order. */
@inline export function ntohs(v: u32): u32 { return <u32>bswap<u16>(<u16>v); }
/** Raw (network order) 32-bit value to host order. */
@inline export function ntohl(v: u32): u32 { return bswap<u32>(v); }

/** IPv4 address (raw) as the low lane of a v128, the form used by control-plane keys. */
@inline export function v4addr(raw: u32): v128 { return i32x4.replace_lane(i32x4.splat(0), 0, <i32>raw); }
@inline export function v4of(a: v128): u32 { return <u32>i32x4.extract_lane(a, 0); }
@inline export function addrEq(a: v128, b: v128): bool { return v128.all_true<i64>(v128.eq<i64>(a, b)); }

// Code written once over the address type A (u32 for IPv4, v128 for IPv6),
// as the frame path and the connection table are, converts with these.
@inline export function toV128<A>(a: A): v128 {
  if (isVector<A>()) return changetype<v128>(a);
  return v4addr(<u32>a);
}
@inline export function fromV128<A>(a: v128): A {
  if (isVector<A>()) return changetype<A>(a);
  return changetype<A>(v4of(a));
}
/** The address family (4 or 6) of the address type A. */
@inline export function afOf<A>(): u8 { return isVector<A>() ? 6 : 4; }

/** 32-bit multiplicative hash (golden ratio), as the kernel's hash_32. */
@inline export function hash32(v: u32, bits: u32): u32 { return (v * 0x61C88647) >>> (32 - bits); }

/** Mixes a 32-bit value (murmur3 finaliser); good spread for table indices. */
@inline export function mix32(h: u32): u32 {
  h ^= h >>> 16; h *= 0x85ebca6b; h ^= h >>> 13; h *= 0xc2b2ae35; h ^= h >>> 16;
  return h;
}

@inline export function foldAddr(a: v128): u32 {
  return <u32>(i32x4.extract_lane(a, 0) ^ i32x4.extract_lane(a, 1) ^ i32x4.extract_lane(a, 2) ^ i32x4.extract_lane(a, 3));
}

/**
 * Copies a frame-sized block. memory.copy is a call into the engine, which
 * costs more than the copy itself for a small packet; 16-byte vector moves
 * inline do better. Overlapping or large blocks still go to memory.copy.
 */
@inline export function copyBytes(dst: usize, src: usize, len: usize): void {
  const apart = dst > src ? dst - src : src - dst;
  if (len <= 256 && apart >= len) {
    let i: usize = 0;
    for (; i + 16 <= len; i += 16) v128.store(dst + i, v128.load(src + i));
    for (; i < len; i++) store<u8>(dst + i, load<u8>(src + i));
  } else {
    memory.copy(dst, src, len);
  }
}
