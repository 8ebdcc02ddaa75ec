// One VRRP instance's state machine: RFC 5798 §6.4 (Initialize, Backup,
// Master) plus keepalived's FAULT (a tracked link is down) and the keepalived
// behaviours a peer of it must share: `state MASTER` at startup, nopreempt,
// preempt_delay, a priority-0 advert when a master stops or faults, the
// gratuitous ARP / NA bursts (garp_master_repeat, again after
// garp_master_delay), v2 intervals in whole seconds with its skew.
//
// It is pure: time comes from an injected Scheduler (clock.ts), adverts come
// in decoded (packet.ts) and everything it does goes out as Actions to the
// caller — send this advert, own / release / announce these addresses, and a
// transition with its reason for the log and `vrrp show`. The caller (the
// receive and send paths on the data links, the data plane owning the
// addresses) is wired elsewhere.
//
// Timers, in microseconds, as keepalived computes them (vrrp.h):
//   Skew_Time            v3: (256 − Priority) × Master_Adver_Interval / 256   (interval in cs)
//                        v2: (256 − Priority) / 256 s
//   Master_Down_Interval 3 × Master_Adver_Interval + Skew_Time
// A v3 backup learns Master_Adver_Interval from the master's adverts; a
// master uses its own. A backup that hears priority 0 waits Skew_Time only.

import { WeirError } from "../errors.js";
import {
  GROUP4, GROUP6, MAX_INTERVAL_CS_V3, MAX_INTERVAL_S_V2, addrBytes, addrText, advertLength,
  type Advert, type Family, type RejectReason, type Version,
} from "./packet.js";
import type { Scheduler } from "./clock.js";

export type State = "INIT" | "BACKUP" | "MASTER" | "FAULT";

/** Why a transition happened: a closed set (log field, `vrrp show`), each with its sentence. */
export const REASONS = {
  startup: "started; listening for a master",
  address_owner: "priority 255: the address owner is master at once",
  configured_master: "configured state MASTER",
  master_down: "no advert from a master for Master_Down_Interval",
  priority_zero: "the master stopped (priority 0); took over after Skew_Time",
  preempt: "preempted a lower-priority master",
  higher_priority: "an advert with a higher priority",
  higher_address: "an advert with the same priority from a higher primary address",
  link_down: "a tracked link is down",
  link_up: "every tracked link is up again",
  sync_group: "its sync group moved",
  shutdown: "stopped",
} as const;
export type Reason = keyof typeof REASONS;

export interface Transition {
  instance: string;
  /** Scheduler time, µs. */
  at: number;
  from: State;
  to: State;
  reason: Reason;
  /** Specifics: the peer, its priority, the link… */
  detail: string;
}

export type Action =
  /** Send this advert to each of `to` (the VRRP group, or every unicast peer). */
  | { kind: "advert"; advert: Advert; to: string[] }
  /** Become the owner of the addresses: answer ARP/ND for them and take their traffic. */
  | { kind: "own"; addresses: string[] }
  /** Stop owning them. */
  | { kind: "release"; addresses: string[] }
  /** Send `repeat` gratuitous ARPs / unsolicited NAs for each address. */
  | { kind: "announce"; addresses: string[]; repeat: number }
  | { kind: "transition"; transition: Transition };

export interface InstanceConfig {
  name: string;
  /** The data link the instance runs on (always tracked). */
  interface: string;
  /** Default 3. */
  version?: Version;
  vrid: number;
  /** 1–255; 255 is the address owner. Default 100. */
  priority?: number;
  /** Advertisement_Interval in centiseconds (default 100; v2: whole seconds). */
  intervalCs?: number;
  /** The virtual addresses, all of one family (the instance's). */
  addresses: string[];
  /** Our primary address on the link: the adverts' source and the tie-breaker (IPv6: link-local). */
  primary: string;
  /** Preempt_Mode (default true; keepalived's nopreempt is false). */
  preempt?: boolean;
  /** keepalived's preempt_delay, µs (0–1000 s): preemption waits this long after startup or a lower master. */
  preemptDelayUs?: number;
  /** keepalived's `state MASTER`: become master at once on startup. */
  startMaster?: boolean;
  /** Unicast peers instead of the multicast group. */
  unicastPeers?: string[];
  /** More links whose loss makes the instance FAULT (track_interface). */
  trackInterfaces?: string[];
  /** garp_master_repeat: announcements per address per burst (default 5, as keepalived). */
  garpRepeat?: number;
  /** garp_master_delay: a second burst this long after becoming master (µs; default 5 s, as keepalived; 0: none). */
  garpDelayUs?: number;
}

