// The monitor: runs every configured check on its own timer and turns
// results into up/down transitions, keepalived's way:
//   - a real server starts up (or down, with `alpha`);
//   - up → down after `fall` consecutive failures;
//   - down → up after `rise` consecutive successes.
// Runs of one check never overlap: the next run is timed from the start of
// the previous one (every `intervalMs`), but only once it has finished. The
// first run of each check waits a random part of one interval so checks
// added together do not fire together. Script checks run under the
// monitor's ScriptPolicy (policy.ts), which the console words set.

import { logger, type Logger } from "../log.js";
import { runCheck } from "./run.js";
import { HealthError } from "../errors.js";
import { ScriptPolicy } from "./policy.js";
import type { CheckResult, CheckSpec, CheckStatus, Transition } from "./types.js";

export type TransitionListener = (t: Transition) => void;
export type CheckRunner = (spec: CheckSpec, signal: AbortSignal) => Promise<CheckResult>;

export interface MonitorOptions {
  /** Called for every transition (more listeners: onTransition()). */
  onTransition?: TransitionListener;
  /** Runs one check; default: the real checkers (run.ts) under `scripts`. Tests may replace it. */
  run?: CheckRunner;
  /** The rules script checks run under; default: keepalived's defaults (policy.ts). */
  scripts?: ScriptPolicy;
  /** In [0, 1): where in the first interval a check's first run falls. Default Math.random. */
  random?: () => number;
  log?: Logger;
}

interface Entry {
  spec: CheckSpec;
  status: CheckStatus;
  /** Consecutive failures while up, consecutive successes while down. */
  streak: number;
  timer: NodeJS.Timeout | null;
  abort: AbortController | null;
  inflight: Promise<void> | null;
  removed: boolean;
}

const pairKey = (service: string, dest: string) => `${service} ${dest}`;
const consecutive = (n: number, one: string, many: string) => `${n} consecutive ${n === 1 ? one : many}`;

export class HealthMonitor {
  private readonly entries = new Map<string, Entry>();
  private readonly listeners = new Set<TransitionListener>();
  private readonly runner: CheckRunner;
  private readonly random: () => number;
  private readonly log: Logger;
  private started = false;
  readonly scripts: ScriptPolicy;

  constructor(opts: MonitorOptions = {}) {
    if (opts.onTransition) this.listeners.add(opts.onTransition);
    this.random = opts.random ?? Math.random;
    this.log = opts.log ?? logger("health");
    this.scripts = opts.scripts ?? new ScriptPolicy({ log: this.log });
    this.runner = opts.run ?? ((spec, signal) => runCheck(spec, signal, this.scripts));
  }

  /** Adds a listener; returns a function that removes it. */
  onTransition(listener: TransitionListener): () => void {
    this.listeners.add(listener);
    return () => { this.listeners.delete(listener); };
  }

  get running(): boolean { return this.started; }

  /**
   * Adds a check (it runs at once if the monitor is started). An `alpha`
   * check reports its initial down state as a transition.
   */
  add(spec: CheckSpec): void {
    const k = pairKey(spec.service, spec.dest);
    if (this.entries.has(k)) {
      throw new HealthError("WEIR_ERR_HEALTH_EXISTS", `a health check for ${spec.dest} in ${spec.service} already exists`);
    }
    const e: Entry = {
      spec: structuredClone(spec),
      status: {
        service: spec.service, dest: spec.dest, type: spec.check.type, up: !spec.alpha,
        checks: 0, failures: 0, transitions: 0, lastOk: null, lastError: null, lastDurationMs: null,
      },
      streak: 0, timer: null, abort: null, inflight: null, removed: false,
    };
    this.entries.set(k, e);
    if (spec.alpha) this.emit(e, false, "alpha: starts down until it passes its checks");
    if (this.started) this.schedule(e, this.firstDelay(e));
  }

