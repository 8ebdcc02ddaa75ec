// The supervisor's side of the data-plane workers (`weir run --workers N`).
//
// The supervisor keeps its own instance as the control instance: the console
// validates and commits there, exactly as with one worker. Every change that
// succeeded is mirrored (wrap(): replicated.ts) to N worker threads, each
// running a replica (worker.ts) that forwards its share of the frames,
// steered by a socket filter on client address and port (../steer/) so that
// both directions of a NAT connection reach the worker that holds it. A worker
// that dies is started again: it replays every change, re-attaches its rings
// and takes the same share again (the filters, not fanout membership, decide
// the shares), so other workers' connections are not disturbed.

import { Worker } from "node:worker_threads";
import path from "node:path";
import { fileURLToPath } from "node:url";
import type { DataPlane, LoadOptions, ConnEntry, ConnSyncStats } from "../dataplane.js";
import { ReplicatedDataPlane, type SyncPeers } from "./replicated.js";
import { splitRecords } from "./syncroute.js";
import { ENTRY_SIZE } from "../../sync/entry.js";
import type { Family } from "../addr.js";
import type { Logger } from "../../log.js";
import type { DpOp } from "./ops.js";
import { MirrorState, opWeight } from "./state.js";
import { RemoteStats, type Layout } from "./remote.js";
import type { FromWorker, IoTuning, SharedLink, SteerState, ToWorker, WorkerInit } from "./messages.js";

/** Operations per message when a transaction streams to the workers (a few ms to read and stage each). */
const TX_PART = 2048;
/** Parts posted to a worker and not yet staged by it. */
const TX_WINDOW = 2;

/** The replay history is compacted once it holds more single operations than this (and 4× what the state needs). */
const MIN_COMPACT = 10_000;

export interface PoolOptions {
  workers: number;
  load: LoadOptions;
  io: IoTuning;
  now: () => number;
  log: Logger;
  /** A worker found a link gone (it detached its rings). */
  onGone?: (dev: string, error: string) => void;
}

interface Slot {
  index: number;
  worker?: Worker;
  ready: boolean;
  applied: number;
  restarts: number;
  /** Crash times (ms), for backing off a worker that cannot stay up. */
  crashes: number[];
  /**
   * Messages not yet posted, in order: parts of a streaming transaction go
   * at most TX_WINDOW at a time (a worker reads every queued message in one
   * go, so 50 parts posted at once would stall it as one huge message
   * would); what follows them waits its turn.
   */
  outbox: ToWorker[];
  partsInFlight: number;
}

export interface WorkerStatus { index: number; up: boolean; restarts: number; applied: number; framesIn: bigint; threadId?: number; }

/** Where the compiled worker is: beside this file, or under dist/ when this runs from src/ (tests). */
function workerScript(): string {
  const here = fileURLToPath(import.meta.url);
  if (here.endsWith(".js")) return path.join(path.dirname(here), "worker.js");
  const root = path.resolve(path.dirname(here), "..", "..", "..");
  return path.join(root, "dist", path.relative(path.join(root, "src"), path.dirname(here)), "worker.js");
}

export class WorkerPool {
  readonly remote: RemoteStats;
  private readonly slots: Slot[] = [];
  /** What a new worker replays: the history of changes, compacted when it outgrows the state it builds. */
  private ops: DpOp[] = [];
  private opsWeight = 0;
  private compactAt = MIN_COMPACT;
  private readonly state = new MirrorState();
  private steerVersion = 0;
  /** The change that last added or removed a service or real server, and the snapshot layout it made (built when first read). */
  private layoutSeq = 0;
  private layoutCache?: Layout;
  private readonly links = new Map<string, SharedLink>();
  private readonly pending = new Map<number, { slot: Slot; resolve: (v: FromWorker & { t: "done" }) => void }>();
  private readonly waiters: { seq: number; resolve: () => void }[] = [];
  private steer: SteerState;
  private seq = 0;
  private req = 0;
  private stopping = false;