/** A configuration with its defaults filled in and checked. */
export interface Instance extends Required<Omit<InstanceConfig, "version">> {
  version: Version;
  family: Family;
}

export interface Stats {
  advertsSent: number;
  advertsReceived: number;
  priorityZeroSent: number;
  priorityZeroReceived: number;
  becameMaster: number;
  releasedMaster: number;
  /** Adverts this instance refused, by reason. */
  rejected: Partial<Record<RejectReason, number>>;
}

export interface Status {
  name: string;
  interface: string;
  vrid: number;
  version: Version;
  family: Family;
  state: State;
  priority: number;
  /** The current master's address (ours when MASTER), null when none is known. */
  master: string | null;
  masterPriority: number | null;
  /** Master_Adver_Interval in use, cs. */
  masterAdverCs: number;
  /** When the Master_Down_Timer fires (BACKUP), µs; null otherwise. */
  masterDownAt: number | null;
  /** BACKUP whose timer fired, held back by its sync group until every member is ready. */
  waitingForGroup: boolean;
  linksDown: string[];
  last: Transition | null;
  stats: Stats;
}

/** Observers of a machine (its sync group): transitions, and changes of its own fault state. */
export interface Observer {
  transition?(t: Transition, m: Machine): void;
  faults?(m: Machine): void;
}

function bad(message: string): never {
  throw new WeirError("WEIR_ERR_BAD_VRRP", message);
}

const DEFAULT_GARP_DELAY_US = 5_000_000;
const MAX_PREEMPT_DELAY_US = 1000 * 1_000_000;
const MTU = 1500;

/**
 * An advert_int in seconds as keepalived takes it: v3 in centiseconds
 * (rounded to the nearest, 0.01–40.95 s), v2 in whole seconds (rounded half
 * up, 1–255 s). `rounded` says the value was changed (keepalived logs it).
 */
export function advertIntervalCs(version: Version, seconds: number): { cs: number; rounded: boolean } {
  if (!Number.isFinite(seconds) || seconds <= 0) bad(`advert_int ${seconds}: must be above 0`);
  if (version === 2) {
    const s = Math.min(MAX_INTERVAL_S_V2, Math.max(1, Math.floor(seconds + 0.5)));
    return { cs: s * 100, rounded: s !== seconds };
  }
  const cs = Math.min(MAX_INTERVAL_CS_V3, Math.max(1, Math.round(seconds * 100)));
  return { cs, rounded: Math.abs(cs - seconds * 100) > 1e-6 };
}

/** Skew_Time in µs, keepalived's integer arithmetic (VRRP_TIMER_SKEW). */
export function skewTimeUs(version: Version, priority: number, masterAdverCs: number): number {
  if (version === 2) return Math.floor(((256 - priority) * 1_000_000) / 256);
  return Math.floor(((256 - priority) * masterAdverCs * 625) / 16);
}

/** Master_Down_Interval in µs. */
export function masterDownIntervalUs(version: Version, priority: number, masterAdverCs: number): number {
  return 3 * masterAdverCs * 10_000 + skewTimeUs(version, priority, masterAdverCs);
}

/** Compares two addresses of one family as unsigned numbers (the RFC's "greater primary address"). */
export function compareAddr(a: string, b: string, family: Family): number {
  const x = addrBytes(a, family);
  const y = addrBytes(b, family);
  for (let i = 0; i < x.length; i++) if (x[i] !== y[i]) return x[i] - y[i];
  return 0;
}