  /** Stops and forgets a check; reports nothing. Returns the state it had (undefined if none). */
  remove(service: string, dest: string): { up: boolean; spec: CheckSpec } | undefined {
    const k = pairKey(service, dest);
    const e = this.entries.get(k);
    if (!e) return undefined;
    this.entries.delete(k);
    e.removed = true;
    this.cancel(e);
    return { up: e.status.up, spec: e.spec };
  }

  has(service: string, dest: string): boolean { return this.entries.has(pairKey(service, dest)); }

  spec(service: string, dest: string): CheckSpec | undefined {
    const e = this.entries.get(pairKey(service, dest));
    return e && structuredClone(e.spec);
  }

  /** Every check's spec, in the order they were added. */
  specs(): CheckSpec[] { return [...this.entries.values()].map((e) => structuredClone(e.spec)); }

  /** State and counters of every check (optionally of one service), in the order they were added. */
  status(service?: string): CheckStatus[] {
    const out: CheckStatus[] = [];
    for (const e of this.entries.values()) if (service === undefined || e.spec.service === service) out.push({ ...e.status });
    return out;
  }

  /** Starts the timers (each check's first run is jittered within one interval). */
  start(): void {
    if (this.started) return;
    this.started = true;
    for (const e of this.entries.values()) this.schedule(e, this.firstDelay(e));
  }

  /** Cancels every timer and in-flight run; resolves once every run has closed its socket or process. */
  async stop(): Promise<void> {
    this.started = false;
    const waits: Promise<void>[] = [];
    for (const e of this.entries.values()) {
      if (e.inflight) waits.push(e.inflight);
      this.cancel(e);
    }
    await Promise.all(waits);
  }

  private firstDelay(e: Entry): number {
    return Math.floor(this.random() * e.spec.intervalMs);
  }

  private cancel(e: Entry): void {
    if (e.timer) { clearTimeout(e.timer); e.timer = null; }
    e.abort?.abort();
  }

  private schedule(e: Entry, delayMs: number): void {
    e.timer = setTimeout(() => this.fire(e), Math.max(0, delayMs));
  }

  private fire(e: Entry): void {
    e.timer = null;
    if (!this.started || e.removed || e.inflight) return;
    const startedAt = performance.now();
    const abort = new AbortController();
    e.abort = abort;
    let result: Promise<CheckResult>;
    try { result = this.runner(e.spec, abort.signal); } catch (err) { result = Promise.resolve({ ok: false, error: String(err) }); }
    e.inflight = result
      .catch((err): CheckResult => ({ ok: false, error: String(err) }))
      .then((r) => {
        e.inflight = null;
        e.abort = null;
        if (!this.started || e.removed || abort.signal.aborted) return;
        const took = performance.now() - startedAt;
        this.record(e, r, took);
        if (this.started && !e.removed) this.schedule(e, e.spec.intervalMs - took);
      });
  }

  private record(e: Entry, r: CheckResult, tookMs: number): void {
    const s = e.status;
    s.checks++;
    s.lastOk = r.ok;
    s.lastDurationMs = Math.round(tookMs);
    if (!r.ok) {
      s.failures++;
      s.lastError = r.error ?? "failed";
    }
    if (s.up) {
      if (r.ok) { e.streak = 0; return; }
      if (++e.streak < e.spec.fall) return;
      e.streak = 0;
      this.emit(e, false, `${consecutive(e.spec.fall, "failure", "failures")}: ${s.lastError}`);
    } else {
      if (!r.ok) { e.streak = 0; return; }
      if (++e.streak < e.spec.rise) return;
      e.streak = 0;
      this.emit(e, true, consecutive(e.spec.rise, "success", "successes"));
    }
  }

  private emit(e: Entry, up: boolean, reason: string): void {
    e.status.up = up;
    e.status.transitions++;
    const t: Transition = { service: e.spec.service, dest: e.spec.dest, up, reason };
    if (up) this.log.info(t, "real server up");
    else this.log.warn(t, "real server down");
    for (const l of this.listeners) {
      try { l(t); } catch (err) { this.log.error({ err, service: t.service, dest: t.dest }, "transition listener failed"); }
    }
  }
}
