// A data-plane worker thread: its own Wasm instance (a replica of the
// supervisor's), its own RX ring on every attached link with a socket filter
// that takes only its share of the frames (../steer/), its own TX rings, and
// the packet loop of io.ts on this thread's event loop. Frames for the host
// stack go to the supervisor's TAP mirrors. The supervisor's side is pool.ts;
// the messages are in messages.ts.

import { parentPort, workerData } from "node:worker_threads";
import { DataPlane, type Counters, type StagedTransaction } from "../dataplane.js";
import { PacketIo } from "../io.js";
import { NeighbourProber } from "../probe.js";
import { logger } from "../../log.js";
import { Yielder } from "../../util/yield.js";
import { applyOp, applyTxOps, type DpOp } from "./ops.js";
import { MirrorState } from "./state.js";
import { steerProgram } from "../steer/program.js";
import { STRIDE, type Snapshot } from "./remote.js";
import type { ToWorker, FromWorker, WorkerInit, SteerState } from "./messages.js";

const init = workerData as WorkerInit;
const port = parentPort!;
const log = logger("worker").child({ worker: init.index });
const post = (m: FromWorker) => port.postMessage(m);

const started = performance.now() - init.clockMs;
const now = () => Math.floor(performance.now() - started) + 1;

const dp = await DataPlane.load(init.load);
const book = new MirrorState();
let steer: SteerState = init.steer;
const program = () => steerProgram({ ...steer, member: init.index });
const io = new PacketIo(dp, {
  ...init.io, now, log, ringsOnly: true, journalDir: null, rxFilter: program,
  onGone: (dev, error) => post({ t: "gone", dev, error }),
});
await io.start();

// The real servers' MACs: this instance forwards, so it resolves them (the
// answers reach every worker: the steering rule hands ARP replies to all).
const prober = new NeighbourProber({ dp, now, kick: (id) => io.kickLink(id), targets: () => book.reals() });

// Everything that changes state runs in arrival order.
let queue: Promise<unknown> = Promise.resolve();
const inOrder = (fn: () => Promise<unknown> | unknown) => { queue = queue.then(fn, fn); return queue; };

let probing = false;
/** The last change applied (the supervisor numbers them). */
let appliedSeq = init.seq;
async function apply(op: DpOp): Promise<void> {
  try {
    await applyOp(dp, op, new Yielder());
  } catch (e) {
    diverged(e, op.m);
  }
  applied(op);
}

function applied(op: DpOp): void {
  book.apply(op);
  probeSoon(op);
}

/** New real servers, routes or links: resolve next hops now rather than at the next tick. */
function probeSoon(op: DpOp): void {
  if (probing && op.m !== "zeroStats" && op.m !== "setTimeouts" && op.m !== "setConnSync") setImmediate(() => prober.tick());
}

/**
 * This replica refused a change the supervisor's instance accepted: it no
 * longer runs the same configuration. It ends, and the supervisor starts it
 * again from the current configuration.
 */
function diverged(e: unknown, what: string): never {
  log.error({ err: e, op: what }, "replica refused a change the supervisor accepted: restarting to resynchronise");
  process.exit(3);
}

// A transaction streaming in parts (pool.ts TX_PART).
let staged: StagedTransaction | undefined;

for (const op of init.ops) await apply(op);
for (const l of init.links) await io.attachRings(l.dev, l.id, l.tap, l.mtu);
prober.start();
probing = true;
post({ t: "ready" });

