// Per-address throttling of failed WebSocket logins. maxFailures failures
// within windowMs lock the address out for lockoutMs; each further lockout
// of the same address (before it has been quiet for a whole window after
// its lock ends) doubles that, up to maxLockoutMs. A success clears the
// address. While locked, every attempt is refused, a right token included.
// The table holds at most maxEntries addresses (oldest dropped first), so a
// flood of addresses cannot grow it without bound.

export interface ThrottleOptions {
  /** Failures within windowMs that trigger a lockout (default 5). */
  maxFailures?: number;
  /** Window for counting failures, ms (default 60 000). */
  windowMs?: number;
  /** First lockout, ms (default 60 000); doubles on each repeat. */
  lockoutMs?: number;
  /** Longest lockout, ms (default 15 minutes). */
  maxLockoutMs?: number;
  /** Addresses tracked at most (default 10 000). */
  maxEntries?: number;
  /** Clock, for tests (default Date.now). */
  now?: () => number;
}

interface Entry {
  failures: number[]; // times of recent failures, oldest first
  lockedUntil: number;
  lockouts: number; // consecutive lockouts, for the doubling
}

export class FailureThrottle {
  private readonly maxFailures: number;
  private readonly windowMs: number;
  private readonly lockoutMs: number;
  private readonly maxLockoutMs: number;
  private readonly maxEntries: number;
  private readonly now: () => number;
  private readonly entries = new Map<string, Entry>();

  constructor(o: ThrottleOptions = {}) {
    this.maxFailures = o.maxFailures ?? 5;
    this.windowMs = o.windowMs ?? 60_000;
    this.lockoutMs = o.lockoutMs ?? 60_000;
    this.maxLockoutMs = o.maxLockoutMs ?? 15 * 60_000;
    this.maxEntries = o.maxEntries ?? 10_000;
    this.now = o.now ?? Date.now;
  }

  /** Milliseconds the address must still wait; 0 when it may try. */
  blockedFor(addr: string): number {
    const e = this.entries.get(addr);
    if (!e) return 0;
    return Math.max(0, e.lockedUntil - this.now());
  }

  /** Records a failed attempt; returns the lockout now in force (ms, 0 if none). */
  fail(addr: string): number {
    const t = this.now();
    let e = this.entries.get(addr);
    if (!e) {
      e = { failures: [], lockedUntil: 0, lockouts: 0 };
      if (this.entries.size >= this.maxEntries) this.evict(t);
    } else {
      this.entries.delete(addr); // re-insert: Map order is the eviction order
      if (e.lockouts > 0 && e.lockedUntil + this.windowMs < t) e.lockouts = 0;
    }
    this.entries.set(addr, e);
    e.failures = e.failures.filter((f) => f > t - this.windowMs);
    e.failures.push(t);
    if (e.failures.length >= this.maxFailures) {
      const ms = Math.min(this.maxLockoutMs, this.lockoutMs * 2 ** e.lockouts);
      e.lockouts++;
      e.lockedUntil = t + ms;
      e.failures = [];
      return ms;
    }
    return Math.max(0, e.lockedUntil - t);
  }

  succeed(addr: string): void {
    this.entries.delete(addr);
  }

  private evict(t: number): void {
    for (const [k, e] of this.entries) {
      if (e.lockedUntil < t && e.failures.every((f) => f <= t - this.windowMs)) this.entries.delete(k);
    }
    while (this.entries.size >= this.maxEntries) {
      const oldest = this.entries.keys().next().value as string;
      this.entries.delete(oldest);
    }
  }
}
