// Least-connection (ip_vs_lc.c): the server with the smallest overhead
// (activeconns << 8) + inactconns, ignoring weights except that weight 0
// (quiescent) and overloaded servers are skipped. Ties: first in list.

import { Scheduler, usable, connOverhead } from "./scheduler";
import { Service, Dest } from "../svc/service";
import { SchedInput } from "./input";

export class LeastConnection extends Scheduler {
  schedule(svc: Service, inp: SchedInput): Dest | null {
    const ds = svc.dests;
    let least: Dest | null = null;
    let loh: i32 = 0;
    for (let i = 0, n = ds.length; i < n; i++) {
      const d = unchecked(ds[i]);
      if (!usable(d)) continue;
      const doh = connOverhead(d);
      if (least === null || doh < loh) { least = d; loh = doh; }
    }
    return least;
  }
}
