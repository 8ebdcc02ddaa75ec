// ARP (RFC 826) for IPv4 over Ethernet: answer requests for addresses the
// link owns, learn senders that ask us or that we asked about, and build
// requests for unresolved next hops.

import { Link, owns4, standbyOn } from "./link";
import * as neigh from "./neigh";
import { ETH_HLEN, ETH_P_ARP, MAC_BROADCAST, loadMac, storeMac, writeEther } from "../packet/ether";
import { ld16 } from "../util/bytes";
import { v4addr } from "../util/bytes";

const ARP_LEN: u32 = 28;
export const ARP_OK_REPLY: i32 = 1;   // a reply is in the output slot
export const ARP_OK_LOCAL: i32 = 2;   // consumed (learnt); the host stack may see it too
export const ARP_MALFORMED: i32 = -1;
export const ARP_STANDBY: i32 = 3;    // about an address held in standby here: neither answered nor passed up

/** Length of the reply written at out, or a negative/ARP_OK_LOCAL code. */
export let replyLen: u32 = 0;

export function handleArp(p: usize, len: u32, l3off: u32, lk: Link, outP: usize, outCap: u32, now: u32): i32 {
  if (len < l3off + ARP_LEN) return ARP_MALFORMED;
  const a = p + l3off;
  // Ethernet (1) / IPv4 (0x0800), 6-byte and 4-byte addresses.
  if (ld16(a) != 1 || ld16(a + 2) != 0x0800 || load<u8>(a + 4) != 6 || load<u8>(a + 5) != 4) return ARP_MALFORMED;
  const op = ld16(a + 6);
  const sha = loadMac(a + 8);
  const spa = load<u32>(a + 14);
  const tpa = load<u32>(a + 24);
  if (op != 1 && op != 2) return ARP_MALFORMED;
  const forUs = owns4(lk, tpa);
  // Learn the sender when it talks to us or is already known (RFC 826's merge rule).
  if (spa != 0 && (forUs || neigh.known(lk.id, 4, v4addr(spa)))) {
    neigh.update(lk.id, 4, v4addr(spa), sha, neigh.NUD_REACHABLE, now);
  }
  // The host stack holds the address too: it must not answer for a standby one.
  if (!forUs && lk.nStandby != 0 && standbyOn(lk, 4, v4addr(tpa))) return ARP_STANDBY;
  if (op == 1 && forUs) {
    if (outCap < ETH_HLEN + ARP_LEN) return ARP_OK_LOCAL;
    writeEther(outP, sha, lk.mac, ETH_P_ARP);
    const r = outP + ETH_HLEN;
    writeArpHeader(r, 2);
    storeMac(r + 8, lk.mac);
    store<u32>(r + 14, tpa);
    storeMac(r + 18, sha);
    store<u32>(r + 24, spa);
    replyLen = ETH_HLEN + ARP_LEN;
    return ARP_OK_REPLY;
  }
  return ARP_OK_LOCAL;
}

function writeArpHeader(r: usize, op: u32): void {
  store<u16>(r, bswap<u16>(1));
  store<u16>(r + 2, bswap<u16>(0x0800));
  store<u8>(r + 4, 6);
  store<u8>(r + 5, 4);
  store<u16>(r + 6, bswap<u16>(<u16>op));
}

/** Writes a broadcast who-has for target (raw) from the link's primary address. */
export function writeArpRequest(outP: usize, outCap: u32, lk: Link, target: u32): u32 {
  if (outCap < ETH_HLEN + ARP_LEN) return 0;
  writeEther(outP, MAC_BROADCAST, lk.mac, ETH_P_ARP);
  const r = outP + ETH_HLEN;
  writeArpHeader(r, 1);
  storeMac(r + 8, lk.mac);
  store<u32>(r + 14, lk.primary4);
  storeMac(r + 18, 0);
  store<u32>(r + 24, target);
  return ETH_HLEN + ARP_LEN;
}