  constructor(private readonly o: PoolOptions) {
    this.steer = { workers: o.workers, natReals: [], byAddressOnly: false };
    this.remote = new RemoteStats((af) => this.connections(af), () => this.layout());
    for (let i = 0; i < o.workers; i++) this.slots.push({ index: i, ready: false, applied: 0, restarts: 0, crashes: [], outbox: [], partsInFlight: 0 });
  }

  /** The data plane the supervisor uses: dp (the control instance), its changes mirrored to the workers, their figures added to its own. */
  wrap(dp: DataPlane): ReplicatedDataPlane {
    return new ReplicatedDataPlane(dp, (op) => this.push(op), this.remote, this.syncPeers);
  }

  // ---- connection sync: the workers' logs, tables and installs (replicated.ts) ----

  /** Each worker's sync counters as of its last sync reply (kept when it dies: totals never go back). */
  private readonly syncSeen = new Map<number, ConnSyncStats>();
  private readonly syncRetired: ConnSyncStats = { logged: 0, lost: 0, installed: 0, refused: 0 };

  private noteSync(r: FromWorker & { t: "done" }, slot: number): void {
    if (r.sync) this.syncSeen.set(slot, r.sync.stats);
  }

  readonly syncPeers: SyncPeers = {
    take: async () => {
      const replies = await this.askEach((req) => ({ t: "syncTake", req }));
      for (const [slot, r] of replies) this.noteSync(r, slot);
      const ok = [...replies.values()].filter((r) => r.sync);
      return { parts: ok.map((r) => r.sync!.records!), lost: ok.reduce((n, r) => n + (r.sync!.lost ?? 0), 0) };
    },
    exportAll: async (now) => {
      const replies = await this.askEach((req) => ({ t: "syncExport", req, now }));
      for (const [slot, r] of replies) this.noteSync(r, slot);
      return [...replies.values()].flatMap((r) => (r.sync?.records ? [r.sync.records] : []));
    },
    install: async (records, now) => {
      // The steering as the workers' filters have it now: a record goes where its client's next packet will.
      const shares = splitRecords(records, this.steer);
      const replies = await this.askEach((req, slot) => ({ t: "syncInstall", req, now, ...shares[slot.index] }));
      let conns = 0, templates = 0;
      for (const [slot, r] of replies) {
        this.noteSync(r, slot);
        conns += r.sync?.conns ?? 0;
        // A template goes to every worker: it counts once, as installed where it was installed.
        templates = Math.max(templates, r.sync?.templates ?? 0);
      }
      // A worker that is down installs nothing: its records count as refused (the next resync brings them).
      const total = records.length / ENTRY_SIZE;
      return { installed: conns + templates, refused: total - conns - templates };
    },
    stats: () => {
      const out = { ...this.syncRetired };
      for (const s of this.syncSeen.values()) {
        out.logged += s.logged; out.lost += s.lost; out.installed += s.installed; out.refused += s.refused;
      }
      return out;
    },
  };

  /** ask(), each answer by its worker's index. */
  private async askEach(make: (req: number, slot: Slot) => ToWorker): Promise<Map<number, FromWorker & { t: "done" }>> {
    const live = this.slots.filter((s) => s.worker);
    const answers = await Promise.all(live.map((slot) => new Promise<FromWorker & { t: "done" }>((resolve) => {
      const req = ++this.req;
      this.pending.set(req, { slot, resolve });
      this.post(slot, make(req, slot));
    })));
    return new Map(live.map((s, i) => [s.index, answers[i]]));
  }

  /** Starts every worker and waits until each has replayed the configuration. */
  async start(): Promise<void> {
    await Promise.all(this.slots.map((s) => this.spawn(s)));
  }

  status(): WorkerStatus[] {
    return this.slots.map((s) => ({ index: s.index, up: s.ready, restarts: s.restarts, applied: s.applied, framesIn: this.remote.framesIn(s.index), threadId: s.worker?.threadId }));
  }