/** Fills the defaults in and checks every field; throws BAD_VRRP naming the instance and the field. */
export function checkConfig(c: InstanceConfig): Instance {
  const at = `vrrp instance ${c.name}`;
  if (!c.name || /\s/.test(c.name)) bad(`instance name '${c.name}': a non-empty word`);
  if (!c.interface) bad(`${at}: no interface`);
  const version = c.version ?? 3;
  if (version !== 2 && version !== 3) bad(`${at}: version ${version} (2 or 3)`);
  if (!Number.isInteger(c.vrid) || c.vrid < 1 || c.vrid > 255) bad(`${at}: virtual_router_id ${c.vrid} (1-255)`);
  const priority = c.priority ?? 100;
  if (!Number.isInteger(priority) || priority < 1 || priority > 255) bad(`${at}: priority ${priority} (1-255)`);
  const intervalCs = c.intervalCs ?? 100;
  if (version === 3 && (!Number.isInteger(intervalCs) || intervalCs < 1 || intervalCs > MAX_INTERVAL_CS_V3)) {
    bad(`${at}: advert_int ${intervalCs / 100} s (0.01-${MAX_INTERVAL_CS_V3 / 100} s in version 3)`);
  }
  if (version === 2 && (!Number.isInteger(intervalCs) || intervalCs % 100 !== 0 || intervalCs < 100 || intervalCs > MAX_INTERVAL_S_V2 * 100)) {
    bad(`${at}: advert_int ${intervalCs / 100} s (whole seconds, 1-${MAX_INTERVAL_S_V2}, in version 2)`);
  }
  if (c.addresses.length === 0) bad(`${at}: no virtual_ipaddress`);
  const family: Family = c.addresses[0].includes(":") ? 6 : 4;
  if (version === 2 && family === 6) bad(`${at}: version 2 is IPv4 only`);
  const addresses = c.addresses.map((a) => canonical(a, family, `${at}: virtual_ipaddress`));
  if (new Set(addresses).size !== addresses.length) bad(`${at}: a virtual_ipaddress given twice`);
  if (c.addresses.length > 255 || 40 + advertLength(version, family, addresses.length) > MTU) {
    bad(`${at}: ${addresses.length} virtual addresses do not fit one advert`);
  }
  const primary = canonical(c.primary, family, `${at}: primary address`);
  const unicastPeers = (c.unicastPeers ?? []).map((p) => canonical(p, family, `${at}: unicast_peer`));
  const preempt = c.preempt ?? true;
  const startMaster = c.startMaster ?? false;
  if (startMaster && !preempt) bad(`${at}: nopreempt needs state BACKUP`);
  const preemptDelayUs = c.preemptDelayUs ?? 0;
  if (!Number.isInteger(preemptDelayUs) || preemptDelayUs < 0 || preemptDelayUs > MAX_PREEMPT_DELAY_US) bad(`${at}: preempt_delay (0-1000 s)`);
  const garpRepeat = c.garpRepeat ?? 5;
  if (!Number.isInteger(garpRepeat) || garpRepeat < 0 || garpRepeat > 255) bad(`${at}: garp_master_repeat ${garpRepeat} (0-255)`);
  const garpDelayUs = c.garpDelayUs ?? DEFAULT_GARP_DELAY_US;
  if (!Number.isInteger(garpDelayUs) || garpDelayUs < 0) bad(`${at}: garp_master_delay`);
  return {
    name: c.name, interface: c.interface, version, family, vrid: c.vrid, priority, intervalCs, addresses, primary,
    preempt, preemptDelayUs, startMaster, unicastPeers, trackInterfaces: [...new Set(c.trackInterfaces ?? [])],
    garpRepeat, garpDelayUs,
  };
}

/** keys.ts's normal form of an address of `family`; BAD_VRRP naming the field otherwise. */
function canonical(text: string, family: Family, what: string): string {
  try {
    return addrText(addrBytes(text, family));
  } catch {
    return bad(`${what} '${text}' is not an IPv${family} address`);
  }
}

