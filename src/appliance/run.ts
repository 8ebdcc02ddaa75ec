// `weir run`: the appliance's supervisor. It loads the data plane, replays
// the config file, and serves the consoles (control socket, serial tty,
// WebSocket), health checks and metrics until SIGTERM/SIGINT.

import { existsSync, readFileSync } from "node:fs";
import { DataPlane, type DataPlaneApi } from "../dataplane/dataplane.js";
import { ConfigModel } from "../config/model.js";
import { ConsoleInterpreter } from "../console/interpreter.js";
import { bootConfigNotice, loadBootConfig, showConfigStatus, type BootConfig } from "../console/loader.js";
import { startCtlServer, DEFAULT_CTL_PATH, type CtlServer } from "../console/transport/socket.js";
import { startWsConsole, parseListenAddress, type WsConsole } from "../console/transport/ws.js";
import { startSerialConsole, consoleBanner, type SerialConsole } from "../console/transport/serial.js";
import { HealthMonitor } from "../health/monitor.js";
import { healthCommand } from "../health/command.js";
import { Estimator } from "../metrics/estimator.js";
import { renderMetricsSliced } from "../metrics/prometheus.js";
import { Yielder } from "../util/yield.js";
import { MetricsServer } from "../metrics/server.js";
import { logger } from "../log.js";
import { destId, serviceId } from "../keys.js";
import { statsSnapshot } from "./stats.js";
import { PacketIo, type IoOptions } from "../dataplane/io.js";
import { NeighbourProber } from "../dataplane/probe.js";
import { WorkerPool } from "../dataplane/replica/pool.js";
import { steerProgram } from "../dataplane/steer/program.js";
import { showWorkers, crashWorker, linkStats } from "./workers.js";
import { installLastResort } from "./lastresort.js";
import type { ConfigState } from "../config/state.js";
import { ApplianceImage } from "../image/appliance.js";
import { Watchdog } from "../image/watchdog.js";
import { DEFAULT_TOKEN_FILE } from "../console/transport/token.js";
import { certFingerprint, ensureSelfSignedCert, type TlsFiles } from "../console/transport/selfcert.js";
import { hostAccess } from "../console/hostaccess.js";
import { consolePassword, passwordNotice, sessionPasswordHash } from "../console/consolepassword.js";
import { wsToken } from "../console/wstoken.js";
import { arrivedOn, restrictConnections } from "./mgmtonly.js";
import { factoryReset, imageStatus, imageUpgrade, mgmt, rebootWord } from "../image/words.js";
import { VrrpRuntime } from "../vrrp/runtime.js";
import { vrrpWords } from "../vrrp/words.js";
import { systemScheduler } from "../vrrp/clock.js";
import { hostCarrier } from "../vrrp/carrier.js";
import { openVrrpPort } from "../vrrp/port.js";
import { addStatsLines } from "../console/appliance.js";
import { linkStateLines } from "../console/ip/link.js";
import { lvsSyncDaemonWord } from "../sync/words.js";
import { addSyncMetrics, syncStatsLines } from "../sync/metrics.js";

export interface RunOptions {
  /** Command script replayed at start and written by `save`. */
  config?: string;
  ctl?: string;
  /** HOST:PORT of the WebSocket console. */
  ws?: string;
  wsTokenFile?: string;
  tlsCert?: string;
  tlsKey?: string;
  /** The serial console's password hash (console-password): a login on each session when set. */
  consolePasswordFile?: string;
  /** TLS with the appliance's own certificate, made in this directory at first start (selfcert.ts). */
  tlsSelfSigned?: string;
  /** HOST:PORT of the Prometheus endpoint. */
  metrics?: string;
  /** Serial console on this tty device (else on stdin when it is a TTY). */
  serial?: string;
  workers?: number;
  connCapacity?: number;
  /** Bytes of data-plane memory (default from the table sizes, at least 512 MiB). */
  memoryBytes?: number;
  /** Booted from an appliance image: its layout file (image words, mark-good, rollback notice). */
  image?: string;
  /** Packet I/O tuning (ring version and sizes, batch size); tests and benchmarks. */
  io?: Partial<Omit<IoOptions, "now" | "log" | "onGone">>;
}

const EXPIRY_TICK_MS = 1000;
const MAX_WORKERS = 64;

