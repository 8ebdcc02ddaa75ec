// VRRP in the running appliance: the instances' state machines (machine.ts)
// and sync groups (group.ts) tied to the data links. Per link with an
// instance, one packet I/O port (dataplane/vrrpio.ts's VrrpLink in `weir
// run`): frames in → decodeFrame → the instance with that VRID and family
// (every refusal counted by reason, per link); the machines' actions out →
// adverts (to the group, or to each unicast peer's MAC), ownership of the
// virtual addresses in the data plane (standby unless MASTER), gratuitous
// ARPs / unsolicited NAs, and a log line per transition.
//
// A tracked link (the instance's interface and its track_interface links) is
// up when the appliance has it attached (`ip link set DEV up`) and the host
// says it is up with a carrier; that is polled every POLL_MS (reading two
// small sysfs files per tracked link) and re-checked at once when the config
// model attaches or detaches a link or the socket reports ENETDOWN.
//
// Everything outside comes in through RuntimeDeps, so tests drive it with
// fake ports and a VirtualClock.

import { Machine, REASONS, checkConfig, type Action, type InstanceConfig, type State, type Status } from "./machine.js";
import { SyncGroup } from "./group.js";
import { buildAnnouncement, buildFrame, decodeFrame, BROADCAST_MAC, GROUP4, GROUP6, type Advert, type RejectReason } from "./packet.js";
import type { Scheduler } from "./clock.js";
import { WeirError } from "../errors.js";
import type { Logger } from "../log.js";

/** What the runtime needs of one link's packet I/O (VrrpLink). */
export interface VrrpPort {
  /** Sends one whole frame now; false when the kernel did not take it. */
  send(frame: Uint8Array): boolean;
  close(): void;
}

export interface RuntimeDeps {
  clock: Scheduler;
  /** Opens packet I/O on dev (VrrpLink.open). */
  open(dev: string, o: { onFrame(frame: Uint8Array): void; onLinkError(errno: string): void }): Promise<VrrpPort>;
  /** Owns (MASTER) or stands a virtual address by in the data plane (ConfigModel.setVipOwned). */
  setOwned(dev: string, addr: string, owned: boolean): void;
  /** The appliance's link: its MAC, and whether it is attached to the data plane; undefined when unknown. */
  link(dev: string): { mac: string; attached: boolean } | undefined;
  /** The host interface is up with a carrier (false when it does not exist). */
  carrier(dev: string): boolean;
  /** A unicast peer's MAC from the data plane's neighbour table, when known. */
  neighbourMac?(dev: string, addr: string): string | undefined;
  log: Logger;
  /** Wall-clock ms, for transition times (default Date.now). */
  wallNow?: () => number;
  /** Carrier poll interval in ms (default POLL_MS); 0: none (tests call poll()). */
  pollMs?: number;
}

/** Frames kept for a port being opened (an advert and a GARP burst or two). */
const MAX_QUEUED = 64;

/** How often the tracked links' carrier and operstate are read (about 30 µs a link on this machine's sysfs). */
export const POLL_MS = 20;
const MIN_POLL_MS = 5;

/** The view of one instance the connection-sync daemon follows (src/sync/). */
export interface Role {
  state(): State;
  /** fn(state) on every change of the instance's state (also across a `vrrp instance` that replaces it); returns the unsubscribe. */
  subscribe(fn: (s: State) => void): () => void;
}

interface Inst {
  machine: Machine;
  ipId: number;
  transitions: number;
}

interface Port {
  port?: VrrpPort;
  opening?: Promise<void>;
  /** Frames sent while the port was opening (an instance that starts as MASTER): sent once it is open. */
  queued: Uint8Array[];
  rxFrames: number;
  txFrames: number;
  txFailures: number;
  /** Refusals on this link by reason: the codec's, unknown_vrid, and the instances'. */
  rejected: Partial<Record<RejectReason, number>>;
}

export interface LinkCounters {
  dev: string;
  open: boolean;
  up: boolean;
  rxFrames: number;
  txFrames: number;
  txFailures: number;
  rejected: Partial<Record<RejectReason, number>>;
}

export interface InstanceReport extends Status {
  transitions: number;
  group: string | null;
}

