// TCP header: ports and flags for the state machine; the rest passes through.

import * as M from "./meta";

export const TH_FIN: u8 = 0x01;
export const TH_SYN: u8 = 0x02;
export const TH_RST: u8 = 0x04;
export const TH_ACK: u8 = 0x10;
export const TCP_CSUM_OFF: u32 = 16;

/** Parses the TCP header at l4; false when truncated or the data offset is bad. */
export function parseTcp(p: usize, l4: u32, end: u32): bool {
  if (l4 + 20 > end) return false;
  const doff = (<u32>load<u8>(p + l4 + 12) >> 4) << 2;
  if (doff < 20 || l4 + doff > end) return false;
  M.setPorts(load<u16>(p + l4), load<u16>(p + l4 + 2));
  M.setTcpFlags(load<u8>(p + l4 + 13));
  return true;
}