  private spawn(slot: Slot): Promise<void> {
    const init: WorkerInit = {
      index: slot.index, load: this.o.load, io: this.o.io, clockMs: this.o.now(),
      ops: this.ops, seq: this.seq, links: [...this.links.values()], steer: this.steer,
    };
    const seqAtSpawn = this.seq;
    const w = new Worker(workerScript(), { workerData: init, name: `weir-dp-${slot.index}` });
    slot.worker = w;
    slot.ready = false;
    // Everything queued for the previous thread is in init.ops already.
    slot.outbox = [];
    slot.partsInFlight = 0;
    const log = this.o.log.child({ worker: slot.index });
    return new Promise<void>((resolve, reject) => {
      w.on("message", (m: FromWorker) => {
        switch (m.t) {
          case "ready":
            slot.ready = true;
            slot.applied = Math.max(slot.applied, seqAtSpawn);
            this.settle();
            log.info({ threadId: w.threadId }, "data-plane worker ready");
            resolve();
            break;
          case "applied": slot.applied = m.seq; this.settle(); break;
          case "part": slot.partsInFlight--; this.pump(slot); break;
          case "stats": this.remote.set(slot.index, m.snap); break;
          case "gone": this.o.onGone?.(m.dev, m.error); break;
          case "done": {
            const p = this.pending.get(m.req);
            if (p) { this.pending.delete(m.req); p.resolve(m); }
            break;
          }
        }
      });
      w.on("error", (e) => log.error({ err: e }, "data-plane worker failed"));
      w.on("exit", (code) => {
        const wasReady = slot.ready;
        slot.ready = false;
        slot.worker = undefined;
        for (const [id, p] of this.pending) if (p.slot === slot) { this.pending.delete(id); p.resolve({ t: "done", req: id, error: "worker exited" }); }
        this.settle();
        if (this.stopping) return;
        if (!wasReady) reject(new Error(`data-plane worker ${slot.index} exited (code ${code}) before it was ready`));
        this.restart(slot, code);
      });
    });
  }

  /** A worker died: its counters stay in the totals, and it comes back (backing off if it keeps dying). */
  private restart(slot: Slot, code: number): void {
    this.remote.retire(slot.index);
    const seen = this.syncSeen.get(slot.index);
    if (seen) {
      this.syncSeen.delete(slot.index);
      const r = this.syncRetired;
      r.logged += seen.logged; r.lost += seen.lost; r.installed += seen.installed; r.refused += seen.refused;
    }
    const t = Date.now();
    slot.crashes = slot.crashes.filter((c) => t - c < 60_000).concat(t);
    const delay = slot.crashes.length > 5 ? 5000 : 100;
    this.o.log.error({ worker: slot.index, code, restartInMs: delay }, "data-plane worker exited: restarting it");
    setTimeout(() => {
      if (this.stopping) return;
      slot.restarts++;
      this.spawn(slot).catch((e) => this.o.log.error({ err: e, worker: slot.index }, "data-plane worker restart failed"));
    }, delay).unref();
  }

  private post(slot: Slot, m: ToWorker): void {
    if (!slot.worker) return;
    slot.outbox.push(m);
    this.pump(slot);
  }

  private pump(slot: Slot): void {
    while (slot.worker && slot.outbox.length) {
      const m = slot.outbox[0];
      if (m.t === "txOps") {
        if (slot.partsInFlight >= TX_WINDOW) return;
        slot.partsInFlight++;
      }
      slot.outbox.shift();
      slot.worker.postMessage(m);
    }
  }

  private push(op: DpOp): void {
    const layoutBefore = this.state.layoutVersion;
    this.state.apply(op);
    this.ops.push(op);
    this.opsWeight += opWeight(op);
    if (this.opsWeight > this.compactAt) {
      this.ops = this.state.snapshotOps();
      this.opsWeight = this.ops.reduce((n, o) => n + opWeight(o), 0);
      this.compactAt = Math.max(MIN_COMPACT, 4 * this.opsWeight);
    }
    const seq = ++this.seq;
    if (this.state.layoutVersion !== layoutBefore) this.layoutSeq = seq;
    if (op.m === "tx" && op.ops.length > TX_PART) {
      const parts: ToWorker[] = [];
      for (let i = 0; i < op.ops.length; i += TX_PART) parts.push({ t: "txOps", seq, ops: op.ops.slice(i, i + TX_PART) });
      for (const s of this.slots) {
        this.post(s, { t: "txBegin", seq });
        for (const part of parts) this.post(s, part);
        this.post(s, { t: "txEnd", seq });
      }
    } else {
      for (const s of this.slots) this.post(s, { t: "op", seq, op });
    }
    if (this.state.steerVersion === this.steerVersion) return;
    this.steerVersion = this.state.steerVersion;
    const steer: SteerState = { workers: this.o.workers, natReals: this.state.natReals(), byAddressOnly: this.state.byAddressOnly() };
    if (steer.byAddressOnly !== this.steer.byAddressOnly) {
      this.o.log.warn({ byAddressOnly: steer.byAddressOnly }, "steering changed: clients of existing connections may move to another worker");
    }
    this.steer = steer;
    for (const s of this.slots) this.post(s, { t: "steer", steer });
  }

