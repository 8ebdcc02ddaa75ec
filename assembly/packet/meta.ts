// What the parsers learned about the current frame. Module globals rather
// than an object: one frame is in flight at a time and the hot path must
// not allocate. Offsets are from the start of the frame.

export let af: u8 = 0;            // 4 or 6
export let l3: u32 = 0;           // IP header offset
export let l3end: u32 = 0;        // end of the IP datagram (excludes Ethernet padding)
export let proto: u8 = 0;         // transport protocol (after IPv6 extension headers)
export let l4: u32 = 0;           // transport header offset
export let saddr4: u32 = 0;       // IPv4 addresses, network order
export let daddr4: u32 = 0;
export let saddr6: v128 = i32x4.splat(0);
export let daddr6: v128 = i32x4.splat(0);
export let sport: u16 = 0;        // network order; ICMP: echo id in sport
export let dport: u16 = 0;
export let tcpFlags: u8 = 0;
export let fragment: bool = false; // part of a fragmented datagram
export let firstFrag: bool = true; // offset 0 (carries the L4 header)
export let fragId: u32 = 0;
export let moreFrags: bool = false;
export let ttl: u8 = 0;
/** IPv6: offset of the fragment header's or last extension's next-header byte. */
export let v6NextHdrOff: u32 = 0;

export function setL3(a: u8, off: u32, end: u32): void { af = a; l3 = off; l3end = end; }
export function setAddrs4(s: u32, d: u32): void { saddr4 = s; daddr4 = d; }
export function setAddrs6(s: v128, d: v128): void { saddr6 = s; daddr6 = d; }
export function setL4(p: u8, off: u32): void { proto = p; l4 = off; }
export function setPorts(s: u16, d: u16): void { sport = s; dport = d; }
export function setTcpFlags(f: u8): void { tcpFlags = f; }
export function setFrag(isFrag: bool, first: bool, id: u32, mf: bool): void {
  fragment = isFrag; firstFrag = first; fragId = id; moreFrags = mf;
}
export function setTtl(t: u8): void { ttl = t; }
export function setV6NextHdrOff(o: u32): void { v6NextHdrOff = o; }

/** The frame's addresses as the address type A (u32 for IPv4, v128 for IPv6). */
@inline export function srcA<A>(): A {
  if (isVector<A>()) return changetype<A>(saddr6);
  return changetype<A>(saddr4);
}
@inline export function dstA<A>(): A {
  if (isVector<A>()) return changetype<A>(daddr6);
  return changetype<A>(daddr4);
}
