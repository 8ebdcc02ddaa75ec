// What the console's commands share: the configuration model (and through
// it the data plane), the data-plane clock and the rate estimates.

import type { ServiceKey } from "../dataplane/dataplane.js";
import type { ConfigModel } from "../config/model.js";

/** Rates per second of a service or one of its real servers (src/metrics/estimator.ts provides them). */
export interface RateSource {
  rates(service: ServiceKey, dest?: { addr: string; port?: number }): { cps: number; inpps: number; outpps: number; inbps: number; outbps: number };
  /** Starts estimating in the background, if it is not running yet. */
  start?(): void;
  stop?(): void;
}

export interface ConsoleEnv {
  model: ConfigModel;
  /** The clock (ms) that batches run with: connection expiry is measured on it. */
  now(): number;
  rates: RateSource;
}