export async function runAppliance(opts: RunOptions): Promise<number> {
  const log = logger("run");
  // From here on a stray exception is logged, not the appliance's end (lastresort.ts says why).
  installLastResort({ log });
  const workers = opts.workers ?? 1;
  if (!Number.isInteger(workers) || workers < 1 || workers > MAX_WORKERS) {
    process.stderr.write(`weir run: --workers must be 1 to ${MAX_WORKERS} (got ${opts.workers})\n`);
    return 2;
  }
  // TLS is all or nothing: half a configuration must not fall back to plain HTTP.
  const tlsProblem = tlsOptionsProblem(opts);
  if (tlsProblem) {
    process.stderr.write(`weir run: ${tlsProblem}\n`);
    return 2;
  }
  const image = opts.image ? ApplianceImage.load(opts.image, logger("image")) : undefined;
  const notices: string[] = [];
  if (image) {
    const note = await image.afterBoot().catch((e) => `boot state unreadable: ${(e as Error).message}`);
    if (note) notices.push(note);
  }
  // A hung supervisor or data plane reboots the appliance (fed from this event loop).
  let watchdog: Watchdog | undefined;
  if (image) {
    try { watchdog = Watchdog.open(); } catch (e) { logger("image").warn({ err: e }, "watchdog not armed"); }
  }
  const started = performance.now();
  const now = () => Math.floor(performance.now() - started) + 1;
  const load = { connCapacity: opts.connCapacity ?? 1 << 20, connCapacity6: 1 << 16, memoryBytes: opts.memoryBytes };
  // This thread's instance: packet I/O and the expiry tick use it as it is.
  const dp = await DataPlane.load(load);
  const linkGone = (dev: string) => {
    // The link went away under us: it is detached; the configuration says so too.
    model.change((d) => d.linkSet(dev, { up: false })).catch((e) => log.warn({ err: e, link: dev }, "could not mark the link down"));
  };

  // Workers (src/dataplane/replica/): with more than one, this thread's
  // instance is the control instance and N worker threads forward.
  const pool = workers > 1 ? new WorkerPool({ workers, load, io: ioTuning(opts.io) ?? {}, now, log: logger("workers"), onGone: linkGone }) : undefined;
  // The data plane as everything else uses it: with workers, changes reach
  // them too and figures add theirs (replica/replicated.ts).
  const api: DataPlaneApi = pool ? pool.wrap(dp) : dp;
  const model = new ConfigModel(api);

  // Packet I/O: `ip link set DEV up` attaches DEV, `down` detaches it (src/dataplane/io.ts).
  let io: PacketIo | undefined = new PacketIo(dp, {
    ...ioTuning(opts.io), now, log: logger("io"), onGone: linkGone,
    // With workers this thread only sends the host stack's frames; its RX ring takes just the ARP and ND answers.
    rxFilter: pool ? () => steerProgram({ workers, member: -1, natReals: [], byAddressOnly: false }) : undefined,
  });
  try {
    await io.start();
  } catch (e) {
    log.warn({ err: e }, "packet I/O unavailable (native addon): links cannot be attached");
    io = undefined;
  }
  if (pool) {
    if (!io) {
      process.stderr.write("weir run: --workers needs packet I/O (the native addon did not load)\n");
      return 1;
    }
    try {
      await pool.start();
    } catch (e) {
      process.stderr.write(`weir run: data-plane workers did not start: ${(e as Error).message}\n`);
      await pool.stop();
      await io.close().catch((err) => log.warn({ err }, "packet I/O close failed"));
      return 1;
    }
    log.info({ workers }, "data-plane workers started");
  }
  const linkNet = (s: ConfigState, dev: string) => ({
    addrs: s.addrs.filter((a) => a.dev === dev).map((a) => `${a.addr}/${a.len}`),
    routes: s.routes.filter((r) => r.dev === dev).map((r) => ({ dst: `${r.net}/${r.len}`, via: r.via })),
    mtu: s.links.get(dev)?.mtu,
  });
  // VRRP (src/vrrp/runtime.ts): its virtual addresses are in the config model
  // (standby unless MASTER); a link counts as up while attached and with a carrier.
  const vrrp = new VrrpRuntime({
    clock: systemScheduler(),
    open: (dev, o) => openVrrpPort(dev, o, logger("vrrp")),
    setOwned: (dev, addr, owned) => model.setVipOwned(dev, addr, owned),
    link: (dev) => {
      const l = model.state.links.get(dev);
      return l && { mac: l.mac, attached: l.up && !!io };
    },
    carrier: (dev) => hostCarrier(dev),
    neighbourMac: (_dev, addr) => api.neighbours().find((n) => n.addr === addr && n.state !== "incomplete")?.mac,
    log: logger("vrrp"),
  });
  model.setLinkHooks({
    onLinkUp: async (l) => {
      if (!io) throw new Error("packet I/O is unavailable (native addon not loaded)");
      if (image && l.name === image.layout.mgmtDev) throw new Error(`${l.name} is the management NIC: it stays with the kernel (see mgmt)`);
      await io.attach(l.name, l.id, l.mac, l.mtu);
      if (pool) {
        try {
          await pool.attach({ dev: l.name, id: l.id, tap: io.tapHandle(l.name)!, mtu: l.mtu });
        } catch (e) {
          await io.detach(l.name);
          throw e;
        }
      }
      setImmediate(() => vrrp.linkChanged(l.name)); // after the commit: the model says up by then
    },
    onLinkDown: async (l) => {
      await pool?.detach(l.name);
      await io?.detach(l.name);
      vrrp.linkChanged(l.name);
    },
    onNetChange: async (s) => {
      if (!io) return;
      for (const dev of io.attached) await io.syncNet(dev, linkNet(s, dev));
      if (!pool) setImmediate(() => prober.tick()); // a new route or link may make real servers reachable (workers: their own probers)
    },
    onServicesChange: () => { if (!pool) setImmediate(() => prober.tick()); },
  });
  // Real servers' MACs are resolved ahead of their first connection.
  const prober = new NeighbourProber({
    dp: api, now, kick: (id) => io?.kickLink(id),
    targets: () => model.targets().flatMap((t) => t.dests.map((d) => d.addr)),
  });
  const rates = new Estimator({ source: api, targets: () => model.targets(), log: logger("metrics") });
  let tls: TlsFiles | undefined; // the console's certificate, once the WebSocket console is up
  // Booted from an image: the consoles and metrics answer on the management NIC only (mgmtonly.ts).
  const mgmtOnly = image ? arrivedOn(image.layout.mgmtDev) : undefined;
  let ws: WsConsole | undefined;
  const interp = new ConsoleInterpreter({ model, configPath: opts.config, now, rates, settled: pool && (() => pool.synced()) });
  if (pool) interp.register("show workers", showWorkers(pool));
  if (pool && process.env.WEIR_TEST_HOOKS === "1") interp.register("debug crash-worker", crashWorker(pool));
  const monitor = new HealthMonitor({ log: logger("health") });
  const health = healthCommand(monitor, model);
  interp.register("health", health);
  if (opts.consolePasswordFile) interp.register("console-password", consolePassword(opts.consolePasswordFile));
  interp.register("ws-token", wsToken(() => ws?.token));
  interp.register("host-access", hostAccess(async (rules) => { await io?.setHostAccess(rules); }));
  // After the core words (ip, ipvsadm): running-config replays links and addresses first.
  interp.register("vrrp", vrrpWords(vrrp, model));
  addStatsLines(interp.registry, () => vrrp.statsLines());
  addStatsLines(interp.registry, () => linkStateLines(linkStats(io, pool)));
  // Connection sync (src/sync/) follows a VRRP instance: registered after vrrp so its line replays after the instance's.
  const sync = lvsSyncDaemonWord({
    dp: api, now, log: logger("sync"),
    role: (instance) => vrrp.role(instance),
    link: (dev) => {
      const l = model.state.links.get(dev);
      if (!l) return undefined;
      const v4 = model.state.addrs.find((a) => a.dev === dev && !a.addr.includes(":"));
      return { mac: l.mac, addr: v4?.addr ?? null, mtu: l.mtu ?? 1500, attached: l.up && !!io };
    },
  });
  interp.register("lvs_sync_daemon", sync);
  addStatsLines(interp.registry, () => syncStatsLines(sync.stats()));
  if (image) {
    interp.register("image status", imageStatus(image, () => tls?.fingerprint));
    interp.register("image upgrade", imageUpgrade(image));
    interp.register("factory-reset", factoryReset(image));
    interp.register("reboot", rebootWord());
    interp.register("mgmt", mgmt(image.layout.mgmtDev));
  }

  // A config file that does not load must not brick the appliance: its last
  // good copy (or nothing) runs and the consoles come up, saying so
  // (loader.ts). Except on a trial boot: then the new image is what failed.
  let boot: BootConfig | undefined;
  if (opts.config && existsSync(opts.config)) {
    boot = await loadBootConfig(interp.registry, model, opts.config, log);
    if (boot.failed) {
      process.stderr.write(`${boot.failed.text}\n`);
      if (image?.booted.trial) {
        await image.markBad(`config did not load: ${boot.failed.text}`).catch((e) => log.error({ err: e }, "could not mark the image bad"));
        vrrp.stop();
        sync.stop();
        await pool?.stop();
        await io?.close().catch((e) => log.warn({ err: e }, "packet I/O close failed"));
        return 1;
      }
      notices.push(bootConfigNotice(boot)!);
    } else {
      log.info({ config: opts.config, lines: boot.lines }, "configuration loaded");
    }
  }
  interp.register("show config-status", showConfigStatus(opts.config, boot));

  // Without packet I/O, batches of zero frames keep the connection clock and
  // its expiry sweep going (the I/O loop does it otherwise, once a second when idle).
  const tick = dp.createBatch(1, 64);
  const ticker = setInterval(() => { if (!io) tick.run(now()); }, EXPIRY_TICK_MS);
  ticker.unref();

  rates.start();
  if (!pool) prober.start(); // workers resolve their next hops themselves
  monitor.start();
  const closers: (() => Promise<void> | void)[] = [];
  let ctl: CtlServer | undefined;
  let serial: SerialConsole | undefined;
  try {
    ctl = await startCtlServer({ path: opts.ctl ?? DEFAULT_CTL_PATH, interpreter: interp, log: logger("ctl") });
    closers.push(() => ctl!.close());
    log.info({ path: ctl.path }, "control socket ready");
    if (opts.ws) {
      const { host, port } = parseListenAddress(opts.ws);
      tls = await tlsFiles(opts, log);
      ws = await startWsConsole({
        interpreter: interp, host, port, tokenFile: opts.wsTokenFile,
        tls,
        statsSource: () => statsSnapshot(model, rates),
        uploads: image ? uploadOptions(image) : undefined,
        log: logger("ws"),
        onServer: mgmtOnly && ((srv) => restrictConnections(srv, mgmtOnly, log, "WebSocket console")),
      });
      closers.push(() => ws!.close());
      log.info({ url: ws.url }, "WebSocket console ready");
    }
    if (opts.metrics) {
      const { host, port } = parseListenAddress(opts.metrics);
      const server = new MetricsServer(() => {
        const health = healthIndex(model, monitor); // once per scrape: real servers may number 100 k
        return renderMetricsSliced({
          dp: api, targets: () => model.targets(), rates, links: () => linkStats(io, pool), workers: pool && (() => pool.status()),
          vrrp: () => vrrp.metrics(),
          more: [(x) => addSyncMetrics(x, sync.stats())],
          health: (svc, dest) => {
            const s = serviceId(svc);
            return (dest.port === undefined ? undefined : health.get(`${s} ${destId(dest)}`)) ?? health.get(`${s} ${dest.addr}`);
          },
        }, new Yielder());
      }, { onServer: mgmtOnly && ((srv) => restrictConnections(srv, mgmtOnly, log, "metrics")) });
      const addr = await server.listen(host, port);
      closers.push(() => server.close());
      log.info(addr, "metrics endpoint ready");
    }
    // The image's health check: data plane loaded, config applied, packet
    // I/O and the consoles up. A trial image becomes good only here, before
    // the serial console greets anyone.
    if (image) {
      if (!io) {
        await image.markBad("packet I/O unavailable").catch((e) => log.error({ err: e }, "could not mark the image bad"));
        throw new Error("health check failed: packet I/O is unavailable");
      }
      await image.markGood();
    }
    if (opts.serial || process.stdin.isTTY) {
      serial = startSerialConsole({
        interpreter: interp, device: opts.serial,
        passwordHash: () => (opts.consolePasswordFile ? sessionPasswordHash(opts.consolePasswordFile, log) : undefined),
        banner: () => consoleBanner({ url: ws?.url, tokenFile: ws && (opts.wsTokenFile ?? DEFAULT_TOKEN_FILE), fingerprint: tls?.fingerprint, notices: [...notices, ...passwordNotice(opts.consolePasswordFile)] }),
        log: logger("serial"),
      });
      closers.push(() => serial!.close());
    }
  } catch (e) {
    log.error({ err: e }, "start failed");
    process.stderr.write(`weir run: ${(e as Error).message}\n`);
    await shutdown();
    return 1;
  }

  async function shutdown(): Promise<void> {
    // First, while the links are still ours: masters send priority 0 so the backup takes over at once.
    vrrp.stop();
    sync.stop();
    clearInterval(ticker);
    rates.stop();
    prober.stop();
    await monitor.stop();
    for (const c of closers.reverse()) {
      try { await c(); } catch (e) { log.warn({ err: e }, "close failed"); }
    }
    watchdog?.close();
    await pool?.stop();
    // Links are put back as they were, the nft table goes.
    if (io) {
      try { await io.close(); } catch (e) { log.warn({ err: e }, "packet I/O close failed"); }
    }
  }

  const signal = await new Promise<string>((resolve) => {
    process.once("SIGTERM", () => resolve("SIGTERM"));
    process.once("SIGINT", () => resolve("SIGINT"));
    // A serial console on stdin ends the appliance when its session ends (Ctrl-D).
    if (serial && !opts.serial) serial.closed.then(() => resolve("console closed"));
  });
  log.info({ signal }, "shutting down");
  await shutdown();
  return 0;
}

