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

/** Writes the five counters (u64 each) at p; the supervisor reads them from there. */
export function writeStats(s: Stats, p: usize): void {
  store<u64>(p, s.conns);
  store<u64>(p, s.inpkts, 8);
  store<u64>(p, s.outpkts, 16);
  store<u64>(p, s.inbytes, 24);
  store<u64>(p, s.outbytes, 32);
}