function bad(message: string): never {
  throw new WeirError("WEIR_ERR_BAD_VRRP", message);
}

export class VrrpRuntime {
  private readonly instances = new Map<string, Inst>();
  private readonly groupSpecs = new Map<string, string[]>();
  private readonly groups = new Map<string, SyncGroup>();
  private readonly ports = new Map<string, Port>();
  /** Tracked links' last known state (up = attached and carrier). */
  private readonly linkUp = new Map<string, boolean>();
  /** Unicast peers' MACs learnt from their adverts, by dev|addr. */
  private readonly macs = new Map<string, string>();
  private readonly subscribers = new Map<string, Set<(s: State) => void>>();
  private timer: ReturnType<typeof setInterval> | undefined;
  private pollEvery = 0;
  private stopped = false;

  constructor(private readonly deps: RuntimeDeps) {}

  /**
   * The carrier poll runs while there are instances, every POLL_MS or half
   * the shortest advert interval if that is shorter (at least 5 ms), so a
   * cut link is seen within one advert interval.
   */
  private retime(): void {
    const base = this.deps.pollMs ?? POLL_MS;
    let ms = 0;
    if (base > 0 && !this.stopped && this.instances.size > 0) {
      const shortest = Math.min(...[...this.instances.values()].map((i) => i.machine.cfg.intervalCs * 10));
      ms = Math.max(MIN_POLL_MS, Math.min(base, Math.floor(shortest / 2)));
    }
    if (ms === this.pollEvery) return;
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    this.pollEvery = ms;
    if (ms > 0) {
      this.timer = setInterval(() => this.poll(), ms);
      this.timer.unref();
    }
  }

  /** The carrier poll's interval now, ms (0: not polling). */
  get pollIntervalMs(): number {
    return this.pollEvery;
  }

  // ------------------------------------------------------------ config

  exists(name: string): boolean {
    return this.instances.has(name);
  }

  hasGroup(name: string): boolean {
    return this.groupSpecs.has(name);
  }

  /** The sync group an instance is in, or null. */
  groupOf(instance: string): string | null {
    for (const [g, members] of this.groupSpecs) if (members.includes(instance)) return g;
    return null;
  }

  /** Throws BAD_VRRP when upsert(cfg) would: a setting out of range, or another instance's VRID on the link. */
  check(cfg: InstanceConfig): void {
    const n = checkConfig(cfg);
    if (this.groupSpecs.has(n.name)) bad(`vrrp instance ${n.name}: the name is a sync group's`);
    for (const other of this.instances.values()) {
      const c = other.machine.cfg;
      if (c.name !== n.name && c.interface === n.interface && c.vrid === n.vrid && c.family === n.family) {
        bad(`vrrp instance ${n.name}: virtual_router_id ${n.vrid} is already instance ${c.name}'s on ${c.interface}`);
      }
    }
  }

  /** Creates or replaces an instance (throws BAD_VRRP as check() does, and then changes nothing). */
  upsert(cfg: InstanceConfig): void {
    if (this.stopped) bad("VRRP is stopped");
    this.check(cfg);
    const inst: Inst = { machine: undefined as unknown as Machine, ipId: 0, transitions: 0 };
    inst.machine = new Machine(cfg, this.deps.clock, (a) => this.act(inst, a));
    const m = inst.machine;
    const old = this.instances.get(cfg.name);
    const grouped = this.groupOf(cfg.name);
    if (grouped) this.ungroup(grouped);
    old?.machine.shutdown();
    this.instances.set(cfg.name, inst);
    for (const dev of this.tracked(m)) {
      if (!this.evaluate(dev)) m.linkDown(dev);
    }
    if (grouped) this.regroup(grouped);
    this.syncPorts();
    this.retime();
    m.start();
    this.notify(cfg.name);
  }

  /** Stops and forgets an instance (a master sends priority 0 first). */
  remove(name: string): void {
    const i = this.instances.get(name);
    if (!i) bad(`vrrp del: no instance or sync group '${name}'`);
    const g = this.groupOf(name);
    if (g) bad(`vrrp del ${name}: it is in sync group ${g} (vrrp del ${g} first)`);
    i.machine.shutdown();
    this.instances.delete(name);
    this.syncPorts();
    this.retime();
    this.notify(name);
  }