/**
 * Packet I/O tuning: RunOptions.io, else the WEIR_IO_OPTIONS environment
 * variable (JSON, e.g. {"rxVersion":3,"batch":128}) for measurements.
 */
function ioTuning(o: RunOptions["io"]): RunOptions["io"] {
  if (o) return o;
  const env = process.env.WEIR_IO_OPTIONS;
  if (!env) return {};
  try {
    return JSON.parse(env) as RunOptions["io"];
  } catch {
    throw new Error(`WEIR_IO_OPTIONS is not JSON: ${env}`);
  }
}

/**
 * Real servers' check states for one metrics scrape, keyed by serviceId and
 * destId, and by serviceId and address alone: undefined (no entry) when unchecked.
 */
function healthIndex(model: ConfigModel, monitor: HealthMonitor): Map<string, boolean> {
  const out = new Map<string, boolean>();
  for (const view of model.services()) {
    const checks = new Map(monitor.status(view.key).map((c) => [c.dest, c.up]));
    if (checks.size === 0) continue;
    for (const d of view.dests) {
      const up = checks.get(d.key);
      if (up === undefined) continue;
      out.set(`${view.key} ${d.key}`, up);
      out.set(`${view.key} ${d.addr}`, up);
    }
  }
  return out;
}

/**
 * Where the WebSocket console puts uploaded bundles: on disk, never in /run
 * (tmpfs: memory the data plane needs). The image's disk storage is its
 * config partition (layout.configDir, sized in image/recipe.json for a
 * bundle and the config). upload.ts refuses uploads, saying why, when the
 * directory is in memory after all (the partition did not mount) or too full.
 */
