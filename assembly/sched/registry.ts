// Scheduler registry: names in the order of their ids, the one list of them.
// The supervisor reads the names from here: a loaded instance through the
// schedulerName export, and checks that run with no data plane loaded through
// src/dataplane/schedulers.ts, which build:wasm generates from that export.

import { Scheduler } from "./scheduler";
import { RoundRobin } from "./rr";
import { WeightedRoundRobin } from "./wrr";
import { LeastConnection } from "./lc";
import { WeightedLeastConnection } from "./wlc";
import { LocalityLeastConnection } from "./lblc";
import { LocalityLeastConnectionRepl } from "./lblcr";
import { DestinationHashing } from "./dh";
import { SourceHashing } from "./sh";
import { ShortestExpectedDelay } from "./sed";
import { NeverQueue } from "./nq";
import { FailOver } from "./fo";
import { Overflow } from "./ovf";
import { MaglevHashing } from "./mh";
import { TwoChoices } from "./twos";

export const SCHED_NAMES: StaticArray<string> = [
  "rr", "wrr", "lc", "wlc", "lblc", "lblcr", "dh", "sh", "sed", "nq", "fo", "ovf", "mh", "twos",
];

export function createScheduler(id: i32): Scheduler | null {
  switch (id) {
    case 0: return new RoundRobin();
    case 1: return new WeightedRoundRobin();
    case 2: return new LeastConnection();
    case 3: return new WeightedLeastConnection();
    case 4: return new LocalityLeastConnection();
    case 5: return new LocalityLeastConnectionRepl();
    case 6: return new DestinationHashing();
    case 7: return new SourceHashing();
    case 8: return new ShortestExpectedDelay();
    case 9: return new NeverQueue();
    case 10: return new FailOver();
    case 11: return new Overflow();
    case 12: return new MaglevHashing();
    case 13: return new TwoChoices();
    default: return null;
  }
}

export function schedulerCount(): i32 { return SCHED_NAMES.length; }
export function schedulerName(id: i32): string { return id >= 0 && id < SCHED_NAMES.length ? SCHED_NAMES[id] : ""; }
