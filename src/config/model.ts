// The authoritative configuration: services, real servers, firewall-mark
// rules, links, addresses, routes and timeouts. Changes are built in a Draft
// (checked completely there) and committed at once: network calls with undo,
// then all service and mark changes in ONE data-plane transaction. An error
// anywhere leaves the model and the data plane as they were.
//
// Health checking plugs in through setDestHealth() and setSorryServer():
// the configured state (what running-config shows) never changes with
// health; only what the data plane runs does.

import type { DataPlaneApi, FwdName, ServiceKey, Transaction } from "../dataplane/dataplane.js";
import { logger, type Logger } from "../log.js";
import { Draft, type DestIn } from "./draft.js";
import { dpView, diffService, markOps, planNet, runNet, type DestHealth, type DpService, type HealthMode } from "./dpsync.js";
import { fail } from "../errors.js";
import { compareDest, compareSvc, destId, parseHostPort, parseSvcKey, serviceId, svcKeyOption, svcKeyText, toDpKey, type SvcKey } from "../keys.js";
import { readHostLink } from "./sysfs.js";
import { sliced, unsliced, Yielder } from "../util/yield.js";
import { emptyState, schedFlagNames, type ConfigState, type DestConf, type LinkConf, type VipConf } from "./state.js";

export type { HealthMode };

const vipKey = (v: VipConf) => `${v.dev}|${v.addr}`;

/** What the packet I/O layer plugs in to attach and detach links. */
export interface LinkHooks {
  onLinkUp?(link: LinkConf): void | Promise<void>;
  onLinkDown?(link: LinkConf): void | Promise<void>;
  /**
   * After any committed change of links, addresses or routes (and after the
   * link hooks): the new state, e.g. to mirror addresses and routes to the
   * host stack. Failures are logged, not undone.
   */
  onNetChange?(state: ConfigState): void | Promise<void>;
  /** After a change to services or real servers took effect (e.g. to resolve new real servers at once). */
  onServicesChange?(state: ConfigState): void;
}

export interface ModelOptions {
  /** Where host interfaces are looked up for their MAC and MTU (default /sys/class/net). */
  sysfsRoot?: string;
  hooks?: LinkHooks;
  log?: Logger;
}

export interface DestView {
  /** "198.19.0.11:80" */
  key: string;
  af: 4 | 6;
  addr: string;
  port: number;
  fwd: FwdName;
  /** As configured (what running-config shows). */
  weight: number;
  /** As the data plane runs it: 0 while down. */
  effectiveWeight: number;
  health: "up" | "down";
  /** False while down with mode "remove". */
  inDataPlane: boolean;
  uThreshold: number;
  lThreshold: number;
}

export interface ServiceView {
  /** "tcp:198.18.100.1:80", "udp:[2001:db8::1]:53", "fwm:1": what setDestHealth() and friends take. */
  key: string;
  /** As ipvsadm lists it: "TCP 198.18.100.1:80", "FWM 1". */
  label: string;
  /** The same as ipvsadm options: "-t 198.18.100.1:80" */
  option: string;
  /** For the data plane's serviceStats()/destStats(). */
  dpKey: ServiceKey;
  scheduler: string;
  flags: string[];
  persistent: number;
  netmask: number;
  onePacket: boolean;
  dests: DestView[];
  sorry: { key: string; addr: string; port: number; fwd: FwdName; weight: number; active: boolean } | null;
}

/** A sorry server: dest "addr:port" ("[v6]:port"; the port defaults to the service's), -g by default. */
export interface SorryServer { dest: string; fwd?: FwdName; weight?: number; }

export class ConfigModel {
  readonly dp: DataPlaneApi;
  private current: ConfigState = emptyState();
  /** Exactly what the data plane holds, per service. */
  private applied = new Map<string, DpService>();
  private readonly health = new Map<string, Map<string, DestHealth>>();
  private readonly sorry = new Map<string, DestConf>();
  private readonly schedOk = new Map<string, boolean>();
  /** VRRP virtual addresses owned now (their instance is MASTER), by dev|addr: see setVipOwned. */
  private readonly vipsOwned = new Set<string>();
  private hooks: LinkHooks;
  private readonly sysfsRoot: string;
  private readonly log: Logger;
  private tail: Promise<unknown> = Promise.resolve();

