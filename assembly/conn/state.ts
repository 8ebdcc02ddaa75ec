// Protocol state tracking, as IPVS does it (ip_vs_proto_tcp.c, _udp.c):
// TCP follows IPVS's state table for the three directions (input from the
// client, output from the real server, and input-only for DR/TUN where
// replies bypass the appliance); each state has its own timeout, which
// `ipvsadm --set tcp tcpfin udp` changes at run time.

import { TH_SYN, TH_FIN, TH_ACK, TH_RST } from "../packet/tcp";

export const S_NONE: u8 = 0;
export const S_ESTABLISHED: u8 = 1;
export const S_SYN_SENT: u8 = 2;
export const S_SYN_RECV: u8 = 3;
export const S_FIN_WAIT: u8 = 4;
export const S_TIME_WAIT: u8 = 5;
export const S_CLOSE: u8 = 6;
export const S_CLOSE_WAIT: u8 = 7;
export const S_LAST_ACK: u8 = 8;
export const S_LISTEN: u8 = 9;
export const S_SYNACK: u8 = 10;
export const S_LAST: u8 = 11;

export const DIR_INPUT: u32 = 0;
export const DIR_OUTPUT: u32 = 4;
export const DIR_INPUT_ONLY: u32 = 8;

/** Per-state TCP timeouts in ms, IPVS's defaults. */
export const tcpTimeouts: StaticArray<u32> = [
  2000, 900000, 120000, 60000, 120000, 120000, 10000, 60000, 30000, 120000, 120000, 2000,
];
export let udpTimeout: u32 = 300000;
export let icmpTimeout: u32 = 60000;

const sNO: u8 = S_NONE, sES: u8 = S_ESTABLISHED, sSS: u8 = S_SYN_SENT, sSR: u8 = S_SYN_RECV,
  sFW: u8 = S_FIN_WAIT, sTW: u8 = S_TIME_WAIT, sCL: u8 = S_CLOSE, sCW: u8 = S_CLOSE_WAIT,
  sLA: u8 = S_LAST_ACK, sLI: u8 = S_LISTEN, sSA: u8 = S_SYNACK;

// Rows: direction offset + event (syn, fin, ack, rst); columns: current state.
const table: StaticArray<u8> = [
  // INPUT
  sSR, sES, sES, sSR, sSR, sSR, sSR, sSR, sSR, sSR, sSR, // syn
  sCL, sCW, sSS, sTW, sTW, sTW, sCL, sCW, sLA, sLI, sTW, // fin
  // ack from NONE is ESTABLISHED in ip_vs_proto_tcp.c (was sCL here; only
  // reachable for entries created without a SYN, e.g. by sloppy TCP or sync).
  sES, sES, sSS, sES, sFW, sTW, sCL, sCW, sCL, sLI, sES, // ack
  sCL, sCL, sCL, sSR, sCL, sCL, sCL, sCL, sLA, sLI, sSR, // rst
  // OUTPUT
  sSS, sES, sSS, sSR, sSS, sSS, sSS, sSS, sSS, sLI, sSR,
  sTW, sFW, sSS, sTW, sFW, sTW, sCL, sTW, sLA, sLI, sTW,
  sES, sES, sSS, sES, sFW, sTW, sCL, sCW, sLA, sES, sES,
  sCL, sCL, sSS, sCL, sCL, sTW, sCL, sCL, sCL, sCL, sCL,
  // INPUT-ONLY
  sSR, sES, sES, sSR, sSR, sSR, sSR, sSR, sSR, sSR, sSR,
  sCL, sFW, sSS, sTW, sFW, sTW, sCL, sCW, sLA, sLI, sTW,
  sES, sES, sSS, sES, sFW, sTW, sCL, sCW, sCL, sLI, sES, // ack from NONE: ESTABLISHED, as the kernel
  sCL, sCL, sCL, sSR, sCL, sCL, sCL, sCL, sLA, sLI, sCL,
];

/** Event index as IPVS's tcp_state_idx: rst beats syn beats fin beats ack; -1 for none. */
@inline function eventOf(flags: u8): i32 {
  if (flags & TH_RST) return 3;
  if (flags & TH_SYN) return 0;
  if (flags & TH_FIN) return 1;
  if (flags & TH_ACK) return 2;
  return -1;
}

/** Next TCP state; a segment with none of the four flags moves to CLOSE, as in IPVS. */
export function tcpNext(state: u8, dir: u32, flags: u8): u8 {
  const ev = eventOf(flags);
  if (ev < 0 || state >= S_LAST) return S_CLOSE;
  return unchecked(table[(dir + <u32>ev) * 11 + <u32>state]);
}

@inline export function tcpTimeout(state: u8): u32 { return unchecked(tcpTimeouts[state]); }

/** ipvsadm --set tcp tcpfin udp (seconds; 0 keeps the current value). */
export function setTimeouts(tcp: u32, tcpfin: u32, udp: u32): void {
  if (tcp != 0) tcpTimeouts[S_ESTABLISHED] = tcp * 1000;
  if (tcpfin != 0) tcpTimeouts[S_FIN_WAIT] = tcpfin * 1000;
  if (udp != 0) udpTimeout = udp * 1000;
}

export function setStateTimeout(state: i32, ms: u32): bool {
  if (state < 0 || state > <i32>S_LAST) return false;
  tcpTimeouts[state] = ms;
  return true;
}