export class Machine {
  readonly cfg: Instance;
  private st: State = "INIT";
  private masterAdverCs: number;
  private cancelMain: (() => void) | null = null;
  private cancelGarp: (() => void) | null = null;
  private downAt: number | null = null;
  /** keepalived's preempt_time: until then a lower-priority master is not preempted (0: no delay running). */
  private preemptTime = 0;
  /** What becoming master next would be for: master_down, priority_zero or preempt. */
  private pending: Reason = "master_down";
  private masterAddr: string | null = null;
  private masterPrio: number | null = null;
  private waiting = false;
  private readonly links: Set<string>;
  private readonly down = new Set<string>();
  /** Held in FAULT by the sync group (another member's link is down): the reason's detail. */
  private hold: string | null = null;
  private last: Transition | null = null;
  private readonly observers: Observer[] = [];
  private readonly counters: Stats = {
    advertsSent: 0, advertsReceived: 0, priorityZeroSent: 0, priorityZeroReceived: 0, becameMaster: 0, releasedMaster: 0, rejected: {},
  };
  /** Set by a sync group: may this member become master now? */
  gate: ((m: Machine) => boolean) | null = null;
  /** The sync group this instance is in (group.ts). */
  group: string | null = null;

  constructor(config: InstanceConfig, private readonly clock: Scheduler, private readonly out: (a: Action) => void) {
    this.cfg = checkConfig(config);
    this.masterAdverCs = this.cfg.intervalCs;
    this.links = new Set([this.cfg.interface, ...this.cfg.trackInterfaces]);
  }

  get state(): State {
    return this.st;
  }

  get name(): string {
    return this.cfg.name;
  }

  /** True while a tracked link of its own is down (a sync group's hold aside). */
  get ownFault(): boolean {
    return this.down.size > 0;
  }

  get waitingForGroup(): boolean {
    return this.waiting;
  }

  observe(o: Observer): () => void {
    this.observers.push(o);
    return () => {
      const i = this.observers.indexOf(o);
      if (i >= 0) this.observers.splice(i, 1);
    };
  }

  // ------------------------------------------------------------- events

  /** Startup (RFC 5798 §6.4.1): the owner or `state MASTER` goes master, others listen as BACKUP; FAULT if a link is down. */
  start(): void {
    if (this.st !== "INIT") return;
    const now = this.clock.now();
    this.preemptTime = this.cfg.preemptDelayUs > 0 ? now + this.cfg.preemptDelayUs : 0;
    this.masterAddr = null;
    this.masterPrio = null;
    if (this.faulted()) return this.enterFault(this.faultReason(), this.faultDetail());
    if (this.cfg.priority === 255) return this.tryMaster("address_owner", "priority 255");
    if (this.cfg.startMaster) return this.tryMaster("configured_master", "state MASTER");
    this.toBackup("startup", `Master_Down_Interval ${masterDownIntervalUs(this.cfg.version, this.cfg.priority, this.masterAdverCs) / 1000} ms`);
  }

  /** Shutdown: a master sends priority 0 and releases its addresses; every state goes to INIT. */
  shutdown(): void {
    if (this.st === "INIT") return;
    const was = this.st;
    this.stopTimers();
    this.waiting = false;
    this.transition("INIT", "shutdown", was === "MASTER" ? "sent priority 0" : "");
    if (was === "MASTER") this.leaveMaster(true);
  }

  /**
   * An advert received on the instance's link, decoded by packet.ts, from
   * `src` (the IP source). Returns null when it was taken (whatever it
   * changed), or the reason it was refused: the per-instance checks of RFC
   * 5798 §7.1 / RFC 3768 §7.1.
   */
  receive(a: Advert, src: string): RejectReason | null {
    const why = this.check(a, src);
    if (why) {
      this.counters.rejected[why] = (this.counters.rejected[why] ?? 0) + 1;
      return why;
    }
    this.counters.advertsReceived++;
    if (a.priority === 0) this.counters.priorityZeroReceived++;
    if (this.st === "BACKUP") this.backupReceive(a, src);
    else if (this.st === "MASTER") this.masterReceive(a, src);
    // INIT and FAULT ignore adverts (keepalived's FAULT neither sends nor listens).
    return null;
  }