  /** Creates or replaces a sync group of existing instances, each in no other group. */
  setGroup(name: string, members: string[]): void {
    if (this.instances.has(name)) bad(`vrrp sync_group ${name}: the name is an instance's`);
    for (const n of members) {
      if (!this.instances.has(n)) bad(`vrrp sync_group ${name}: no instance '${n}'`);
      const g = this.groupOf(n);
      if (g && g !== name) bad(`vrrp sync_group ${name}: instance ${n} is already in sync group ${g}`);
    }
    if (this.groupSpecs.has(name)) this.ungroup(name);
    this.groupSpecs.set(name, [...members]);
    this.regroup(name);
  }

  removeGroup(name: string): void {
    if (!this.groupSpecs.has(name)) bad(`vrrp del: no instance or sync group '${name}'`);
    this.ungroup(name);
    this.groupSpecs.delete(name);
  }

  private ungroup(name: string): void {
    this.groups.get(name)?.detach();
    this.groups.delete(name);
  }

  private regroup(name: string): void {
    const members = this.groupSpecs.get(name)!.map((n) => this.instances.get(n)!.machine);
    this.groups.set(name, new SyncGroup(name, members));
  }

  /** Instance configs and group members, for `show running-config` and checkpoints. */
  groupList(): [string, string[]][] {
    return [...this.groupSpecs].map(([n, m]) => [n, [...m]]);
  }

  // -------------------------------------------------------------- links

  /** The links whose loss faults the instance. */
  private tracked(m: Machine): string[] {
    return [m.cfg.interface, ...m.cfg.trackInterfaces];
  }

  /** Reads dev's state now; when it changed, tells the instances tracking it. Returns whether it is up. */
  private evaluate(dev: string): boolean {
    const l = this.deps.link(dev);
    const up = !!l?.attached && this.deps.carrier(dev);
    const was = this.linkUp.get(dev);
    this.linkUp.set(dev, up);
    if (was !== undefined && was !== up) {
      this.deps.log.info({ link: dev, up }, up ? "VRRP: tracked link up" : "VRRP: tracked link down");
      for (const i of [...this.instances.values()]) {
        if (!this.tracked(i.machine).includes(dev)) continue;
        if (up) i.machine.linkUp(dev);
        else i.machine.linkDown(dev);
      }
    }
    return up;
  }

  /** A link was attached or detached (the config model's hooks): re-read it now. */
  linkChanged(dev: string): void {
    if (this.stopped) return;
    this.evaluate(dev);
    this.syncPorts();
  }

  /** One round of the carrier poll: every tracked link; ports opened or closed as needed. */
  poll(): void {
    if (this.stopped) return;
    const devs = new Set<string>();
    for (const i of this.instances.values()) for (const d of this.tracked(i.machine)) devs.add(d);
    for (const d of devs) this.evaluate(d);
    for (const d of [...this.linkUp.keys()]) if (!devs.has(d)) this.linkUp.delete(d);
    this.syncPorts();
  }

  /** Opens packet I/O on each attached link that has an instance; closes it on the others. */
  private syncPorts(): void {
    const want = new Set<string>();
    for (const i of this.instances.values()) {
      const dev = i.machine.cfg.interface;
      if (this.deps.link(dev)?.attached) want.add(dev);
    }
    for (const [dev, p] of this.ports) {
      if (want.has(dev)) continue;
      p.port?.close();
      p.port = undefined;
    }
    for (const dev of want) {
      let p = this.ports.get(dev);
      if (!p) this.ports.set(dev, (p = { queued: [], rxFrames: 0, txFrames: 0, txFailures: 0, rejected: {} }));
      if (p.port || p.opening) continue;
      const rec = p;
      rec.opening = this.deps.open(dev, {
        onFrame: (f) => {
          // Called from the event loop: nothing may escape (a bug here must not stop the appliance).
          try {
            this.receive(dev, f);
          } catch (e) {
            this.deps.log.error({ link: dev, err: e }, "VRRP: a received frame could not be handled");
          }
        },
        onLinkError: (errno) => {
          this.deps.log.warn({ link: dev, errno }, "VRRP packet I/O: link error");
          this.linkChanged(dev);
        },
      }).then((port) => {
        rec.opening = undefined;
        // Still wanted? (the link may have been detached or the instance deleted meanwhile)
        const still = !this.stopped && [...this.instances.values()].some((i) => i.machine.cfg.interface === dev) && this.deps.link(dev)?.attached;
        if (still) {
          rec.port = port;
          for (const f of rec.queued.splice(0)) this.send(dev, f);
        } else {
          port.close();
          rec.queued.length = 0;
        }
      }, (e) => {
        rec.opening = undefined;
        rec.queued.length = 0;
        this.deps.log.error({ link: dev, err: e }, "VRRP packet I/O did not open; retrying on the next poll");
      });
    }
  }

