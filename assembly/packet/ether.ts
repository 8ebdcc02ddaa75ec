// Ethernet II with up to two 802.1Q / 802.1ad tags.

import { ld16 } from "../util/bytes";

export const ETH_HLEN: u32 = 14;
export const ETH_P_IP: u32 = 0x0800;
export const ETH_P_ARP: u32 = 0x0806;
export const ETH_P_IPV6: u32 = 0x86dd;
export const ETH_P_8021Q: u32 = 0x8100;
export const ETH_P_8021AD: u32 = 0x88a8;

/** Result of parseEther: the EtherType after the tags and where L3 starts. */
export let ethType: u32 = 0;
export let l3off: u32 = 0;

/** Parses the Ethernet header; false when the frame is too short for it. */
export function parseEther(p: usize, len: u32): bool {
  if (len < ETH_HLEN) return false;
  let off: u32 = 12;
  let t = ld16(p + off);
  for (let tags = 0; tags < 2 && (t == ETH_P_8021Q || t == ETH_P_8021AD); tags++) {
    if (len < off + 6) return false;
    off += 4;
    t = ld16(p + off);
  }
  ethType = t;
  l3off = off + 2;
  return true;
}

/** 48-bit MAC at p as a u64 (the 6 bytes in memory order, little-endian packed). */
@inline export function loadMac(p: usize): u64 {
  return <u64>load<u32>(p) | (<u64>load<u16>(p + 4) << 32);
}
@inline export function storeMac(p: usize, m: u64): void {
  store<u32>(p, <u32>m);
  store<u16>(p + 4, <u16>(m >>> 32));
}
@inline export function isMulticastMac(m: u64): bool { return (m & 1) != 0; }
export const MAC_BROADCAST: u64 = 0xffffffffffff;

/** Writes an untagged Ethernet header. */
@inline export function writeEther(p: usize, dst: u64, src: u64, type: u32): void {
  storeMac(p, dst);
  storeMac(p + 6, src);
  store<u16>(p + 12, bswap<u16>(<u16>type));
}