  /** A link went down (carrier lost or set down): a tracked one makes the instance FAULT. */
  linkDown(link: string): void {
    if (!this.links.has(link) || this.down.has(link)) return;
    this.down.add(link);
    this.notifyFaults();
    if (this.st !== "INIT" && this.st !== "FAULT") this.enterFault("link_down", `link ${link} down`);
  }

  /** A link came back: when every tracked link is up (and the sync group allows), FAULT → BACKUP. */
  linkUp(link: string): void {
    if (!this.down.delete(link)) return;
    this.notifyFaults();
    if (this.st === "FAULT" && !this.faulted()) this.leaveFault("link_up", `link ${link} up`);
  }

  // ------------------------------------------------ sync group controls

  /** Held in FAULT by the sync group (detail: which member, which link), or released (null). */
  setHold(detail: string | null): void {
    if (this.hold === detail) return;
    this.hold = detail;
    if (this.st === "INIT") return;
    if (detail !== null && this.st !== "FAULT") this.enterFault("sync_group", detail);
    else if (detail === null && this.st === "FAULT" && !this.faulted()) this.leaveFault("sync_group", "its sync group left FAULT");
  }

  /** The group moved to BACKUP: a MASTER member follows (no priority 0: the peer takes over by its own timers). */
  forceBackup(detail: string): void {
    if (this.st !== "MASTER") return;
    this.stopTimers();
    this.transition("BACKUP", "sync_group", detail);
    this.leaveMaster(false);
    this.masterAddr = null;
    this.masterPrio = null;
    this.armDown(this.mdi());
  }

  /** The group moved to MASTER: a member waiting for it goes too. */
  forceMaster(detail: string): void {
    if (this.st !== "BACKUP" || !this.waiting) return;
    this.becomeMaster("sync_group", detail);
  }

  // ------------------------------------------------------------- status

  status(): Status {
    return {
      name: this.cfg.name, interface: this.cfg.interface, vrid: this.cfg.vrid, version: this.cfg.version, family: this.cfg.family,
      state: this.st, priority: this.cfg.priority,
      master: this.st === "MASTER" ? this.cfg.primary : this.st === "BACKUP" ? this.masterAddr : null,
      masterPriority: this.st === "MASTER" ? this.cfg.priority : this.st === "BACKUP" ? this.masterPrio : null,
      masterAdverCs: this.masterAdverCs,
      masterDownAt: this.st === "BACKUP" ? this.downAt : null,
      waitingForGroup: this.waiting,
      linksDown: [...this.down],
      last: this.last,
      stats: { ...this.counters, rejected: { ...this.counters.rejected } },
    };
  }

  /** Skew_Time now (µs): with the Master_Adver_Interval in use. */
  skewUs(): number {
    return skewTimeUs(this.cfg.version, this.cfg.priority, this.masterAdverCs);
  }

  /** Master_Down_Interval now (µs). */
  mdi(): number {
    return masterDownIntervalUs(this.cfg.version, this.cfg.priority, this.masterAdverCs);
  }

  // ------------------------------------------------------------ checks

  private check(a: Advert, src: string): RejectReason | null {
    const c = this.cfg;
    if (a.family !== c.family || a.vrid !== c.vrid) return "unknown_vrid";
    if (a.version !== c.version) return "version_mismatch";
    if (src === c.primary) return "loop";
    if (c.unicastPeers.length > 0 && !c.unicastPeers.includes(src)) return "unknown_peer";
    if (c.priority === 255) return "local_owner";
    // RFC 5798 §7.1: the address list MAY be checked; when it does not match, only the owner's advert is taken.
    if (a.priority !== 255 && !sameAddresses(a.addresses, c.addresses)) return "addr_mismatch";
    if (c.version === 2 && a.intervalCs !== c.intervalCs) return "interval_mismatch";
    return null;
  }