port.on("message", (m: ToWorker) => {
  switch (m.t) {
    case "op":
      void inOrder(async () => {
        await apply(m.op);
        appliedSeq = m.seq;
        post({ t: "applied", seq: m.seq });
      });
      break;
    case "txBegin":
      void inOrder(() => {
        try { staged = dp.beginTransaction(); } catch (e) { diverged(e, "begin transaction"); }
      });
      break;
    case "txOps":
      void inOrder(async () => {
        try { await applyTxOps(staged!.ops, m.ops, new Yielder()); } catch (e) { diverged(e, "transaction"); }
        book.apply({ m: "tx", ops: m.ops }); // part by part: the supervisor committed the whole
        post({ t: "part" });
      });
      break;
    case "txEnd":
      void inOrder(() => {
        try { staged!.commit(); } catch (e) { diverged(e, "commit"); }
        staged = undefined;
        probeSoon({ m: "tx", ops: [] });
        appliedSeq = m.seq;
        post({ t: "applied", seq: m.seq });
      });
      break;
    case "attach":
      void inOrder(() => io.attachRings(m.dev, m.id, m.tap, m.mtu).then(
        () => post({ t: "done", req: m.req }),
        (e) => post({ t: "done", req: m.req, error: (e as Error).message })));
      break;
    case "detach":
      void inOrder(() => io.detach(m.dev).then(() => post({ t: "done", req: m.req })));
      break;
    case "steer":
      void inOrder(() => {
        steer = m.steer;
        try { io.setRxFilter(program()); } catch (e) { log.error({ err: e }, "steering filter not replaced"); }
      });
      break;
    case "conns":
      void dp.connectionsSliced(now(), m.af, new Yielder()).then((value) => post({ t: "done", req: m.req, value }));
      break;
    case "syncTake": {
      const r = dp.takeConnChangesNow();
      post({ t: "done", req: m.req, sync: { records: r.records, lost: r.lost, stats: dp.connSyncStats() } });
      break;
    }
    case "syncExport":
      void dp.exportConnections(m.now).then(
        (records) => post({ t: "done", req: m.req, sync: { records, stats: dp.connSyncStats() } }),
        (e) => post({ t: "done", req: m.req, error: (e as Error).message }));
      break;
    case "syncInstall":
      // In order with configuration changes: records of a service added just before find it.
      void inOrder(async () => {
        try {
          const t = await dp.installConnections(m.templates, m.now);
          const c = await dp.installConnections(m.conns, m.now);
          post({ t: "done", req: m.req, sync: { templates: t.installed, conns: c.installed, stats: dp.connSyncStats() } });
        } catch (e) {
          post({ t: "done", req: m.req, error: (e as Error).message });
        }
      });
      break;
    case "stop":
      void inOrder(async () => {
        clearInterval(timer);
        prober.stop();
        await io.close();
        post({ t: "done", req: m.req });
        port.close();
      });
      break;
    case "crash":
      // Test hook (pool.crashForTest): an uncaught error, as a bug would throw.
      setImmediate(() => { throw new Error("worker crash requested"); });
      break;
  }
});

// Counters for the supervisor, once a second, read in slices so forwarding
// goes on; the per-entry counters in one typed array (remote.ts), given away
// rather than copied. A snapshot is dropped when the services change while
// it is read (the next one comes a second later).
let snapping = false;
const timer = setInterval(() => {
  if (snapping) return;
  snapping = true;
  void snapshot().then((s) => { if (s) port.postMessage({ t: "stats", snap: s } satisfies FromWorker, [s.values.buffer as ArrayBuffer]); },
    (e) => log.warn({ err: e }, "counters not read")).finally(() => { snapping = false; });
}, 1000);

async function snapshot(): Promise<Snapshot | undefined> {
  if (staged) return undefined;
  const pause = new Yielder(2);
  const layout = book.layoutVersion, seq = appliedSeq;
  let n = 0;
  for (const s of book.services.values()) n += 1 + s.dests.size;
  const values = new BigUint64Array(n * STRIDE);
  let k = 0;
  for (const s of book.services.values()) {
    try { put(values, k, dp.serviceStats(s.key)); } catch { /* changed meanwhile: zeros */ }
    k++;
    for (const d of s.dests.values()) {
      try {
        const c = dp.destStats(s.key, d);
        put(values, k, c);
        values[k * STRIDE + 5] = BigInt(c.activeconns);
        values[k * STRIDE + 6] = BigInt(c.inactconns);
        values[k * STRIDE + 7] = BigInt(c.persistconns);
      } catch { /* changed meanwhile: zeros */ }
      k++;
    }
    if (pause.due()) {
      await pause.next();
      if (book.layoutVersion !== layout || staged) return undefined;
    }
  }
  return {
    seq, values, drops: dp.drops(), neighQueue: dp.neighQueueStats(), batch: dp.batchStats(),
    conns: { 4: dp.connCount(4), 6: dp.connCount(6) },
    neighbours: init.index === 0 ? dp.neighbours() : [],
    links: io.stats(),
  };
}

function put(v: BigUint64Array, k: number, c: Counters): void {
  const o = k * STRIDE;
  v[o] = c.conns; v[o + 1] = c.inpkts; v[o + 2] = c.outpkts; v[o + 3] = c.inbytes; v[o + 4] = c.outbytes;
}
