// What the supervisor (pool.ts) and its data-plane workers (worker.ts) say to each other.

import type { LoadOptions, ConnEntry, ConnSyncStats } from "../dataplane.js";
import type { IoOptions } from "../io.js";
import type { Family } from "../addr.js";
import type { DpOp, TxOp } from "./ops.js";
import type { Snapshot } from "./remote.js";

/** Inputs of the steering filter that are the same for every worker (../steer/rule.ts). */
export interface SteerState { workers: number; natReals: string[]; byAddressOnly: boolean; }

/** A link the supervisor attached: workers add their rings to it. tap: the supervisor's TAP handle. */
export interface SharedLink { dev: string; id: number; tap: number; mtu: number; }

export type IoTuning = Partial<Omit<IoOptions, "now" | "log" | "onGone" | "rxFilter" | "ringsOnly">>;

/** workerData. */
export interface WorkerInit {
  index: number;
  load: LoadOptions;
  io: IoTuning;
  /** The supervisor's clock (ms since it started) when this worker was made: connection timeouts run on the same clock. */
  clockMs: number;
  /** Every change so far, replayed before the worker takes frames, and the number of the last. */
  ops: DpOp[];
  seq: number;
  links: SharedLink[];
  steer: SteerState;
}

export type ToWorker =
  | { t: "op"; seq: number; op: DpOp }
  // A large transaction streams in parts: a worker stages each part as it comes (no long pause to read one huge message).
  | { t: "txBegin"; seq: number }
  | { t: "txOps"; seq: number; ops: TxOp[] }
  | { t: "txEnd"; seq: number }
  | ({ t: "attach"; req: number } & SharedLink)
  | { t: "detach"; req: number; dev: string }
  | { t: "steer"; steer: SteerState }
  | { t: "conns"; req: number; af?: Family }
  // Connection sync (replicated.ts): the worker's logged changes, its table as records, or records to install (templates first).
  | { t: "syncTake"; req: number }
  | { t: "syncExport"; req: number; now: number }
  | { t: "syncInstall"; req: number; now: number; templates: Uint8Array; conns: Uint8Array }
  | { t: "stop"; req: number }
  | { t: "crash" };

export type FromWorker =
  | { t: "ready" }
  | { t: "applied"; seq: number }
  /** A part of a streaming transaction was staged: the next may come. */
  | { t: "part" }
  | { t: "done"; req: number; error?: string; value?: ConnEntry[]; sync?: SyncReply }
  | { t: "stats"; snap: Snapshot }
  | { t: "gone"; dev: string; error: string };

/** A worker's answer to a sync request, with its counters since it started. */
export interface SyncReply {
  records?: Uint8Array;
  lost?: number;
  /** syncInstall: templates and connections installed. */
  templates?: number;
  conns?: number;
  stats: ConnSyncStats;
}
