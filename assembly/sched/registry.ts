// Scheduler registry: names in the order of their ids. The supervisor reads
// the names from here (schedulerName) so the two sides cannot disagree.

import { Scheduler } from "./scheduler";
import { RoundRobin } from "./rr";

export const SCHED_NAMES: StaticArray<string> = [
  "rr", "wrr", "lc", "wlc", "lblc", "lblcr", "dh", "sh", "sed", "nq", "fo", "ovf", "mh", "twos",
];

export function createScheduler(id: i32): Scheduler | null {
  switch (id) {
    case 0: return new RoundRobin();
    default: return null;
  }
}

export function schedulerCount(): i32 { return SCHED_NAMES.length; }
export function schedulerName(id: i32): string { return id >= 0 && id < SCHED_NAMES.length ? SCHED_NAMES[id] : ""; }
