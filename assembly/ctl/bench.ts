// Hooks for bench/ only: fill the IPv4 connection table with synthetic
// entries without building frames, so B7 can check that a large table really
// allocates and holds what it claims. Never used by the appliance itself.

import { conns4, CF_HASHED_OUT, CF_INACTIVE, NONE } from "../conn/table";

/**
 * Inserts up to n synthetic NAT connections (TCP, distinct client address and
 * port, one virtual and one real address, no real server bound) expiring at
 * now + 900 s. Returns how many were inserted (fewer when the table fills).
 */
export function benchFillConns4(n: u32, vaddr: u32, daddr: u32, now: u32): u32 {
  const t = conns4;
  let k: u32 = 0;
  for (; k < n; k++) {
    const c = bswap<u32>(0xc6120000 + (k >>> 12)); // 198.18.0.0/15, network order
    const cport = bswap<u16>(<u16>(1024 + (k & 0xfff)));
    const i = t.insert(6, c, cport, vaddr, 0x5000, daddr, 0x901f,
      CF_INACTIVE | CF_HASHED_OUT, 0, NONE, now + 900000, now);
    if (i == NONE) break;
  }
  return k;
}
