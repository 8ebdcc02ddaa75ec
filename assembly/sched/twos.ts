// Power of two choices (ip_vs_twos.c; Mitzenmacher, "The Power of Two Random
// Choices"). Two servers are drawn at random with probability proportional
// to weight: r1, r2 uniform in [0, total weight] (IPVS adds 1 to the total
// so both ends are included), and walking the usable servers in list order
// each r is decreased by the server's weight until it reaches <= 0. The
// second choice wins only if its overhead/weight is strictly lower,
// compared as w2*h1 > w1*h2 with overhead = (activeconns << 8) + inactconns.
// Servers with weight 0 or overloaded are never drawn.
//
// IPVS uses prandom_u32(); here a xorshift32 generator per service, seeded
// from the service id at its first update(), keeps runs reproducible.

import { Scheduler, usable, connOverhead } from "./scheduler";
import { Service, Dest } from "../svc/service";
import { SchedInput } from "./input";
import { mix32 } from "../util/bytes";

export class TwoChoices extends Scheduler {
  rng: u32 = 0;

  update(svc: Service): void {
    if (this.rng == 0) {
      this.rng = mix32(svc.id * 0x9E3779B9 + 0x2545F491);
      if (this.rng == 0) this.rng = 0x6D2B79F5;
    }
  }

  @inline private next(): u32 {
    let x = this.rng;
    x ^= x << 13; x ^= x >>> 17; x ^= x << 5;
    this.rng = x;
    return x;
  }

  schedule(svc: Service, inp: SchedInput): Dest | null {
    const ds = svc.dests;
    const n = ds.length;
    let total: u32 = 0;
    for (let i = 0; i < n; i++) {
      const d = unchecked(ds[i]);
      if (usable(d)) total += <u32>d.weight;
    }
    if (total == 0) return null;
    total += 1; // random weights inclusive of 0 and the sum
    let r1 = <i64>(this.next() % total);
    let r2 = <i64>(this.next() % total);
    let c1: Dest | null = null, c2: Dest | null = null;
    for (let i = 0; i < n; i++) {
      const d = unchecked(ds[i]);
      if (!usable(d)) continue;
      r1 -= d.weight; r2 -= d.weight;
      if (r1 <= 0 && c1 === null) c1 = d;
      if (r2 <= 0 && c2 === null) c2 = d;
      if (c1 !== null && c2 !== null) break;
    }
    const a = c1!, b = c2!;
    if (<i64>b.weight * <i64>connOverhead(a) > <i64>a.weight * <i64>connOverhead(b)) return b;
    return a;
  }
}