  // --------------------------------------------------- RFC 5798 §6.4.2

  private backupReceive(a: Advert, src: string): void {
    const now = this.clock.now();
    const c = this.cfg;
    if (a.priority === 0) {
      // The master is leaving: take over after Skew_Time only.
      this.pending = "priority_zero";
      this.masterAddr = src;
      this.masterPrio = 0;
      this.armDown(this.skewUs());
      return;
    }
    const delaying = c.preemptDelayUs > 0 && (this.preemptTime === 0 || now < this.preemptTime);
    if (!c.preempt || a.priority >= c.priority || delaying) {
      if (c.version === 3) this.masterAdverCs = a.intervalCs;
      this.masterAddr = src;
      this.masterPrio = a.priority;
      this.pending = "master_down";
      this.waiting = false;
      if (c.preemptDelayUs > 0) {
        if (a.priority >= c.priority) this.preemptTime = 0;
        else if (this.preemptTime === 0) this.preemptTime = now + c.preemptDelayUs;
      }
      this.armDown(this.mdi());
      return;
    }
    // Preempt: a lower-priority master's advert is discarded; our timer runs out and we take over.
    this.masterAddr = src;
    this.masterPrio = a.priority;
    this.pending = "preempt";
  }

  // --------------------------------------------------- RFC 5798 §6.4.3

  private masterReceive(a: Advert, src: string): void {
    const c = this.cfg;
    if (a.priority === 0) {
      // Another master stopped: assert ourselves at once.
      this.sendAdvert(c.priority);
      this.armAdver();
      return;
    }
    const higher = a.priority > c.priority;
    if (higher || (a.priority === c.priority && compareAddr(src, c.primary, c.family) > 0)) {
      this.stopTimers();
      if (c.version === 3) this.masterAdverCs = a.intervalCs;
      this.masterAddr = src;
      this.masterPrio = a.priority;
      this.pending = "master_down";
      this.transition("BACKUP", higher ? "higher_priority" : "higher_address", `${src} priority ${a.priority}, ours ${c.priority}`);
      this.leaveMaster(false);
      this.armDown(this.mdi());
    }
    // A lower priority (or an equal one from a lower address) is discarded, as
    // RFC 5798 says. keepalived answers one with an advert at once ("forcing
    // new election"); the other master hears our next one within an interval.
  }

  // -------------------------------------------------------- transitions

  private tryMaster(reason: Reason, detail: string): void {
    if (this.gate && !this.gate(this)) {
      // The sync group is not ready: stay BACKUP until it promotes us or a master speaks up.
      if (this.st !== "BACKUP") this.transition("BACKUP", reason === "master_down" ? "startup" : reason, `${detail}; waiting for sync group ${this.group}`);
      this.waiting = true;
      this.downAt = null;
      return;
    }
    this.becomeMaster(reason, detail);
  }

  private becomeMaster(reason: Reason, detail: string): void {
    const c = this.cfg;
    this.stopTimers();
    this.waiting = false;
    this.masterAdverCs = c.intervalCs;
    this.preemptTime = 0;
    this.masterAddr = c.primary;
    this.masterPrio = c.priority;
    this.counters.becameMaster++;
    this.transition("MASTER", reason, detail);
    // RFC 5798 §6.4.2: advertise, then announce the addresses; they must be ours when the announcements land.
    this.sendAdvert(c.priority);
    this.out({ kind: "own", addresses: [...c.addresses] });
    if (c.garpRepeat > 0) {
      this.out({ kind: "announce", addresses: [...c.addresses], repeat: c.garpRepeat });
      if (c.garpDelayUs > 0) {
        this.cancelGarp = this.clock.at(this.clock.now() + c.garpDelayUs, () => {
          this.cancelGarp = null;
          if (this.st === "MASTER") this.out({ kind: "announce", addresses: [...c.addresses], repeat: c.garpRepeat });
        });
      }
    }
    this.armAdver();
  }

  private toBackup(reason: Reason, detail: string): void {
    this.masterAdverCs = this.cfg.intervalCs;
    this.pending = "master_down";
    this.transition("BACKUP", reason, detail);
    this.armDown(this.mdi());
  }

