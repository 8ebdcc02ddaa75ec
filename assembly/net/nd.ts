// IPv6 neighbour discovery (RFC 4861), the part a load balancer needs:
// answer solicitations for owned addresses, learn link-layer addresses from
// solicitations and advertisements, and solicit unresolved next hops.

import { Link, owns, standbyOn } from "./link";
import * as neigh from "./neigh";
import { ETH_HLEN, ETH_P_IPV6, loadMac, storeMac, writeEther } from "../packet/ether";
import { writeIPv6 } from "../packet/ipv6";
import { csumAdd, csumFinish, pseudo6 } from "../packet/checksum";
import { ND_NEIGHBOR_SOLICIT, ND_NEIGHBOR_ADVERT } from "../packet/icmp";
import * as M from "../packet/meta";

const OPT_SLLA: u8 = 1;
const OPT_TLLA: u8 = 2;
const NS_LEN: u32 = 32; // 24-byte message + 8-byte link-layer option
const tmp = memory.data(32);

export let replyLen: u32 = 0;

/** Link-layer address option of type t in the ND message at [m+24, end), or 0. */
function findLla(p: usize, m: u32, end: u32, t: u8): u64 {
  let o = m + 24;
  while (o + 8 <= end) {
    const ol = <u32>load<u8>(p + o + 1) << 3;
    if (ol == 0 || o + ol > end) return 0;
    if (load<u8>(p + o) == t) return loadMac(p + o + 2);
    o += ol;
  }
  return 0;
}

export const ND_LOCAL: i32 = 0;    // consumed (learnt); the host stack may see it too
export const ND_REPLY: i32 = 1;    // an advertisement is in the output slot
export const ND_STANDBY: i32 = 2;  // its target is held in standby here: neither answered nor passed up

/** Handles NS/NA: ND_REPLY when a reply (NA) was written to the output slot, else ND_LOCAL or ND_STANDBY. */
export function handleNd(p: usize, lk: Link, outP: usize, outCap: u32, now: u32): i32 {
  const m = M.l4;
  const end = M.l3end;
  if (m + 24 > end || M.ttl != 255) return ND_LOCAL; // hop limit 255: from on-link only
  const type = load<u8>(p + m);
  const target = v128.load(p + m + 8);
  if (type == ND_NEIGHBOR_SOLICIT) {
    const slla = findLla(p, m, end, OPT_SLLA);
    const unspecified = v128.any_true(M.saddr6) == false;
    if (slla != 0 && !unspecified) neigh.update(lk.id, 6, M.saddr6, slla, neigh.NUD_REACHABLE, now);
    // The host stack holds the address too: it must not answer (nor defend it in DAD) while standby.
    if (standbyOn(lk, 6, target)) return ND_STANDBY;
    if (!owns(lk, 6, target) || unspecified || slla == 0) return ND_LOCAL;
    if (outCap < ETH_HLEN + 40 + NS_LEN) return ND_LOCAL;
    writeEther(outP, slla, lk.mac, ETH_P_IPV6);
    const ip = outP + ETH_HLEN;
    writeIPv6(ip, NS_LEN, 58, 255, target, M.saddr6);
    const na = ip + 40;
    store<u32>(na, 0); store<u8>(na, ND_NEIGHBOR_ADVERT);
    store<u32>(na + 4, bswap<u32>(0x60000000)); // solicited + override
    v128.store(na + 8, target);
    store<u8>(na + 24, OPT_TLLA); store<u8>(na + 25, 1); storeMac(na + 26, lk.mac);
    store<u16>(na + 2, csumFinish(csumAdd(na, NS_LEN, pseudo6(ip + 8, ip + 24, 58, NS_LEN))));
    replyLen = ETH_HLEN + 40 + NS_LEN;
    return ND_REPLY;
  }
  if (type == ND_NEIGHBOR_ADVERT) {
    const tlla = findLla(p, m, end, OPT_TLLA);
    if (tlla != 0 && neigh.known(lk.id, 6, target)) neigh.update(lk.id, 6, target, tlla, neigh.NUD_REACHABLE, now);
    if (standbyOn(lk, 6, target)) return ND_STANDBY; // the master's announcement: not for the host stack
  }
  return ND_LOCAL;
}

/** Multicast NS for target from the link's primary IPv6 address. */
export function writeNeighSolicit(outP: usize, outCap: u32, lk: Link, target: v128): u32 {
  if (!lk.hasPrimary6 || outCap < ETH_HLEN + 40 + NS_LEN) return 0;
  // Solicited-node multicast ff02::1:ffXX:XXXX and its MAC 33:33:ff:XX:XX:XX.
  v128.store(tmp, target);
  const b13 = load<u8>(tmp + 13), b14 = load<u8>(tmp + 14), b15 = load<u8>(tmp + 15);
  v128.store(tmp + 16, i32x4.splat(0));
  store<u8>(tmp + 16, 0xff); store<u8>(tmp + 17, 0x02);
  store<u8>(tmp + 27, 0x01); store<u8>(tmp + 28, 0xff);
  store<u8>(tmp + 29, b13); store<u8>(tmp + 30, b14); store<u8>(tmp + 31, b15);
  const dmac: u64 = 0x33 | (0x33 << 8) | (0xff << 16) | (<u64>b13 << 24) | (<u64>b14 << 32) | (<u64>b15 << 40);
  writeEther(outP, dmac, lk.mac, ETH_P_IPV6);
  const ip = outP + ETH_HLEN;
  writeIPv6(ip, NS_LEN, 58, 255, lk.primary6, v128.load(tmp + 16));
  const ns = ip + 40;
  store<u32>(ns, 0); store<u8>(ns, ND_NEIGHBOR_SOLICIT);
  store<u32>(ns + 4, 0);
  v128.store(ns + 8, target);
  store<u8>(ns + 24, OPT_SLLA); store<u8>(ns + 25, 1); storeMac(ns + 26, lk.mac);
  store<u16>(ns + 2, csumFinish(csumAdd(ns, NS_LEN, pseudo6(ip + 8, ip + 24, 58, NS_LEN))));
  return ETH_HLEN + 40 + NS_LEN;
}
