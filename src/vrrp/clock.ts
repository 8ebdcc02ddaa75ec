// Time for the VRRP state machine: the Scheduler it is given (microseconds,
// monotonic; one-shot timers with a cancel), a virtual clock that tests and
// simulations advance by hand, and the system one for `weir run`. The
// machine never reads a real clock or sets a real timer itself, so every
// RFC timing (Master_Down_Interval, Skew_Time, preempt_delay) is testable to
// the microsecond.

export interface Scheduler {
  /** Monotonic time in microseconds. */
  now(): number;
  /** Calls fn once at time `at` (µs on this clock; a past time means as soon as possible); returns its cancel. */
  at(at: number, fn: () => void): () => void;
}

interface Timer {
  at: number;
  seq: number;
  fn: () => void;
  live: boolean;
}

/** A clock that moves only when told: timers run in time order (ties in the order they were set). */
export class VirtualClock implements Scheduler {
  private t: number;
  private seq = 0;
  private queue: Timer[] = [];

  constructor(start = 0) {
    this.t = start;
  }

  now(): number {
    return this.t;
  }

  at(at: number, fn: () => void): () => void {
    const timer: Timer = { at: Math.max(at, this.t), seq: this.seq++, fn, live: true };
    // Binary search for the first timer that runs after this one.
    let lo = 0;
    let hi = this.queue.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      const q = this.queue[mid];
      if (q.at < timer.at || (q.at === timer.at && q.seq < timer.seq)) lo = mid + 1;
      else hi = mid;
    }
    this.queue.splice(lo, 0, timer);
    return () => {
      timer.live = false;
    };
  }

  /** Runs every timer due up to `until` (inclusive), each at its own time, then sets now to `until`. */
  runUntil(until: number): void {
    for (;;) {
      while (this.queue.length > 0 && !this.queue[0].live) this.queue.shift();
      const next = this.queue[0];
      if (!next || next.at > until) break;
      this.queue.shift();
      this.t = next.at;
      next.fn();
    }
    this.t = Math.max(this.t, until);
  }

  /** runUntil(now + us). */
  advance(us: number): void {
    this.runUntil(this.t + us);
  }

  /** Timers still to run. */
  pending(): number {
    return this.queue.filter((q) => q.live).length;
  }
}

/**
 * The process's monotonic clock and setTimeout (millisecond resolution, below
 * v3's 10 ms floor). A timer never fires before its time: Node may run a
 * timeout a fraction of a millisecond early, and a backup that times out
 * early would take over before Master_Down_Interval; such a call re-arms.
 */
export function systemScheduler(): Scheduler {
  const now = () => Math.floor(performance.now() * 1000);
  return {
    now,
    at(at, fn) {
      let live = true;
      let h: ReturnType<typeof setTimeout>;
      const arm = () => {
        if (!live) return;
        const wait = at - now();
        if (wait <= 0) {
          live = false;
          fn();
        } else h = setTimeout(arm, Math.ceil(wait / 1000));
      };
      h = setTimeout(arm, Math.max(0, Math.ceil((at - now()) / 1000)));
      return () => {
        live = false;
        clearTimeout(h);
      };
    },
  };
}
