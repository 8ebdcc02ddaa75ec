// Prometheus text exposition (format 0.0.4) of the data plane's counters.
//
// A small writer instead of prom-client: we expose a snapshot read on each
// scrape, so there is nothing to register or keep between scrapes, and no
// process-wide registry to share. The writer follows the format's rules:
//   - one `# HELP` and one `# TYPE` line per family, then all its samples
//     together (a family may not be split);
//   - names match [a-zA-Z_:][a-zA-Z0-9_:]*, label names [a-zA-Z_][a-zA-Z0-9_]*
//     and do not start with "__" (reserved);
//   - label values escape \ " and newline; HELP text escapes \ and newline;
//   - counters end in _total (promtool's lint insists), gauges do not;
//   - no two samples of a family share a label set.
// See https://prometheus.io/docs/instrumenting/exposition_formats/.

import type { DataPlaneApi, ServiceKey } from "../dataplane/dataplane.js";
import { WeirError } from "../errors.js";
import { logger, type Logger } from "../log.js";
import type { Rates } from "./estimator.js";
import { serviceText, destText, type Target, type TargetDest } from "./labels.js";
import { sliced, unsliced, type Pause } from "../util/yield.js";

export type MetricType = "counter" | "gauge";
export type LabelSet = Record<string, string>;

const METRIC_NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*$/;

