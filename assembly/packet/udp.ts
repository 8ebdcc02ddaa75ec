// UDP header: ports, and a length that must fit the datagram.

import * as M from "./meta";
import { ld16 } from "../util/bytes";

export const UDP_CSUM_OFF: u32 = 6;

export function parseUdp(p: usize, l4: u32, end: u32): bool {
  if (l4 + 8 > end) return false;
  const ulen = ld16(p + l4 + 4);
  // The UDP length covers the whole datagram, of which a first fragment (MF
  // set) holds only the start: check it against the end only when unfragmented.
  if (ulen < 8 || (!M.moreFrags && l4 + ulen > end)) return false;
  M.setPorts(load<u16>(p + l4), load<u16>(p + l4 + 2));
  return true;
}
