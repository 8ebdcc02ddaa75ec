// Weighted fail-over (ip_vs_fo.c): every new connection goes to the
// non-overloaded server with the highest weight; the first such server in
// list order wins ties. Weight 0 never qualifies (must exceed 0).

import { Scheduler } from "./scheduler";
import { Service, Dest } from "../svc/service";
import { SchedInput } from "./input";

export class FailOver extends Scheduler {
  schedule(svc: Service, inp: SchedInput): Dest | null {
    const ds = svc.dests;
    let best: Dest | null = null;
    let hw: i32 = 0;
    for (let i = 0, n = ds.length; i < n; i++) {
      const d = unchecked(ds[i]);
      if (!d.overloaded && d.weight > hw) { best = d; hw = d.weight; }
    }
    return best;
  }
}