const NEEDS_ESCAPE = /[\\"\n]/;

export function escapeLabelValue(v: string): string {
  if (!NEEDS_ESCAPE.test(v)) return v;
  return v.replace(/\\/g, "\\\\").replace(/"/g, '\\"').replace(/\n/g, "\\n");
}

export function escapeHelp(v: string): string {
  return v.replace(/\\/g, "\\\\").replace(/\n/g, "\\n");
}

/** A sample value as the format writes it (Go's ParseFloat reads all of these). */
export function formatValue(v: number | bigint): string {
  if (typeof v === "bigint") return v.toString();
  if (Number.isNaN(v)) return "NaN";
  if (v === Infinity) return "+Inf";
  if (v === -Infinity) return "-Inf";
  return String(v);
}

interface Family {
  type: MetricType;
  help: string;
  lines: string[];
  seen: Set<string>;
}

/** Collects families and samples, then writes them in the order declared. */
export class Exposition {
  private readonly families = new Map<string, Family>();
  /**
   * checkDuplicates: refuse a series added twice. renderMetrics turns it off:
   * it adds each target once by construction, and a set of 1.6 M series ids
   * (100 k real servers) costs more than the rest of a scrape.
   */
  constructor(private readonly checkDuplicates = true) {}

  /** Label-name lists already checked ("a,b,"), and whether they come sorted. */
  private readonly checkedNames = new Map<string, boolean>();

  /** Declares a family; its HELP/TYPE lines are written even when it has no samples. */
  declare(name: string, type: MetricType, help: string): this {
    if (!METRIC_NAME.test(name)) throw new WeirError("WEIR_ERR_METRIC_NAME", `bad metric name: ${name}`);
    if ((type === "counter") !== name.endsWith("_total")) {
      throw new WeirError("WEIR_ERR_METRIC_NAME", `${name}: counters, and only counters, end in _total`);
    }
    if (this.families.has(name)) throw new WeirError("WEIR_ERR_METRIC_DUPLICATE", `metric declared twice: ${name}`);
    this.families.set(name, { type, help, lines: [], seen: new Set() });
    return this;
  }

  add(name: string, labels: LabelSet, value: number | bigint): void {
    const f = this.families.get(name);
    if (!f) throw new WeirError("WEIR_ERR_METRIC_UNDECLARED", `metric not declared: ${name}`);
    // A scrape of 100 k real servers adds ~1.6 M series: label names are
    // checked once per set of names, and the label text is the series' identity.
    let body = "";
    let names = "";
    for (const l in labels) {
      names += `${l},`;
      body += `${body ? "," : ""}${l}="${escapeLabelValue(labels[l])}"`;
    }
    let sorted = this.checkedNames.get(names);
    if (sorted === undefined) {
      const keys = Object.keys(labels);
      for (const l of keys) {
        if (!LABEL_NAME.test(l) || l.startsWith("__")) throw new WeirError("WEIR_ERR_LABEL_NAME", `bad label name on ${name}: ${l}`);
      }
      sorted = keys.every((k, i) => i === 0 || keys[i - 1] < k);
      this.checkedNames.set(names, sorted);
    }
    if (this.checkDuplicates) {
      // The same labels in another order are the same series.
      const id = sorted ? body : Object.keys(labels).sort().map((l) => `${l}="${escapeLabelValue(labels[l])}"`).join(",");
      if (f.seen.has(id)) throw new WeirError("WEIR_ERR_METRIC_DUPLICATE", `duplicate series: ${name}{${body}}`);
      f.seen.add(id);
    }
    f.lines.push(`${name}${body ? `{${body}}` : ""} ${formatValue(value)}`);
  }

  text(): string {
    const out: string[] = [];
    for (const [name, f] of this.families) {
      out.push(`# HELP ${name} ${escapeHelp(f.help)}`, `# TYPE ${name} ${f.type}`);
      // One by one: spreading 100 k lines into push() overflows the call stack.
      for (const l of f.lines) out.push(l);
    }
    return out.join("\n") + "\n";
  }
}

/** What a scrape reads. A DataPlaneApi satisfies `dp`; an Estimator satisfies `rates`. */
export interface MetricsSource {
  dp: Pick<DataPlaneApi, "serviceStats" | "destStats" | "drops" | "batchStats" | "connCount"> & Partial<Pick<DataPlaneApi, "neighQueueStats">>;
  /** The configured services and their real servers. */
  targets: () => Target[];
  /** Rate estimates; without it the rate families have no samples. */
  rates?: { rates(service: ServiceKey, dest?: TargetDest): Rates };
  /** A real server's health-check state: true up, false down, undefined not checked (no sample). */
  health?: (service: ServiceKey, dest: TargetDest) => boolean | undefined;
  /** Attached links' packet I/O counters (src/dataplane/io.ts); without it the link families have no samples. */
  links?: () => LinkIoCounters[];
  /** Data-plane worker threads (`weir run --workers N`); without it the worker families are not declared. */
  workers?: () => WorkerCounters[];
  /** VRRP (src/vrrp/runtime.ts metrics()); without it the VRRP families are not declared. */
  vrrp?: () => VrrpCounters;
  /** Families of other modules (connection sync: src/sync/metrics.ts), each declaring and adding its own, after these. */
  more?: ((x: Exposition) => void)[];
  log?: Logger;
}

/** What the VRRP families read (VrrpRuntime.metrics() satisfies it). */
export interface VrrpCounters {
  instances: {
    name: string; interface: string; state: string; priority: number;
    advertsSent: number; advertsReceived: number; priorityZeroSent: number; priorityZeroReceived: number;
    becameMaster: number; transitions: number;
  }[];
  links: { dev: string; rxFrames: number; txFrames: number; txFailures: number; rejected: Partial<Record<string, number>> }[];
}

/** The states a VRRP instance can be in: weir_vrrp_state has one series per state, 1 for the current one (node_exporter's style). */
export const VRRP_STATES = ["INIT", "BACKUP", "MASTER", "FAULT"] as const;

/** What the worker families read of one worker (WorkerPool.status() satisfies it). */
export interface WorkerCounters { index: number; up: boolean; restarts: number; framesIn: bigint; }

/** What the link families read of one attached link (PacketIo.stats() satisfies it). */
export interface LinkIoCounters {
  dev: string;
  ringDrops: number;
  ringFreezes: number;
  tapDrops: number;
  counters: Record<string, bigint>;
}

/** Metric families, in the order they are written. */
const FAMILIES: [string, MetricType, string][] = [
  ["weir_service_connections_total", "counter", "Connections scheduled by the virtual service (ipvsadm --stats Conns)."],
  ["weir_service_packets_total", "counter", "Packets of the virtual service; direction in is client to real server, out is real server to client."],
  ["weir_service_bytes_total", "counter", "Bytes of the virtual service, by direction."],
  ["weir_service_rate_connections_per_second", "gauge", "Connections per second of the virtual service, IPVS's 2-second estimator (ipvsadm --rate CPS)."],
  ["weir_service_rate_packets_per_second", "gauge", "Packets per second of the virtual service by direction, IPVS's 2-second estimator."],
  ["weir_service_rate_bytes_per_second", "gauge", "Bytes per second of the virtual service by direction, IPVS's 2-second estimator."],
  ["weir_real_server_connections_total", "counter", "Connections scheduled to the real server."],
  ["weir_real_server_packets_total", "counter", "Packets of the real server, by direction."],
  ["weir_real_server_bytes_total", "counter", "Bytes of the real server, by direction."],
  ["weir_real_server_rate_connections_per_second", "gauge", "Connections per second to the real server, IPVS's 2-second estimator."],
  ["weir_real_server_rate_packets_per_second", "gauge", "Packets per second of the real server by direction, IPVS's 2-second estimator."],
  ["weir_real_server_rate_bytes_per_second", "gauge", "Bytes per second of the real server by direction, IPVS's 2-second estimator."],
  ["weir_real_server_active_connections", "gauge", "Active (established) connections to the real server (ipvsadm ActiveConn)."],
  ["weir_real_server_inactive_connections", "gauge", "Inactive connections to the real server (ipvsadm InActConn)."],
  ["weir_real_server_persistent_connections", "gauge", "Persistence templates pointing at the real server."],
  ["weir_real_server_health_up", "gauge", "1 when the real server's health check passes, 0 when it fails; absent when it has no check."],
  ["weir_drops_total", "counter", "Frames dropped by the data plane, by reason."],
  ["weir_batches_total", "counter", "Batches of frames processed by the data plane."],
  ["weir_frames_total", "counter", "Frames processed by the data plane, by verdict: tx (forwarded), local (for the appliance), held (waiting for the next hop's MAC: sent or dropped later, see weir_drops_total{reason=\"neigh_unresolved\"}), drop."],
  ["weir_neighbour_queue_frames_total", "counter", "Frames held for their next hop's MAC, by event: queued, sent (after the answer), dropped_timeout, dropped_overflow, dropped_too_big, dropped_flushed, dropped_unsent."],
  ["weir_neighbour_queue_held", "gauge", "Frames waiting for their next hop's MAC now."],
  ["weir_connections", "gauge", "Entries in the data plane's connection tables, by address family."],
];

/** Families of attached links, declared when the source has packet I/O (MetricsSource.links). */
const LINK_FAMILIES: [string, MetricType, string][] = [
  ["weir_link_frames_total", "counter", "Frames of an attached link by event: rx, tx, local (to the host stack), host (from it), gso_segments (made here), and drops: rx_truncated, tx_ring_full, tx_too_big, tx_no_port, local_queue_full, tap_full."],
  ["weir_link_bytes_total", "counter", "Bytes of an attached link, by direction (rx from the link, tx to it)."],
  ["weir_link_ring_drops_total", "counter", "Frames the kernel dropped for want of room in the link's RX ring (PACKET_STATISTICS tp_drops)."],
  ["weir_link_ring_freezes_total", "counter", "Times the link's RX ring was full and froze (PACKET_STATISTICS tp_freeze_q_cnt, TPACKET_V3)."],
];

/** Families of VRRP, declared when the source has it (MetricsSource.vrrp). */
const VRRP_FAMILIES: [string, MetricType, string][] = [
  ["weir_vrrp_state", "gauge", "1 for the VRRP instance's current state (INIT, BACKUP, MASTER, FAULT), 0 for the others."],
  ["weir_vrrp_priority", "gauge", "The VRRP instance's configured priority."],
  ["weir_vrrp_adverts_sent_total", "counter", "VRRP adverts the instance sent (priority 0 included)."],
  ["weir_vrrp_adverts_received_total", "counter", "VRRP adverts the instance took (passed every check)."],
  ["weir_vrrp_priority_zero_total", "counter", "Priority-0 adverts (a master stopping), by direction: sent or received."],
  ["weir_vrrp_transitions_total", "counter", "State changes of the VRRP instance."],
  ["weir_vrrp_became_master_total", "counter", "Times the VRRP instance became MASTER."],
  ["weir_vrrp_adverts_rejected_total", "counter", "VRRP packets refused on a link, by reason (bad_ttl, bad_checksum, unknown_vrid, truncated, ...)."],
  ["weir_vrrp_link_frames_total", "counter", "VRRP packet I/O frames of a link, by event: rx, tx, tx_failed."],
];

/** Families of data-plane workers, declared when the source has workers (MetricsSource.workers). */
const WORKER_FAMILIES: [string, MetricType, string][] = [
  ["weir_worker_up", "gauge", "1 while the data-plane worker thread runs, 0 while it is being restarted."],
  ["weir_worker_restarts_total", "counter", "Times the data-plane worker thread died and was started again."],
  ["weir_worker_frames_total", "counter", "Frames the data-plane worker took in since it last started (its share of the links' frames)."],
];

const LINK_EVENTS: [string, string][] = [
  ["rx", "rx_frames"], ["tx", "tx_frames"], ["local", "local_frames"], ["host", "host_frames"], ["gso_segments", "gso_segments"],
  ["rx_truncated", "rx_truncated"], ["tx_ring_full", "tx_ring_full"], ["tx_too_big", "tx_too_big"], ["tx_no_port", "tx_no_port"],
  ["local_queue_full", "local_queue_full"],
];

/** Reads every counter once and writes the exposition text. */
export function renderMetrics(src: MetricsSource): string {
  const x = new Exposition(false);
  unsliced(collect(src, x));
  return x.text();
}

/**
 * renderMetrics for the scrape endpoint: with 100 k real servers a scrape
 * reads 100 k counters and writes ~1.6 M lines (seconds of work), so it goes
 * in slices with event-loop turns between them and forwarding goes on.
 */
export async function renderMetricsSliced(src: MetricsSource, pause: Pause): Promise<string> {
  const x = new Exposition(false);
  await sliced(collect(src, x), pause);
  return x.text();
}

/** Adds every family and sample to x, yielding after each service. */
function* collect(src: MetricsSource, x: Exposition): Generator<void> {
  const log = src.log ?? logger("metrics");
  for (const [name, type, help] of FAMILIES) x.declare(name, type, help);
  if (src.links) for (const [name, type, help] of LINK_FAMILIES) x.declare(name, type, help);
  if (src.workers) for (const [name, type, help] of WORKER_FAMILIES) x.declare(name, type, help);
  if (src.vrrp) for (const [name, type, help] of VRRP_FAMILIES) x.declare(name, type, help);

  const services = new Set<string>();
  for (const t of src.targets()) {
    const service = serviceText(t.service);
    if (services.has(service)) continue; // listed twice: one series only
    services.add(service);
    const sl = { service };
    const c = read(() => src.dp.serviceStats(t.service), log, { service });
    if (!c) continue;
    x.add("weir_service_connections_total", sl, c.conns);
    directed(x, "weir_service_packets_total", sl, c.inpkts, c.outpkts);
    directed(x, "weir_service_bytes_total", sl, c.inbytes, c.outbytes);
    if (src.rates) rates(x, "weir_service_rate_", sl, src.rates.rates(t.service));

    const dests = new Set<string>();
    for (const d of t.dests) {
      const real_server = destText(d);
      if (dests.has(real_server)) continue;
      dests.add(real_server);
      const dl = { service, real_server, forward: d.fwd };
      const c = read(() => src.dp.destStats(t.service, d), log, dl);
      if (!c) continue;
      x.add("weir_real_server_connections_total", dl, c.conns);
      directed(x, "weir_real_server_packets_total", dl, c.inpkts, c.outpkts);
      directed(x, "weir_real_server_bytes_total", dl, c.inbytes, c.outbytes);
      x.add("weir_real_server_active_connections", dl, c.activeconns);
      x.add("weir_real_server_inactive_connections", dl, c.inactconns);
      x.add("weir_real_server_persistent_connections", dl, c.persistconns);
      if (src.rates) rates(x, "weir_real_server_rate_", dl, src.rates.rates(t.service, d));
      const up = src.health?.(t.service, d);
      if (up !== undefined) x.add("weir_real_server_health_up", dl, up ? 1 : 0);
    }
    yield;
  }

  for (const [reason, n] of Object.entries(src.dp.drops())) x.add("weir_drops_total", { reason }, n);
  const b = src.dp.batchStats();
  x.add("weir_batches_total", {}, b.batches);
  // Every frame gets exactly one verdict: drop is what is neither tx nor local.
  const dropped = b.framesIn - b.framesTx - b.framesLocal - b.framesHeld;
  x.add("weir_frames_total", { verdict: "tx" }, b.framesTx);
  x.add("weir_frames_total", { verdict: "local" }, b.framesLocal);
  x.add("weir_frames_total", { verdict: "held" }, b.framesHeld);
  const q = src.dp.neighQueueStats?.();
  for (const [event, n] of Object.entries(q ?? {})) {
    if (event === "held") x.add("weir_neighbour_queue_held", {}, n);
    else x.add("weir_neighbour_queue_frames_total", { event }, n);
  }
  x.add("weir_frames_total", { verdict: "drop" }, dropped > 0n ? dropped : 0n);
  x.add("weir_connections", { family: "ipv4" }, src.dp.connCount(4));
  x.add("weir_connections", { family: "ipv6" }, src.dp.connCount(6));
  for (const l of src.links?.() ?? []) {
    const link = l.dev;
    for (const [event, key] of LINK_EVENTS) x.add("weir_link_frames_total", { link, event }, l.counters[key] ?? 0n);
    x.add("weir_link_frames_total", { link, event: "tap_full" }, l.tapDrops);
    x.add("weir_link_bytes_total", { link, direction: "rx" }, l.counters.rx_bytes ?? 0n);
    x.add("weir_link_bytes_total", { link, direction: "tx" }, l.counters.tx_bytes ?? 0n);
    x.add("weir_link_ring_drops_total", { link }, l.ringDrops);
    x.add("weir_link_ring_freezes_total", { link }, l.ringFreezes);
  }
  for (const w of src.workers?.() ?? []) {
    const worker = String(w.index);
    x.add("weir_worker_up", { worker }, w.up ? 1 : 0);
    x.add("weir_worker_restarts_total", { worker }, w.restarts);
    x.add("weir_worker_frames_total", { worker }, w.framesIn);
  }
  if (src.vrrp) vrrpSamples(x, src.vrrp());
  for (const add of src.more ?? []) add(x);
}

function vrrpSamples(x: Exposition, v: VrrpCounters): void {
  for (const i of v.instances) {
    const l = { instance: i.name, interface: i.interface };
    for (const state of VRRP_STATES) x.add("weir_vrrp_state", { ...l, state }, i.state === state ? 1 : 0);
    x.add("weir_vrrp_priority", l, i.priority);
    x.add("weir_vrrp_adverts_sent_total", l, i.advertsSent);
    x.add("weir_vrrp_adverts_received_total", l, i.advertsReceived);
    x.add("weir_vrrp_priority_zero_total", { ...l, direction: "sent" }, i.priorityZeroSent);
    x.add("weir_vrrp_priority_zero_total", { ...l, direction: "received" }, i.priorityZeroReceived);
    x.add("weir_vrrp_transitions_total", l, i.transitions);
    x.add("weir_vrrp_became_master_total", l, i.becameMaster);
  }
  for (const k of v.links) {
    const l = { interface: k.dev };
    for (const [reason, n] of Object.entries(k.rejected)) x.add("weir_vrrp_adverts_rejected_total", { ...l, reason }, n ?? 0);
    x.add("weir_vrrp_link_frames_total", { ...l, event: "rx" }, k.rxFrames);
    x.add("weir_vrrp_link_frames_total", { ...l, event: "tx" }, k.txFrames);
    x.add("weir_vrrp_link_frames_total", { ...l, event: "tx_failed" }, k.txFailures);
  }
}

/**
 * Counters of a target the configuration lists but the data plane no longer
 * has (a change between the two reads): the target is left out of this scrape.
 */
function read<T>(fn: () => T, log: Logger, what: LabelSet): T | undefined {
  try {
    return fn();
  } catch (e) {
    if (!(e instanceof WeirError)) throw e;
    log.debug({ err: e, ...what }, "no counters for target");
    return undefined;
  }
}

/** labels plus a direction (Object.assign: cheaper than a spread, and called ~10 times per real server). */
const withDirection = (labels: LabelSet, direction: "in" | "out"): LabelSet => Object.assign({}, labels, { direction });

function directed(x: Exposition, name: string, labels: LabelSet, inV: bigint, outV: bigint): void {
  x.add(name, withDirection(labels, "in"), inV);
  x.add(name, withDirection(labels, "out"), outV);
}

function rates(x: Exposition, prefix: string, labels: LabelSet, r: Rates): void {
  x.add(`${prefix}connections_per_second`, labels, r.cps);
  x.add(`${prefix}packets_per_second`, withDirection(labels, "in"), r.inpps);
  x.add(`${prefix}packets_per_second`, withDirection(labels, "out"), r.outpps);
  x.add(`${prefix}bytes_per_second`, withDirection(labels, "in"), r.inbps);
  x.add(`${prefix}bytes_per_second`, withDirection(labels, "out"), r.outbps);
}
