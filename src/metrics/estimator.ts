// Rate estimation for services and real servers, the way IPVS does it for
// `ipvsadm -L --rate` (net/netfilter/ipvs/ip_vs_est.c).
//
// Every 2 seconds each estimator reads its counters and folds the rate of
// the last interval into an exponentially weighted average with W = 2^-2:
//
//     avgrate = avgrate * (1 - W) + rate * W  =  avg + (rate - avg) / 4
//
// IPVS has no floats, so the averages are kept in fixed point, as here:
//   - conns/s and packets/s are scaled by 2^10. The delta over 2 s is shifted
//     left by 9 (×1024 for the scale, ÷2 for the interval).
//   - bytes/s are scaled by 2^5: the delta is shifted left by 4 (×32, ÷2).
//   - the update is `avg += (s64)(rate - avg) >> 2`: an arithmetic shift, so
//     a falling rate rounds the step towards minus infinity. BigInt's `>>`
//     floors the same way.
//   - reading decodes with round-half-down: (avg + 0x1FF) >> 10 for the
//     2^10-scaled values and (avg + 0xF) >> 5 for bytes (ip_vs_read_estimator).
// A steady 1000 packets per 2 s thus settles at avg = 512000 - 3 (the >> 2
// step reaches 0 within 4 of the target) and reads 500 pps.
//
// Like IPVS, an estimation that runs late still counts its delta as 2 s
// (the kernel's timer assumes its period); when the clock has fallen a whole
// period behind, the schedule restarts from now rather than catching up.
// An estimator starts (or restarts, when its counters went backwards, as after
// a zeroing or a re-created service) from the counters it first sees, with
// zero averages: ip_vs_zero_estimator.

import type { Counters, ServiceKey } from "../dataplane/dataplane.js";
import { logger, type Logger } from "../log.js";
import { sliced, unsliced, Yielder } from "../util/yield.js";
import { serviceText, destText, type Target, type TargetDest } from "./labels.js";

export type { Target, TargetDest } from "./labels.js";

/** Decoded rates, per second, as ipvsadm --rate shows them. */
export interface Rates {
  cps: number;
  inpps: number;
  outpps: number;
  inbps: number;
  outbps: number;
}

/** Where the counters come from: a DataPlaneApi satisfies this. */
export interface CounterSource {
  serviceStats(key: ServiceKey): Counters;
  destStats(key: ServiceKey, dest: TargetDest): Counters;
}

export interface EstimatorOptions {
  source: CounterSource;
  /** The services and real servers to estimate, read at every estimation. */
  targets: () => Target[];
  /** Monotonic milliseconds for start()'s timer (default performance.now). */
  now?: () => number;
  log?: Logger;
}

/** IPVS's estimation period. */
export const ESTIMATION_INTERVAL_MS = 2000;

const ZERO_RATES: Readonly<Rates> = Object.freeze({ cps: 0, inpps: 0, outpps: 0, inbps: 0, outbps: 0 });

/** One estimator's state: struct ip_vs_estimator. Averages are scaled (see above). */
interface Est {
  lastConns: bigint;
  lastInpkts: bigint;
  lastOutpkts: bigint;
  lastInbytes: bigint;
  lastOutbytes: bigint;
  cps: bigint;
  inpps: bigint;
  outpps: bigint;
  inbps: bigint;
  outbps: bigint;
}

function freshEst(c: Counters): Est {
  return {
    lastConns: c.conns, lastInpkts: c.inpkts, lastOutpkts: c.outpkts, lastInbytes: c.inbytes, lastOutbytes: c.outbytes,
    cps: 0n, inpps: 0n, outpps: 0n, inbps: 0n, outbps: 0n,
  };
}

/**
 * avg += (s64)(rate - avg) >> 2, with rate = delta << shift, in u64 as the
 * kernel keeps it (the casts matter only for values past 2^63).
 */
function ewma(avg: bigint, delta: bigint, shift: bigint): bigint {
  const rate = BigInt.asUintN(64, delta << shift);
  const step = (BigInt.asIntN(64, rate) - BigInt.asIntN(64, avg)) >> 2n;
  return BigInt.asUintN(64, avg + step);
}

function update(e: Est, c: Counters): void {
  e.cps = ewma(e.cps, c.conns - e.lastConns, 9n);
  e.inpps = ewma(e.inpps, c.inpkts - e.lastInpkts, 9n);
  e.outpps = ewma(e.outpps, c.outpkts - e.lastOutpkts, 9n);
  e.inbps = ewma(e.inbps, c.inbytes - e.lastInbytes, 4n);
  e.outbps = ewma(e.outbps, c.outbytes - e.lastOutbytes, 4n);
  e.lastConns = c.conns;
  e.lastInpkts = c.inpkts;
  e.lastOutpkts = c.outpkts;
  e.lastInbytes = c.inbytes;
  e.lastOutbytes = c.outbytes;
}

function wentBack(e: Est, c: Counters): boolean {
  return c.conns < e.lastConns || c.inpkts < e.lastInpkts || c.outpkts < e.lastOutpkts ||
    c.inbytes < e.lastInbytes || c.outbytes < e.lastOutbytes;
}

