// Weighted least-connection (ip_vs_wlc.c): the server with the smallest
// overhead/weight, overhead = (activeconns << 8) + inactconns. No floats:
// h1/w1 > h2/w2 is tested as h1*w2 > h2*w1 (64-bit products), valid because
// the starting server has weight > 0; later weight-0 servers can never win
// (h*0 > h2*w1 is false). Overloaded servers are skipped. Ties keep the
// earlier server (strict >).
//
// wlcIndex is shared with lblc/lblcr, whose fallback is this same choice.

import { Scheduler, usable, connOverhead } from "./scheduler";
import { Service, Dest } from "../svc/service";
import { SchedInput } from "./input";

/** Index in ds of the weighted least-connection server, -1 when none is usable. */
export function wlcIndex(ds: Array<Dest>): i32 {
  const n = ds.length;
  let i = 0;
  while (i < n && !usable(unchecked(ds[i]))) i++;
  if (i == n) return -1;
  let least = i;
  let loh = <i64>connOverhead(unchecked(ds[i]));
  let lw = <i64>unchecked(ds[i]).weight;
  for (i++; i < n; i++) {
    const d = unchecked(ds[i]);
    if (d.overloaded) continue;
    const doh = <i64>connOverhead(d);
    if (loh * <i64>d.weight > doh * lw) { least = i; loh = doh; lw = <i64>d.weight; }
  }
  return least;
}

export class WeightedLeastConnection extends Scheduler {
  schedule(svc: Service, inp: SchedInput): Dest | null {
    const i = wlcIndex(svc.dests);
    return i < 0 ? null : unchecked(svc.dests[i]);
  }
}