  // ------------------------------------------------------------ frames in

  private reject(dev: string, why: RejectReason): void {
    const p = this.ports.get(dev);
    if (p) p.rejected[why] = (p.rejected[why] ?? 0) + 1;
  }

  /** A frame from dev's packet I/O. */
  receive(dev: string, frame: Uint8Array): void {
    const p = this.ports.get(dev);
    if (p) p.rxFrames++;
    const d = decodeFrame(frame, { checkTtl: true });
    if (!d.ok) return this.reject(dev, d.reason);
    const a = d.advert;
    const inst = [...this.instances.values()].find((i) => {
      const c = i.machine.cfg;
      return c.interface === dev && c.vrid === a.vrid && c.family === a.family;
    });
    if (!inst) return this.reject(dev, "unknown_vrid");
    this.macs.set(`${dev}|${d.src}`, d.srcMac);
    const why = inst.machine.receive(a, d.src);
    if (why) this.reject(dev, why);
  }

  // ---------------------------------------------------------- actions out

  private send(dev: string, frame: Uint8Array): void {
    const p = this.ports.get(dev);
    if (p && !p.port && p.opening && p.queued.length < MAX_QUEUED) {
      p.queued.push(frame);
      return;
    }
    let ok = false;
    try {
      ok = !!p?.port && p.port.send(frame);
    } catch (e) {
      this.deps.log.warn({ link: dev, err: e }, "VRRP send failed");
    }
    if (!p) return;
    if (ok) p.txFrames++;
    else p.txFailures++;
  }

  private act(i: Inst, a: Action): void {
    const c = i.machine.cfg;
    switch (a.kind) {
      case "advert":
        for (const to of a.to) this.sendAdvert(i, a.advert, to);
        return;
      case "own":
      case "release":
        for (const addr of a.addresses) {
          try {
            this.deps.setOwned(c.interface, addr, a.kind === "own");
          } catch (e) {
            this.deps.log.error({ instance: c.name, addr, err: e }, `VRRP: could not ${a.kind} the address`);
          }
        }
        return;
      case "announce": {
        const mac = this.deps.link(c.interface)?.mac;
        if (!mac) return;
        for (let r = 0; r < a.repeat; r++) for (const addr of a.addresses) this.send(c.interface, buildAnnouncement(mac, addr, { router: true }));
        return;
      }
      case "transition": {
        const t = a.transition;
        i.transitions++;
        this.deps.log.info({ instance: t.instance, interface: c.interface, vrid: c.vrid, from: t.from, to: t.to, reason: t.reason, detail: t.detail },
          `VRRP ${t.instance}: ${t.from} -> ${t.to}: ${REASONS[t.reason]}`);
        // After the machine has finished this step (its own actions first).
        queueMicrotask(() => this.notify(t.instance));
        return;
      }
    }
  }

  private sendAdvert(i: Inst, advert: Advert, to: string): void {
    const c = i.machine.cfg;
    const mac = this.deps.link(c.interface)?.mac;
    if (!mac) return;
    const group = to === GROUP4 || to === GROUP6;
    const dstMac = group ? undefined : this.deps.neighbourMac?.(c.interface, to) ?? this.macs.get(`${c.interface}|${to}`) ?? BROADCAST_MAC;
    i.ipId = (i.ipId % 0xffff) + 1;
    this.send(c.interface, buildFrame(advert, { src: c.primary, dst: to, srcMac: mac, dstMac, id: i.ipId }));
  }