  /** Leaving MASTER: optionally a priority-0 advert (stop, fault), then the addresses go. */
  private leaveMaster(priorityZero: boolean): void {
    if (priorityZero) this.sendAdvert(0);
    this.counters.releasedMaster++;
    this.out({ kind: "release", addresses: [...this.cfg.addresses] });
    this.masterAdverCs = this.cfg.intervalCs;
  }

  private enterFault(reason: Reason, detail: string): void {
    const was = this.st;
    this.stopTimers();
    this.waiting = false;
    this.masterAddr = null;
    this.masterPrio = null;
    this.transition("FAULT", reason, was === "MASTER" ? `${detail}; sent priority 0` : detail);
    // keepalived: a master that faults sends priority 0, so the peer takes over after Skew_Time.
    if (was === "MASTER") this.leaveMaster(true);
  }

  private leaveFault(reason: Reason, detail: string): void {
    if (this.cfg.priority === 255) return this.tryMaster("address_owner", `${detail}; priority 255`);
    this.toBackup(reason, detail);
  }

  private faulted(): boolean {
    return this.down.size > 0 || this.hold !== null;
  }

  private faultReason(): Reason {
    return this.down.size > 0 ? "link_down" : "sync_group";
  }

  private faultDetail(): string {
    return this.down.size > 0 ? `link ${[...this.down].join(", ")} down` : (this.hold ?? "");
  }

  private transition(to: State, reason: Reason, detail: string): void {
    const t: Transition = { instance: this.cfg.name, at: this.clock.now(), from: this.st, to, reason, detail };
    this.st = to;
    this.last = t;
    if (to !== "BACKUP") this.downAt = null;
    this.out({ kind: "transition", transition: t });
    for (const o of [...this.observers]) o.transition?.(t, this);
  }

  private notifyFaults(): void {
    for (const o of [...this.observers]) o.faults?.(this);
  }

  // ------------------------------------------------------------- timers

  private stopTimers(): void {
    this.cancelMain?.();
    this.cancelMain = null;
    this.cancelGarp?.();
    this.cancelGarp = null;
    this.downAt = null;
  }

  /** Master_Down_Timer := us from now. */
  private armDown(us: number): void {
    this.cancelMain?.();
    const at = this.clock.now() + us;
    this.downAt = at;
    this.cancelMain = this.clock.at(at, () => {
      this.cancelMain = null;
      this.downAt = null;
      if (this.st !== "BACKUP") return;
      const why = this.pending;
      const detail =
        why === "priority_zero" ? `${this.masterAddr} sent priority 0`
        : why === "preempt" ? `${this.masterAddr} priority ${this.masterPrio}, ours ${this.cfg.priority}`
        : this.masterAddr ? `last advert from ${this.masterAddr}` : "no advert heard";
      this.tryMaster(why, detail);
    });
  }

  /** Adver_Timer := Advertisement_Interval from now. */
  private armAdver(): void {
    this.cancelMain?.();
    this.cancelMain = this.clock.at(this.clock.now() + this.cfg.intervalCs * 10_000, () => {
      this.cancelMain = null;
      if (this.st !== "MASTER") return;
      this.sendAdvert(this.cfg.priority);
      this.armAdver();
    });
  }

  private sendAdvert(priority: number): void {
    const c = this.cfg;
    this.counters.advertsSent++;
    if (priority === 0) this.counters.priorityZeroSent++;
    const advert: Advert = { version: c.version, family: c.family, vrid: c.vrid, priority, intervalCs: c.intervalCs, addresses: [...c.addresses] };
    const to = c.unicastPeers.length > 0 ? [...c.unicastPeers] : [c.family === 4 ? GROUP4 : GROUP6];
    this.out({ kind: "advert", advert, to });
  }
}

function sameAddresses(a: string[], b: string[]): boolean {
  if (a.length !== b.length) return false;
  const s = new Set(a);
  return b.every((x) => s.has(x));
}