function uploadOptions(image: ApplianceImage): { dir: string; maxBytes: number; totalBytes: number } {
  return { dir: `${image.layout.configDir}/uploads`, maxBytes: 1 << 30, totalBytes: 1 << 30 };
}

/** Why the TLS options cannot work together, or undefined. */
export function tlsOptionsProblem(o: Pick<RunOptions, "tlsCert" | "tlsKey" | "tlsSelfSigned" | "ws">): string | undefined {
  if (!!o.tlsCert !== !!o.tlsKey) return `${o.tlsCert ? "--tls-cert needs --tls-key" : "--tls-key needs --tls-cert"}: refusing to serve the console without the TLS asked for`;
  if (o.tlsSelfSigned && o.tlsCert) return "--tls-self-signed and --tls-cert/--tls-key are two certificates: give one";
  if ((o.tlsCert || o.tlsSelfSigned) && !o.ws) return "TLS options without --ws: there is no console to serve over TLS";
  return undefined;
}

/** The console's certificate, key and fingerprint: the operator's files, or the appliance's own (made at first start). */
async function tlsFiles(o: RunOptions, log: ReturnType<typeof logger>): Promise<TlsFiles | undefined> {
  if (o.tlsSelfSigned) {
    const c = await ensureSelfSignedCert(o.tlsSelfSigned);
    if (c.made) log.info({ dir: o.tlsSelfSigned, fingerprint: c.fingerprint }, "made the console's TLS certificate");
    return c;
  }
  if (!o.tlsCert || !o.tlsKey) return undefined;
  return { certFile: o.tlsCert, keyFile: o.tlsKey, fingerprint: certFingerprint(readFileSync(o.tlsCert)) };
}
