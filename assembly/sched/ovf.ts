// Overflow (ip_vs_ovf.c): the highest-weight server whose active connections
// do not exceed its weight; when it fills up (activeconns > weight) new
// connections overflow to the next-highest weight. Weight 0 and overloaded
// servers are skipped; the first in list order wins ties. Note IPVS's test
// is activeconns > weight (skip), so a server still takes a connection when
// activeconns == weight.

import { Scheduler } from "./scheduler";
import { Service, Dest } from "../svc/service";
import { SchedInput } from "./input";

export class Overflow extends Scheduler {
  schedule(svc: Service, inp: SchedInput): Dest | null {
    const ds = svc.dests;
    let h: Dest | null = null;
    let hw: i32 = 0;
    for (let i = 0, n = ds.length; i < n; i++) {
      const d = unchecked(ds[i]);
      const w = d.weight;
      if (d.overloaded || d.activeconns > w || w == 0) continue;
      if (h === null || w > hw) { h = d; hw = w; }
    }
    return h;
  }
}
