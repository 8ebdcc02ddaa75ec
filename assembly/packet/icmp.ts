// ICMP and ICMPv6: echo (the identifier stands in for ports) and the error
// messages that quote a packet of some connection.

import * as M from "./meta";

export const ICMP_ECHOREPLY: u8 = 0;
export const ICMP_DEST_UNREACH: u8 = 3;
export const ICMP_SOURCE_QUENCH: u8 = 4;
export const ICMP_ECHO: u8 = 8;
export const ICMP_TIME_EXCEEDED: u8 = 11;
export const ICMP_PARAMETERPROB: u8 = 12;
export const ICMP_FRAG_NEEDED: u8 = 4; // code of DEST_UNREACH

export const ICMP6_DEST_UNREACH: u8 = 1;
export const ICMP6_PKT_TOOBIG: u8 = 2;
export const ICMP6_TIME_EXCEED: u8 = 3;
export const ICMP6_PARAMPROB: u8 = 4;
export const ICMP6_ECHO_REQUEST: u8 = 128;
export const ICMP6_ECHO_REPLY: u8 = 129;
export const ND_NEIGHBOR_SOLICIT: u8 = 135;
export const ND_NEIGHBOR_ADVERT: u8 = 136;

/** True for ICMPv4 types that carry the offending datagram. */
@inline export function isIcmp4Error(t: u8): bool {
  return t == ICMP_DEST_UNREACH || t == ICMP_SOURCE_QUENCH || t == ICMP_TIME_EXCEEDED || t == ICMP_PARAMETERPROB;
}
@inline export function isIcmp6Error(t: u8): bool { return t < 128; }

/** Parses the ICMP header (8 bytes); echo messages put their id in both ports. */
export function parseIcmp(p: usize, l4: u32, end: u32): bool {
  if (l4 + 8 > end) return false;
  const id = load<u16>(p + l4 + 4);
  M.setPorts(id, id);
  return true;
}