  // ---------------------------------------------------------- visibility

  private notify(name: string): void {
    const subs = this.subscribers.get(name);
    if (!subs?.size) return;
    const s = this.instances.get(name)?.machine.state ?? "INIT";
    for (const fn of [...subs]) {
      try {
        fn(s);
      } catch (e) {
        this.deps.log.error({ instance: name, err: e }, "a VRRP role subscriber failed");
      }
    }
  }

  /** For the connection-sync daemon: the instance's state and its changes; undefined when there is no such instance. */
  role(instance: string): Role | undefined {
    if (!this.instances.has(instance)) return undefined;
    return {
      state: () => this.instances.get(instance)?.machine.state ?? "INIT",
      subscribe: (fn) => {
        let subs = this.subscribers.get(instance);
        if (!subs) this.subscribers.set(instance, (subs = new Set()));
        subs.add(fn);
        return () => { subs!.delete(fn); };
      },
    };
  }

  /** Every instance's status, by name. */
  report(): InstanceReport[] {
    return [...this.instances.values()].map((i) => ({ ...i.machine.status(), transitions: i.transitions, group: i.machine.group }))
      .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  }

  links(): LinkCounters[] {
    return [...this.ports].map(([dev, p]) => ({
      dev, open: !!p.port, up: this.linkUp.get(dev) ?? false, rxFrames: p.rxFrames, txFrames: p.txFrames, txFailures: p.txFailures, rejected: { ...p.rejected },
    }));
  }

  /** The counters the Prometheus families and `show stats` read (metrics/prometheus.ts VrrpCounters). */
  metrics(): { instances: (Omit<InstanceReport["stats"], "rejected"> & { name: string; interface: string; state: State; priority: number; transitions: number })[]; links: LinkCounters[] } {
    return {
      instances: this.report().map((r) => {
        const { rejected: _r, ...st } = r.stats;
        return { name: r.name, interface: r.interface, state: r.state, priority: r.priority, transitions: r.transitions, ...st };
      }),
      links: this.links(),
    };
  }

  /** `show stats` lines. */
  statsLines(): string[] {
    const m = this.metrics();
    return [
      ...m.instances.map((i) => `vrrp ${i.name} ${i.interface} ${i.state} adverts_sent ${i.advertsSent} adverts_received ${i.advertsReceived} priority_zero_sent ${i.priorityZeroSent} priority_zero_received ${i.priorityZeroReceived} became_master ${i.becameMaster} transitions ${i.transitions}`),
      ...m.links.map((l) => {
        const rej = Object.entries(l.rejected).map(([k, n]) => `${k}=${n}`).join(",") || "none";
        return `vrrp_link ${l.dev} rx ${l.rxFrames} tx ${l.txFrames} tx_failed ${l.txFailures} rejected ${rej}`;
      }),
    ];
  }

  /** `vrrp show`: one line per instance. */
  showLines(): string[] {
    const wall = this.deps.wallNow ?? Date.now;
    const now = this.deps.clock.now();
    return this.report().map((s) => {
      const w = [s.name, s.interface, "vrid", String(s.vrid), s.state, "prio", String(s.priority)];
      w.push("master", s.master ?? "none");
      if (s.last) {
        const at = new Date(wall() - (now - s.last.at) / 1000).toISOString();
        w.push("since", at, `${s.last.reason}${s.last.detail ? ` (${s.last.detail})` : ""}`);
      }
      if (s.group) w.push("group", s.group);
      if (s.linksDown.length) w.push("links_down", s.linksDown.join(","));
      return w.join(" ");
    });
  }

  /**
   * Clean stop, before the links are detached: every MASTER sends priority 0
   * (the frames are in the kernel when this returns: send is synchronous) and
   * releases its addresses; then the ports close.
   */
  stop(): void {
    if (this.stopped) return;
    this.stopped = true;
    this.retime();
    for (const i of this.instances.values()) i.machine.shutdown();
    for (const p of this.ports.values()) {
      p.port?.close();
      p.port = undefined;
    }
  }
}
