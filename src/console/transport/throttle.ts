// Throttling of failed WebSocket logins, per source and overall.
//
// A source is an IPv4 address, or an IPv6 /64 (one host is usually given a
// whole /64, so counting single IPv6 addresses would let it try 2^64 times);
// an IPv4-mapped IPv6 address is its IPv4 address (sourceKey).
// maxFailures failures within windowMs lock the source out for lockoutMs;
// each further lockout of the same source (before it has been quiet for a
// whole window after its lock ends) doubles that, up to maxLockoutMs. A
// success clears the source. While locked, every attempt is refused, a right
// token included. The table holds at most maxEntries sources (oldest dropped
// first), so a flood of sources cannot grow it without bound.
//
// Overall: more than globalMaxFailures failures within globalWindowMs (from
// any sources) raise an alarm for globalHoldMs (kept up while failures keep
// coming that fast). During the alarm a single failure locks its source out
// at once, so many sources guessing together get one try each per lockout.
// A source with no failure is not touched by the alarm: a right token still
// gets in.

import ipaddr from "ipaddr.js";

export interface ThrottleOptions {
  /** Failures within windowMs that trigger a lockout (default 5). */
  maxFailures?: number;
  /** Window for counting failures, ms (default 60 000). */
  windowMs?: number;
  /** First lockout, ms (default 60 000); doubles on each repeat. */
  lockoutMs?: number;
  /** Longest lockout, ms (default 15 minutes). */
  maxLockoutMs?: number;
  /** Sources tracked at most (default 10 000). */
  maxEntries?: number;
  /** Failures from all sources within globalWindowMs that raise the alarm (default 20). */
  globalMaxFailures?: number;
  /** Window for the overall count, ms (default 1000). */
  globalWindowMs?: number;
  /** How long the alarm lasts after the last failure that kept the rate up, ms (default 10 000). */
  globalHoldMs?: number;
  /** Clock, for tests (default Date.now). */
  now?: () => number;
}

/** The throttled unit an address belongs to: the IPv4 address, or the IPv6 /64 ("2001:db8:0:1::/64"). */
export function sourceKey(addr: string): string {
  let a: ipaddr.IPv4 | ipaddr.IPv6;
  try {
    a = ipaddr.parse(addr.replace(/%.*$/, ""));
  } catch {
    return addr;
  }
  if (a.kind() === "ipv6" && (a as ipaddr.IPv6).isIPv4MappedAddress()) a = (a as ipaddr.IPv6).toIPv4Address();
  if (a.kind() === "ipv4") return a.toString();
  const p = (a as ipaddr.IPv6).parts;
  return `${new ipaddr.IPv6([p[0], p[1], p[2], p[3], 0, 0, 0, 0]).toString()}/64`;
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
  private readonly globalMaxFailures: number;
  private readonly globalWindowMs: number;
  private readonly globalHoldMs: number;
  /** Times of the latest failures from any source (at most globalMaxFailures + 1), oldest first. */
  private recent: number[] = [];
  private alarmUntil = 0;

  constructor(o: ThrottleOptions = {}) {
    this.maxFailures = o.maxFailures ?? 5;
    this.windowMs = o.windowMs ?? 60_000;
    this.lockoutMs = o.lockoutMs ?? 60_000;
    this.maxLockoutMs = o.maxLockoutMs ?? 15 * 60_000;
    this.maxEntries = o.maxEntries ?? 10_000;
    this.now = o.now ?? Date.now;
    this.globalMaxFailures = o.globalMaxFailures ?? 20;
    this.globalWindowMs = o.globalWindowMs ?? 1000;
    this.globalHoldMs = o.globalHoldMs ?? 10_000;
  }

  /** True while failures from all sources together come too fast. */
  get alarmed(): boolean {
    return this.now() < this.alarmUntil;
  }

  /** Milliseconds the address's source must still wait; 0 when it may try. */
  blockedFor(addr: string): number {
    const e = this.entries.get(sourceKey(addr));
    if (!e) return 0;
    return Math.max(0, e.lockedUntil - this.now());
  }

  /** Records a failed attempt; returns the lockout now in force for its source (ms, 0 if none). */
  fail(addr: string): number {
    const t = this.now();
    const alarm = this.countGlobal(t);
    const key = sourceKey(addr);
    let e = this.entries.get(key);
    if (!e) {
      e = { failures: [], lockedUntil: 0, lockouts: 0 };
      if (this.entries.size >= this.maxEntries) this.evict(t);
    } else {
      this.entries.delete(key); // re-insert: Map order is the eviction order
      if (e.lockouts > 0 && e.lockedUntil + this.windowMs < t) e.lockouts = 0;
    }
    this.entries.set(key, e);
    e.failures = e.failures.filter((f) => f > t - this.windowMs);
    e.failures.push(t);
    if (e.failures.length >= this.maxFailures || alarm) {
      const ms = Math.min(this.maxLockoutMs, this.lockoutMs * 2 ** e.lockouts);
      e.lockouts++;
      e.lockedUntil = t + ms;
      e.failures = [];
      return ms;
    }
    return Math.max(0, e.lockedUntil - t);
  }

  succeed(addr: string): void {
    this.entries.delete(sourceKey(addr));
  }

  /** Counts one failure overall; true when the alarm is (now) up. */
  private countGlobal(t: number): boolean {
    this.recent = this.recent.filter((f) => f > t - this.globalWindowMs);
    this.recent.push(t);
    if (this.recent.length > this.globalMaxFailures) {
      this.alarmUntil = t + this.globalHoldMs;
      this.recent.shift();
    }
    return t < this.alarmUntil;
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
