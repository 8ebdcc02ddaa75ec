// Shortest expected delay (ip_vs_sed.c): like wlc but the overhead is
// activeconns + 1 (the delay the new connection itself would see), and
// inactive connections are ignored. Picks the smallest (activeconns+1)/weight
// compared as h1*w2 > h2*w1; the first usable server starts, ties keep the
// earlier one; overloaded and weight-0 servers are skipped.

import { Scheduler, usable } from "./scheduler";
import { Service, Dest } from "../svc/service";
import { SchedInput } from "./input";

export class ShortestExpectedDelay extends Scheduler {
  schedule(svc: Service, inp: SchedInput): Dest | null {
    const ds = svc.dests;
    const n = ds.length;
    let i = 0;
    while (i < n && !usable(unchecked(ds[i]))) i++;
    if (i == n) return null;
    let least = unchecked(ds[i]);
    let loh = <i64>least.activeconns + 1;
    for (i++; i < n; i++) {
      const d = unchecked(ds[i]);
      if (d.overloaded) continue;
      const doh = <i64>d.activeconns + 1;
      if (loh * <i64>d.weight > doh * <i64>least.weight) { least = d; loh = doh; }
    }
    return least;
  }
}
