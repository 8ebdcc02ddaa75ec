// Per service / per real server counters, as `ipvsadm --stats` shows them.
// A Stats object outlives configuration generations: a service or real server
// that is edited keeps its counters.

@final export class Stats {
  conns: u64 = 0;
  inpkts: u64 = 0;
  outpkts: u64 = 0;
  inbytes: u64 = 0;
  outbytes: u64 = 0;
}

@inline export function countIn(s: Stats, bytes: u32): void { s.inpkts++; s.inbytes += bytes; }
@inline export function countOut(s: Stats, bytes: u32): void { s.outpkts++; s.outbytes += bytes; }

/** The stats record writeStats leaves for the supervisor: five u64 at these offsets (published by ctl/layout.ts). */
export const ST_CONNS: usize = 0;
export const ST_INPKTS: usize = 8;
export const ST_OUTPKTS: usize = 16;
export const ST_INBYTES: usize = 24;
export const ST_OUTBYTES: usize = 32;

/** Writes the five counters (u64 each) at p; the supervisor reads them from there. */
export function writeStats(s: Stats, p: usize): void {
  store<u64>(p, s.conns, ST_CONNS);
  store<u64>(p, s.inpkts, ST_INPKTS);
  store<u64>(p, s.outpkts, ST_OUTPKTS);
  store<u64>(p, s.inbytes, ST_INBYTES);
  store<u64>(p, s.outbytes, ST_OUTBYTES);
}
