// Long configuration work (a 100 k-line `ipvsadm -R`) shares the main thread
// with the packet I/O loop. It calls maybe() often; every budgetMs of work
// it gives the event loop one turn (setImmediate), so RX rings keep being
// drained while a big change is staged and applied.

import { setImmediate as turn } from "node:timers/promises";

export class Yielder {
  private since = performance.now();
  /** Turns given so far (for tests and logs). */
  turns = 0;

  constructor(private readonly budgetMs = 4) {}

  /** True when the budget is spent: await next() then. Cheap enough to call per item. */
  due(): boolean {
    return performance.now() - this.since >= this.budgetMs;
  }

  async next(): Promise<void> {
    await turn();
    this.turns++;
    this.since = performance.now();
  }

  async maybe(): Promise<void> {
    if (this.due()) await this.next();
  }
}

/** What sliced work needs of a Yielder (tests pass their own). */
export interface Pause {
  due(): boolean;
  next(): Promise<void>;
}

/** Runs steps (a generator yielding after each unit of work) to the end, with a turn whenever pause is due. */
export async function sliced(steps: Iterable<unknown>, pause: Pause): Promise<void> {
  for (const _ of steps) if (pause.due()) await pause.next();
}

/** Runs steps to the end at once. */
export function unsliced(steps: Iterable<unknown>): void {
  for (const _ of steps) { /* each step did its work */ }
}

