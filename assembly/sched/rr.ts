// Round-robin (ip_vs_rr.c): walk the real servers in order from the last
// pick, skipping overloaded and weight-0 (quiescent) ones.

import { Scheduler, usable } from "./scheduler";
import { Service, Dest } from "../svc/service";
import { SchedInput } from "./input";

export class RoundRobin extends Scheduler {
  /** Index in svc.dests of the last pick; -1 before the first. */
  last: i32 = -1;

  update(svc: Service): void {
    if (this.last >= svc.dests.length) this.last = -1;
  }

  schedule(svc: Service, inp: SchedInput): Dest | null {
    const ds = svc.dests;
    const n = ds.length;
    if (n == 0) return null;
    let i = this.last;
    for (let k = 0; k < n; k++) {
      i = i + 1 >= n ? 0 : i + 1;
      const d = unchecked(ds[i]);
      if (usable(d)) { this.last = i; return d; }
    }
    return null;
  }
}
