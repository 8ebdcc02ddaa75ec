// Never queue (ip_vs_nq.c): the first usable server with no active
// connections is taken at once (an idle server beats a fast one); otherwise
// the shortest-expected-delay choice, (activeconns+1)/weight compared as
// h1*w2 > h2*w1. Overloaded and weight-0 servers are skipped; ties keep the
// earlier server.

import { Scheduler, usable } from "./scheduler";
import { Service, Dest } from "../svc/service";
import { SchedInput } from "./input";

export class NeverQueue extends Scheduler {
  schedule(svc: Service, inp: SchedInput): Dest | null {
    const ds = svc.dests;
    let least: Dest | null = null;
    let loh: i64 = 0;
    for (let i = 0, n = ds.length; i < n; i++) {
      const d = unchecked(ds[i]);
      if (!usable(d)) continue;
      if (d.activeconns == 0) return d;
      const doh = <i64>d.activeconns + 1;
      if (least === null || loh * <i64>d.weight > doh * <i64>least!.weight) { least = d; loh = doh; }
    }
    return least;
  }
}