function decode(e: Est): Rates {
  const pps = (v: bigint) => Number((v + 0x1ffn) >> 10n);
  const bps = (v: bigint) => Number((v + 0xfn) >> 5n);
  return { cps: pps(e.cps), inpps: pps(e.inpps), outpps: pps(e.outpps), inbps: bps(e.inbps), outbps: bps(e.outbps) };
}

function stateKey(service: string, dest?: string): string {
  return dest === undefined ? service : `${service} ${dest}`;
}

export class Estimator {
  private readonly source: CounterSource;
  private readonly targets: () => Target[];
  private readonly now: () => number;
  private readonly log: Logger;
  private readonly ests = new Map<string, Est>();
  /** When the next estimation is due (ms); undefined before the first tick. */
  private due: number | undefined;
  private timer: NodeJS.Timeout | undefined;

  constructor(opts: EstimatorOptions) {
    this.source = opts.source;
    this.targets = opts.targets;
    this.now = opts.now ?? (() => performance.now());
    this.log = opts.log ?? logger("metrics");
  }

  /**
   * Advances the estimator's clock to nowMs. The first call starts every
   * estimator from the current counters; after that an estimation runs when
   * 2 s have passed since the last one was due. Returns whether one ran.
   */
  tick(nowMs: number): boolean {
    if (this.due !== undefined && nowMs < this.due) return false;
    const first = this.due === undefined;
    this.estimate();
    this.schedule(nowMs);
    return !first;
  }

  /** The next estimation's time after one that ran at nowMs: 2 s on, or from now when a period fell behind. */
  private schedule(nowMs: number): void {
    if (this.due === undefined) this.due = nowMs + ESTIMATION_INTERVAL_MS;
    else {
      this.due += ESTIMATION_INTERVAL_MS;
      if (this.due <= nowMs) this.due = nowMs + ESTIMATION_INTERVAL_MS;
    }
  }

  /**
   * The decoded rates of a service, or of one of its real servers. A target
   * not (yet) estimated reads as zeros, as a fresh IPVS estimator does.
   */
  rates(service: ServiceKey, dest?: Pick<TargetDest, "addr" | "port">): Rates {
    const e = this.ests.get(stateKey(serviceText(service), dest && destText(dest)));
    return e ? decode(e) : { ...ZERO_RATES };
  }

  /** Runs tick() on a timer of the injected clock until stop(). The timer does not hold the process open. */
  start(): void {
    if (this.timer) return;
    const arm = () => {
      const delay = this.due === undefined ? 0 : Math.max(0, this.due - this.now());
      this.timer = setTimeout(async () => {
        try {
          await this.tickSliced(this.now());
        } catch (e) {
          this.log.error({ err: e }, "rate estimation failed");
        }
        if (this.timer) arm();
      }, delay);
      this.timer.unref();
    };
    arm();
  }

  /**
   * tick() for the timer: with 100 k real servers a pass reads 100 k
   * counters (~1 s here), so it goes in slices with event-loop turns between
   * them and packet I/O is not held up. IPVS spreads its estimators over
   * time for the same reason (ip_vs_est kthreads).
   */
  private async tickSliced(nowMs: number): Promise<void> {
    if (this.due !== undefined && nowMs < this.due) return;
    const seen = new Set<string>();
    await sliced(this.pass(seen), new Yielder());
    this.forgetUnseen(seen);
    // A late pass is judged against the time it ended (it may have taken a while).
    this.schedule(this.due === undefined ? nowMs : this.now());
  }

  stop(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
  }

  /** One pass over every target (estimation_timer / ip_vs_chain_estimation). */
  private estimate(): void {
    const seen = new Set<string>();
    unsliced(this.pass(seen));
    this.forgetUnseen(seen);
  }

  /** Estimates every target, yielding after each service. */
  private *pass(seen: Set<string>): Generator<void> {
    for (const t of this.targets()) {
      const svc = serviceText(t.service);
      this.visit(stateKey(svc), seen, () => this.source.serviceStats(t.service));
      for (const d of t.dests) {
        this.visit(stateKey(svc, destText(d)), seen, () => this.source.destStats(t.service, d));
      }
      yield;
    }
  }

  /** Targets gone from the configuration: ip_vs_stop_estimator. */
  private forgetUnseen(seen: Set<string>): void {
    for (const k of this.ests.keys()) if (!seen.has(k)) this.ests.delete(k);
  }

  private visit(key: string, seen: Set<string>, read: () => Counters): void {
    if (seen.has(key)) return; // listed twice: one estimation per period still
    let c: Counters;
    try {
      c = read();
    } catch (e) {
      // Removed between targets() and the read: forget it, as IPVS does.
      this.log.debug({ err: e, target: key }, "no counters for rate estimation");
      return;
    }
    seen.add(key);
    const e = this.ests.get(key);
    if (!e || wentBack(e, c)) this.ests.set(key, freshEst(c));
    else update(e, c);
  }
}