  constructor(dp: DataPlaneApi, opts: ModelOptions = {}) {
    this.dp = dp;
    this.hooks = opts.hooks ?? {};
    this.sysfsRoot = opts.sysfsRoot ?? "/sys/class/net";
    this.log = opts.log ?? logger("config");
    this.current = { ...emptyState(), timeouts: dp.getTimeouts() };
  }

  get state(): ConfigState { return this.current; }

  setLinkHooks(h: LinkHooks): void { this.hooks = h; }

  /** A draft over the current configuration. */
  draft(base: ConfigState = this.current): Draft {
    return new Draft(base, {
      schedulerAvailable: (n) => this.schedulerAvailable(n),
      hostLink: (n) => readHostLink(this.sysfsRoot, n),
      sorryKey: (k) => {
        const s = this.sorry.get(k);
        return s ? destId(s) : null;
      },
    });
  }

  /** Builds a draft with fn and commits it; nothing changes when fn or the commit throws. */
  change(fn: (d: Draft) => void | Promise<void>): Promise<void> {
    return this.serial(async () => {
      const d = this.draft();
      await fn(d);
      await this.commitNow(d);
    });
  }

  /** Commits a draft made from the current state. */
  commit(d: Draft): Promise<void> { return this.serial(() => this.commitNow(d)); }

  /** Makes state the configuration, whatever it was before (config load, undo). */
  replace(state: ConfigState): Promise<void> {
    return this.serial(async () => {
      const d = this.draft(state);
      d.touchAll(this.current);
      await this.commitNow(d);
    });
  }