  private layout(): Layout {
    if (this.layoutCache?.seq !== this.layoutSeq) this.layoutCache = { seq: this.layoutSeq, index: this.state.layout() };
    return this.layoutCache;
  }

  /** Single operations in the replay history (for tests). */
  get historyWeight(): number { return this.opsWeight; }

  /**
   * Resolves when every running worker has applied every change made so far,
   * or after timeoutMs (logged: a worker that stopped answering is not allowed
   * to hang the consoles).
   */
  synced(timeoutMs = 10_000): Promise<void> {
    const seq = this.seq;
    if (this.caughtUp(seq)) return Promise.resolve();
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.o.log.warn({ seq, applied: this.slots.map((s) => s.applied) }, "workers did not apply a change within the time allowed");
        resolve();
      }, timeoutMs);
      timer.unref();
      this.waiters.push({ seq, resolve: () => { clearTimeout(timer); resolve(); } });
    });
  }

  /** Workers starting up replay everything before they take frames: they count as caught up. */
  private caughtUp(seq: number): boolean {
    return this.slots.every((s) => !s.worker || !s.ready || s.applied >= seq);
  }

  private settle(): void {
    for (let i = this.waiters.length - 1; i >= 0; i--) {
      const w = this.waiters[i];
      if (this.caughtUp(w.seq)) {
        this.waiters.splice(i, 1);
        w.resolve();
      }
    }
  }

  /** Asks every running worker; answers of workers that die meanwhile carry an error. */
  private ask(make: (req: number) => ToWorker): Promise<(FromWorker & { t: "done" })[]> {
    return Promise.all(this.slots.filter((s) => s.worker).map((slot) => new Promise<FromWorker & { t: "done" }>((resolve) => {
      const req = ++this.req;
      this.pending.set(req, { slot, resolve });
      this.post(slot, make(req));
    })));
  }

  /** The supervisor attached a link: every worker adds its rings. */
  async attach(link: SharedLink): Promise<void> {
    this.links.set(link.dev, link);
    const errors = (await this.ask((req) => ({ t: "attach", req, ...link }))).filter((r) => r.error);
    if (errors.length) {
      await this.detach(link.dev);
      throw new Error(`workers could not attach ${link.dev}: ${errors[0].error}`);
    }
  }

  /** Before the supervisor detaches a link: every worker lets go of its rings. */
  async detach(dev: string): Promise<void> {
    this.links.delete(dev);
    await this.ask((req) => ({ t: "detach", req, dev }));
  }

  async connections(af?: Family): Promise<ConnEntry[]> {
    return (await this.ask((req) => ({ t: "conns", req, af }))).flatMap((r) => r.value ?? []);
  }

  /** TEST HOOK: makes worker i throw an uncaught error, as a bug would. */
  crashForTest(i: number): void {
    this.post(this.slots[i], { t: "crash" });
  }

  /** Stops every worker (their rings closed) within timeoutMs, then terminates what is left. */
  async stop(timeoutMs = 5000): Promise<void> {
    this.stopping = true;
    const asked = this.ask((req) => ({ t: "stop", req }));
    await Promise.race([asked, new Promise((r) => setTimeout(r, timeoutMs).unref())]);
    await Promise.all(this.slots.map((s) => s.worker?.terminate()));
    for (const w of this.waiters.splice(0)) w.resolve();
  }
}
