// Weighted round-robin (ip_vs_wrr.c). Passes over the real servers with a
// falling weight threshold cw: the first pass takes every server whose
// weight >= mw, the next >= mw - di, ... down to 1, where di is the gcd of
// the positive weights and mw = max weight - (di - 1) (IPVS lowers mw by
// di - 1 so the last pass has cw = 1). A server of weight w is therefore
// picked w/di times per cycle of mw/di passes, interleaved with the others.
// Overloaded servers are skipped; weight 0 never reaches cw >= 1.
//
// Position `cl` is an index into svc.dests, or -1 for IPVS's list head.

import { Scheduler } from "./scheduler";
import { Service, Dest } from "../svc/service";
import { SchedInput } from "./input";

function gcd(a: i32, b: i32): i32 {
  while (b != 0) { const t = a % b; a = b; b = t; }
  return a;
}

export class WeightedRoundRobin extends Scheduler {
  cl: i32 = -1;
  /** Current weight threshold, max weight (reduced by di - 1), and step (gcd). */
  cw: i32 = 0;
  mw: i32 = 0;
  di: i32 = 1;

  /** ip_vs_wrr_dest_changed: recompute di/mw and pull cw back into range. */
  update(svc: Service): void {
    const ds = svc.dests;
    let g: i32 = 0, max: i32 = 0;
    for (let i = 0; i < ds.length; i++) {
      const w = ds[i].weight;
      if (w > 0) g = g > 0 ? gcd(w, g) : w;
      if (w > max) max = w;
    }
    this.di = g > 0 ? g : 1;
    this.mw = max - (this.di - 1);
    this.cl = -1;
    if (this.cw > this.mw || this.cw == 0) this.cw = this.mw;
    else if (this.di > 1) this.cw = (this.cw / this.di) * this.di + 1;
  }

  schedule(svc: Service, inp: SchedInput): Dest | null {
    const ds = svc.dests;
    const n = ds.length;
    if (this.mw <= 0 || n == 0) return null;
    const last = this.cl;
    let i = last;
    let stop = -2;            // no stop position yet (-1 is the head)
    let lastPass = false, restarted = false;
    while (true) {
      for (i = i + 1; i < n; i++) {
        const d = unchecked(ds[i]);
        if (!d.overloaded && d.weight >= this.cw) { this.cl = i; return d; }
        if (i == stop) { this.cl = i; return null; }
      }
      i = -1; // back at the head: next pass with a lower threshold
      this.cw -= this.di;
      if (this.cw <= 0) {
        this.cw = this.mw;
        // Stop once every server was checked against weight >= 1 from the start.
        if (lastPass || last == -1) { this.cl = -1; return null; }
        restarted = true;
      }
      lastPass = this.cw <= this.di;
      // The first w >= 1 pass only covered servers after `last`; finish at `last`.
      if (lastPass && restarted && last != -1) stop = last;
    }
    return null;
  }
}