  private serial<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.tail.then(fn, fn);
    this.tail = run.catch(() => undefined);
    return run;
  }

  private async commitNow(d: Draft, hooks = true): Promise<void> {
    const prev = this.current;
    const next = d.state();
    const undoNet = d.netDirty ? runNet(planNet(this.dp, prev, next, (v) => this.vipsOwned.has(vipKey(v)))) : () => {};
    let views: Map<string, DpService | undefined>;
    try {
      // Applied in slices with event-loop turns between them: forwarding goes on during a big change.
      const pause = new Yielder();
      views = new Map();
      const ops: ((tx: Transaction) => void)[] = [];
      await sliced(this.serviceOps(next, d.dirty, d.marksDirty, ops, views), pause);
      if (ops.length) await this.dp.transactionChunked(ops, pause);
    } catch (e) {
      undoNet();
      throw e;
    }
    if (JSON.stringify(prev.timeouts) !== JSON.stringify(next.timeouts)) this.dp.setTimeouts(next.timeouts);
    this.current = next;
    for (const [k, v] of views) {
      if (v) this.applied.set(k, v);
      else {
        this.applied.delete(k);
        this.health.delete(k);
        this.sorry.delete(k);
      }
    }
    for (const [k, s] of next.services) {
      const h = this.health.get(k);
      if (h) for (const dk of h.keys()) if (!s.dests.has(dk)) h.delete(dk);
    }
    if (hooks) await this.runLinkHooks(prev, next);
    if (hooks && d.netDirty && this.hooks.onNetChange) {
      await Promise.resolve(this.hooks.onNetChange(this.current)).catch((e) => this.log.warn({ err: e }, "network change hook failed"));
    }
    if (hooks && d.dirty.size > 0) this.hooks.onServicesChange?.(this.current);
  }

  /** One transaction for every changed service and the mark rules. Returns the new views. */
  private applyServices(next: ConfigState, dirty: Set<string>, marksDirty: boolean): Map<string, DpService | undefined> {
    const ops: ((tx: Transaction) => void)[] = [];
    const views = new Map<string, DpService | undefined>();
    unsliced(this.serviceOps(next, dirty, marksDirty, ops, views));
    if (ops.length) this.dp.transaction((tx) => { for (const op of ops) op(tx); });
    return views;
  }

  /** Fills ops (data-plane calls) and views for the changed services; yields after each service. */
  private *serviceOps(next: ConfigState, dirty: Set<string>, marksDirty: boolean, ops: ((tx: Transaction) => void)[], views: Map<string, DpService | undefined>): Generator<void> {
    const flush = next.services.size === 0 && this.applied.size > 0 && [...this.applied.keys()].every((k) => dirty.has(k));
    if (flush) ops.push((tx) => tx.flush());
    for (const k of dirty) {
      const s = next.services.get(k);
      const view = s ? dpView(s, this.health.get(k), this.sorry.get(k)) : undefined;
      if (!flush) diffService(this.applied.get(k), view, ops);
      views.set(k, view);
      yield;
    }
    if (marksDirty && JSON.stringify(next.marks) !== JSON.stringify(this.current.marks)) markOps(next.marks, ops);
  }

  private async runLinkHooks(prev: ConfigState, next: ConfigState): Promise<void> {
    const raised: LinkConf[] = [];
    for (const [name, l] of prev.links) {
      if (l.up && !next.links.has(name)) await Promise.resolve(this.hooks.onLinkDown?.(l)).catch((e) => this.log.warn({ err: e, link: name }, "link down hook failed"));
    }
    for (const [name, l] of next.links) {
      const was = prev.links.get(name)?.up ?? false;
      if (was === l.up) continue;
      try {
        if (l.up) { await this.hooks.onLinkUp?.(l); raised.push(l); }
        else await this.hooks.onLinkDown?.(l);
      } catch (e) {
        for (const r of raised.reverse()) await Promise.resolve(this.hooks.onLinkDown?.(r)).catch(() => undefined);
        const undo = this.draft(prev);
        undo.touchAll(next);
        await this.commitNow(undo, false);
        fail("LINK", `cannot bring ${l.up ? "up" : "down"} ${name}: ${(e as Error).message}`);
      }
    }
  }

  // ---- VRRP ownership ----

  /**
   * Owns (the instance became MASTER) or stands by a VRRP virtual address at
   * once, outside any change being committed: a takeover does not wait. The
   * wish is kept, so a later commit that (re)adds the address gives it the
   * same ownership. An address not (yet) in the configuration only records it.
   */
  setVipOwned(dev: string, addr: string, owned: boolean): void {
    const k = `${dev}|${addr}`;
    if (owned) this.vipsOwned.add(k); else this.vipsOwned.delete(k);
    const v = this.current.vips.find((x) => x.dev === dev && x.addr === addr);
    const link = this.current.links.get(dev);
    if (v && link) this.dp.setAddressOwned(link.id, addr, owned);
  }

  /** True while the virtual address is owned (see setVipOwned). */
  vipOwned(dev: string, addr: string): boolean { return this.vipsOwned.has(`${dev}|${addr}`); }

  /** True when the data plane can run the scheduler (probed once, in a transaction that is abandoned). */
  schedulerAvailable(name: string): boolean {
    let ok = this.schedOk.get(name);
    if (ok !== undefined) return ok;
    if (!this.dp.schedulers.includes(name)) ok = false;
    else {
      const probe = new Error("probe");
      try {
        this.dp.transaction((tx) => {
          tx.addService({ proto: "tcp", addr: "192.0.2.1", port: 9 }, { scheduler: name });
          throw probe;
        });
        ok = true;
      } catch (e) {
        ok = e === probe;
      }
    }
    this.schedOk.set(name, ok);
    return ok;
  }

  // ---- health checking ----

  private service(key: string | SvcKey) {
    const k = serviceId(typeof key === "string" ? parseSvcKey(key) : key);
    const s = this.current.services.get(k);
    if (!s) fail("NO_SUCH_SERVICE", `no such service: ${typeof key === "string" ? key : svcKeyOption(key)}`);
    return { k, s };
  }

  /** Re-applies one service's data-plane view (health or sorry server changed). */
  private refresh(k: string): void {
    if (this.dp.busy) {
      // A big change is being applied in slices: this one follows it.
      this.serial(async () => this.refresh(k)).catch((e) => this.log.warn({ err: e, service: k }, "service refresh failed"));
      return;
    }
    const views = this.applyServices(this.current, new Set([k]), false);
    for (const [key, v] of views) if (v) this.applied.set(key, v);
  }

  /**
   * Marks a real server up or down. Down: weight 0 in the data plane
   * ("inhibit", keepalived's inhibit_on_failure) or left out ("remove").
   * The configured weight stays. destKey: "198.19.0.11:80".
   */
  setDestHealth(serviceKey: string | SvcKey, destKey: string, up: boolean, mode: HealthMode = "inhibit"): void {
    const { k, s } = this.service(serviceKey);
    const a = parseHostPort(destKey);
    const dk = destId({ addr: a.addr, port: a.port ?? (s.key.kind === "fwmark" ? 0 : s.key.port) });
    if (!s.dests.has(dk)) fail("NO_SUCH_DEST", `no such real server: ${dk} in ${svcKeyOption(s.key)}`);
    let h = this.health.get(k);
    const prev = h?.get(dk);
    if (prev?.up === up && (up || prev.mode === mode)) return;
    if (!prev && up) return;
    if (!h) this.health.set(k, (h = new Map()));
    const old = new Map(h);
    if (up) h.delete(dk); else h.set(dk, { up, mode });
    try {
      this.refresh(k);
    } catch (e) {
      this.health.set(k, old);
      throw e;
    }
  }

  /** Sets (or with null, clears) the server used while no real server of the service is up. */
  setSorryServer(serviceKey: string | SvcKey, dest: SorryServer | null): void {
    const { k, s } = this.service(serviceKey);
    const old = this.sorry.get(k);
    if (dest === null) {
      if (!old) return;
      this.sorry.delete(k);
    } else {
      const a = parseHostPort(dest.dest);
      const d: DestIn = { af: a.af, addr: a.addr, port: a.port, fwd: dest.fwd ?? "dr", weight: dest.weight ?? 1, uThreshold: 0, lThreshold: 0 };
      // Checked as a real server of this service would be.
      const conf = this.draft().destFor(s.key, d);
      const dk = destId(conf);
      if (s.dests.has(dk)) fail("DEST_EXISTS", `sorry server ${dk} is a real server of ${svcKeyOption(s.key)}`);
      this.sorry.set(k, conf);
    }
    try {
      this.refresh(k);
    } catch (e) {
      if (old) this.sorry.set(k, old); else this.sorry.delete(k);
      throw e;
    }
  }

  sorryServer(serviceKey: string | SvcKey): SorryServer | null {
    const { k } = this.service(serviceKey);
    const s = this.sorry.get(k);
    return s ? { dest: destId(s), fwd: s.fwd, weight: s.weight } : null;
  }

  /** The real servers configured in a service ("198.19.0.11:80"), or undefined when there is no such service. */
  destKeys(serviceKey: string | SvcKey): string[] | undefined {
    let k: string;
    try {
      k = serviceId(typeof serviceKey === "string" ? parseSvcKey(serviceKey) : serviceKey);
    } catch {
      return undefined;
    }
    const s = this.current.services.get(k);
    return s ? [...s.dests.keys()] : undefined;
  }

  // ---- views ----

  /** The services as the data plane runs them (for ipvsadm -L), sorted as ipvsadm lists them. */
  dataPlaneServices(sorted = true): DpService[] {
    const all = [...this.applied.values()];
    return sorted ? all.sort((a, b) => compareSvc(a.key, b.key)) : all;
  }

  /** What the data plane holds, as rate estimators and metrics read it: service keys and real servers. */
  targets(): { service: ServiceKey; dests: { addr: string; port?: number; fwd: FwdName }[] }[] {
    return this.dataPlaneServices(false).map((v) => ({
      service: toDpKey(v.key),
      dests: [...v.dests.values()].map(({ spec }) => ({ addr: spec.addr, port: spec.port, fwd: spec.fwd })),
    }));
  }

  /** Snapshot for metrics and the web stats panel. */
  services(): ServiceView[] {
    const out: ServiceView[] = [];
    const svcs = [...this.current.services.values()].sort((a, b) => compareSvc(a.key, b.key));
    for (const s of svcs) {
      const k = serviceId(s.key);
      const h = this.health.get(k);
      const view = this.applied.get(k);
      const dests: DestView[] = [...s.dests.entries()].sort((a, b) => compareDest(a[1], b[1])).map(([dk, d]) => {
        const hs = h?.get(dk);
        const down = hs !== undefined && !hs.up;
        return {
          key: dk, af: d.af, addr: d.addr, port: d.port, fwd: d.fwd, weight: d.weight,
          effectiveWeight: down ? 0 : d.weight, health: down ? "down" : "up",
          inDataPlane: !down || hs!.mode === "inhibit", uThreshold: d.uThreshold, lThreshold: d.lThreshold,
        };
      });
      const so = this.sorry.get(k);
      out.push({
        key: k, label: svcKeyText(s.key), option: svcKeyOption(s.key), dpKey: toDpKey(s.key), scheduler: s.scheduler,
        flags: schedFlagNames(s.scheduler, s.flags), persistent: s.persistent, netmask: s.netmask, onePacket: s.onePacket, dests,
        sorry: so ? {
          key: destId(so), addr: so.addr, port: so.port, fwd: so.fwd, weight: so.weight,
          active: [...(view?.dests.values() ?? [])].some((d) => d.sorry),
        } : null,
      });
    }
    return out;
  }
}
