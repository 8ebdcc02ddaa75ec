// A Draft is the next configuration being built: every change is checked
// here, completely, against the draft so far; nothing reaches the data plane
// until the model commits the whole draft (model.ts). A failed check throws
// and leaves the draft as it was before that change.

import type { FwdName } from "../dataplane/dataplane.js";
import { parseMac } from "../dataplane/addr.js";
import { inPrefix, maxLen, networkOf, type Family, type Prefix } from "./addr.js";
import { fail } from "../errors.js";
import { destId, hostPort, serviceId, svcKeyOption, type SvcKey } from "../keys.js";
import {
  MAX_PERSISTENCE, MAX_TIMEOUT, SCHEDULERS,
  type AddrConf, type ConfigState, type VipConf, type DestConf, type LinkConf, type MarkRule, type RouteConf, type ServiceConf, type Timeouts,
} from "./state.js";

/** What a draft needs to know about its surroundings. */
export interface DraftEnv {
  /** True when the data plane can run this scheduler. */
  schedulerAvailable(name: string): boolean;
  /** MAC and MTU of a host interface, when it exists. */
  hostLink(name: string): { mac: string; mtu: number } | null;
  /** The sorry server of a service (health checking), if one is set. */
  sorryKey(svc: string): string | null;
}

export interface ServiceIn {
  key: SvcKey;
  scheduler: string;
  flags: number;
  /** Seconds; 0 for none. */
  persistent: number;
  /** Prefix length; absent for the default (/32, /128). */
  netmask?: number;
  onePacket: boolean;
}

export interface DestIn {
  af: Family;
  addr: string;
  /** null: the service's port, as ipvsadm does for -r ADDR without a port. */
  port: number | null;
  fwd: FwdName;
  weight: number;
  uThreshold: number;
  lThreshold: number;
}

export const MAX_LINKS = 64;
const IFNAME = /^[A-Za-z0-9_.:@-]{1,15}$/;

export class Draft {
  readonly services: Map<string, ServiceConf>;
  marks: MarkRule[];
  readonly links: Map<string, LinkConf>;
  nextLinkId: number;
  addrs: AddrConf[];
  routes: RouteConf[];
  vips: VipConf[];
  timeouts: Timeouts;
  /** Services (by serviceId) whose data-plane form may have changed. */
  readonly dirty = new Set<string>();
  marksDirty = false;
  netDirty = false;
  /** Services created by this draft, whose real-server maps it may write in place. */
  private readonly ownDests = new WeakSet<ServiceConf>();

  constructor(readonly base: ConfigState, private readonly env: DraftEnv) {
    this.services = new Map(base.services);
    this.marks = base.marks.slice();
    this.links = new Map(base.links);
    this.nextLinkId = base.nextLinkId;
    this.addrs = base.addrs.slice();
    this.routes = base.routes.slice();
    this.vips = base.vips.slice();
    this.timeouts = { ...base.timeouts };
  }

  state(): ConfigState {
    return {
      services: this.services, marks: this.marks, links: this.links, nextLinkId: this.nextLinkId,
      addrs: this.addrs, routes: this.routes, vips: this.vips, timeouts: this.timeouts,
    };
  }

  /** Marks everything changed (a whole new configuration, or an undo). */
  touchAll(other: ConfigState): void {
    for (const k of this.services.keys()) this.dirty.add(k);
    for (const k of other.services.keys()) this.dirty.add(k);
    this.marksDirty = true;
    this.netDirty = true;
  }

  // ---- virtual services (ipvsadm -A -E -D -C) ----

  private checkService(s: ServiceIn): ServiceConf {
    const name = () => svcKeyOption(s.key);
    if (!(SCHEDULERS as readonly string[]).includes(s.scheduler)) fail("UNKNOWN_SCHEDULER", `unknown scheduler '${s.scheduler}'`);
    if (!this.env.schedulerAvailable(s.scheduler)) fail("UNKNOWN_SCHEDULER", `scheduler '${s.scheduler}' is not available in this data plane`);
    if (!Number.isInteger(s.persistent) || s.persistent < 0 || s.persistent > MAX_PERSISTENCE) {
      fail("BAD_TIMEOUT", `invalid persistence timeout '${s.persistent}' (1-${MAX_PERSISTENCE})`);
    }
    if (s.key.kind !== "fwmark" && s.key.port === 0 && s.persistent === 0) {
      fail("ZERO_PORT", `zero port specified for non-persistent service ${name()}`);
    }
    if (s.onePacket && s.key.kind === "tcp") fail("ONE_PACKET", `one-packet scheduling (-o) is only for UDP and fwmark services, not ${name()}`);
    const full = maxLen(s.key.af);
    const netmask = s.persistent > 0 ? s.netmask ?? full : full;
    // IPv4 takes /0 (-M 0.0.0.0: one group for every client); ipvsadm takes IPv6 prefixes from 1.
    if (netmask < (s.key.af === 4 ? 0 : 1) || netmask > full) fail("BAD_NETMASK", `invalid netmask /${netmask} for ${name()}`);
    return { key: s.key, scheduler: s.scheduler, flags: s.flags, persistent: s.persistent, netmask, onePacket: s.onePacket, dests: new Map() };
  }

  private find(key: SvcKey): ServiceConf {
    const s = this.services.get(serviceId(key));
    if (!s) fail("NO_SUCH_SERVICE", `no such service: ${svcKeyOption(key)}`);
    return s;
  }

  addService(s: ServiceIn): void {
    const k = serviceId(s.key);
    if (this.services.has(k)) fail("SERVICE_EXISTS", `service already exists: ${svcKeyOption(s.key)}`);
    this.services.set(k, this.checkService(s));
    this.dirty.add(k);
  }

  /** ipvsadm -E: the service's settings are replaced as a whole (unset ones take their defaults). */
  editService(s: ServiceIn): void {
    const cur = this.find(s.key);
    const next = this.checkService(s);
    const k = serviceId(s.key);
    this.services.set(k, { ...next, dests: cur.dests });
    this.dirty.add(k);
  }

  deleteService(key: SvcKey): void {
    this.find(key);
    const k = serviceId(key);
    this.services.delete(k);
    this.dirty.add(k);
  }

  clearServices(): void {
    for (const k of this.services.keys()) this.dirty.add(k);
    this.services.clear();
  }

  // ---- real servers (ipvsadm -a -e -d) ----

  /** The real server as it would be stored in service key (checked, port normalised). */
  destFor(key: SvcKey, d: DestIn): DestConf { return this.checkDest(this.find(key), d); }

  private checkDest(svc: ServiceConf, d: DestIn): DestConf {
    const sk = svc.key;
    const shown = () => (d.port === null ? (d.af === 6 ? `[${d.addr}]` : d.addr) : hostPort(d.addr, d.port));
    if (sk.kind !== "fwmark" && d.af !== sk.af) {
      fail("ADDRESS_FAMILY", `real server ${shown()} is not of the address family of ${svcKeyOption(sk)}`);
    }
    if (d.fwd === "tun" && d.af !== 4) fail("ADDRESS_FAMILY", `tunneling (-i) carries IPv4 only, not ${shown()}`);
    if (!Number.isInteger(d.weight) || d.weight < 0 || d.weight > 65535) fail("BAD_WEIGHT", `invalid weight '${d.weight}' (0-65535)`);
    for (const t of [d.uThreshold, d.lThreshold]) {
      if (!Number.isInteger(t) || t < 0 || t > 0x7fffffff) fail("BAD_THRESHOLD", `invalid threshold '${t}'`);
    }
    const svcPort = sk.kind === "fwmark" ? 0 : sk.port;
    // DR and TUN cannot change the port: ipvsadm sends the service's port for
    // them, except for a fwmark service, whose real servers keep the port given.
    const port = d.fwd === "nat" || sk.kind === "fwmark" ? d.port ?? svcPort : svcPort;
    return { af: d.af, addr: d.addr, port, fwd: d.fwd, weight: d.weight, uThreshold: d.uThreshold, lThreshold: d.lThreshold };
  }

  /** Copies a service's real servers on the first change in this draft; later changes write the copy. */
  private writeDests(svc: ServiceConf, fn: (m: Map<string, DestConf>) => void): void {
    const k = serviceId(svc.key);
    if (this.ownDests.has(svc)) {
      fn(svc.dests as Map<string, DestConf>);
    } else {
      const dests = new Map(svc.dests);
      fn(dests);
      const copy = { ...svc, dests };
      this.ownDests.add(copy);
      this.services.set(k, copy);
    }
    this.dirty.add(k);
  }

  addDest(key: SvcKey, d: DestIn): void {
    const svc = this.find(key);
    const conf = this.checkDest(svc, d);
    const dk = destId(conf);
    if (svc.dests.has(dk)) fail("DEST_EXISTS", `real server already exists: ${dk} in ${svcKeyOption(key)}`);
    if (this.env.sorryKey(serviceId(key)) === dk) fail("DEST_EXISTS", `real server ${dk} is the sorry server of ${svcKeyOption(key)}`);
    this.writeDests(svc, (m) => m.set(dk, conf));
  }

  /** ipvsadm -e: forwarding, weight and thresholds replaced as given (defaults: -g, -w 1, no thresholds). */
  editDest(key: SvcKey, d: DestIn): void {
    const svc = this.find(key);
    const conf = this.checkDest(svc, d);
    const dk = destId(conf);
    if (!svc.dests.has(dk)) fail("NO_SUCH_DEST", `no such real server: ${dk} in ${svcKeyOption(key)}`);
    this.writeDests(svc, (m) => m.set(dk, conf));
  }

  deleteDest(key: SvcKey, d: Pick<DestIn, "af" | "addr" | "port" | "fwd">): void {
    const svc = this.find(key);
    const svcPort = svc.key.kind === "fwmark" ? 0 : svc.key.port;
    // ipvsadm -d sends -r's port (or the service's); a -t/-u service's DR/TUN
    // servers sit at the service's port, a fwmark service's at their own.
    const candidates = svc.key.kind === "fwmark" ? [d.port ?? 0] : [d.port ?? svcPort, svcPort];
    const dk = candidates.map((p) => destId({ addr: d.addr, port: p })).find((k) => svc.dests.has(k));
    if (!dk) fail("NO_SUCH_DEST", `no such real server: ${destId({ addr: d.addr, port: d.port ?? svcPort })} in ${svcKeyOption(key)}`);
    this.writeDests(svc, (m) => m.delete(dk));
  }

  // ---- connection timeouts (ipvsadm --set) ----

  /** 0 keeps a value, as ipvsadm --set does. */
  setTimeouts(t: Timeouts): void {
    for (const [name, v] of Object.entries(t)) {
      if (!Number.isInteger(v) || v < 0 || v > MAX_TIMEOUT) fail("BAD_TIMEOUT", `invalid ${name} timeout '${v}' (0-${MAX_TIMEOUT})`);
    }
    this.timeouts = {
      tcp: t.tcp || this.timeouts.tcp, tcpfin: t.tcpfin || this.timeouts.tcpfin, udp: t.udp || this.timeouts.udp,
    };
  }

  // ---- firewall-mark rules (iptables -t mangle … -j MARK) ----

  insertMark(r: MarkRule, at = this.marks.length): void {
    if (r.len > maxLen(r.af)) fail("BAD_PREFIX", `invalid prefix length '${r.len}'`);
    if (!Number.isInteger(r.mark) || r.mark < 1 || r.mark > 0xffffffff) fail("BAD_FWMARK", `invalid mark '${r.mark}'`);
    if (r.ports && (r.ports[0] > r.ports[1] || r.ports[1] > 65535)) fail("BAD_PORT", `invalid port range '${r.ports.join(":")}'`);
    if (at < 0 || at > this.marks.length) fail("BAD_INDEX", `index of insertion too big: ${at + 1}`);
    this.marks = [...this.marks.slice(0, at), { ...r, net: networkOf(r.af, r.net, r.len) }, ...this.marks.slice(at)];
    this.marksDirty = true;
  }

  deleteMark(r: MarkRule): void {
    const net = networkOf(r.af, r.net, r.len);
    const i = this.marks.findIndex((m) => m.af === r.af && m.proto === r.proto && m.net === net && m.len === r.len
      && m.mark === r.mark && (m.ports?.[0] ?? -1) === (r.ports?.[0] ?? -1) && (m.ports?.[1] ?? -1) === (r.ports?.[1] ?? -1));
    if (i < 0) fail("NO_SUCH_RULE", "no matching rule in PREROUTING");
    this.deleteMarkAt(i);
  }

  deleteMarkAt(i: number): void {
    if (i < 0 || i >= this.marks.length) fail("NO_SUCH_RULE", `index of deletion too big: ${i + 1}`);
    this.marks = this.marks.filter((_, j) => j !== i);
    this.marksDirty = true;
  }

  flushMarks(): void {
    this.marks = [];
    this.marksDirty = true;
  }

  // ---- links, addresses, routes (ip …) ----

  link(name: string): LinkConf {
    const l = this.links.get(name);
    if (!l) fail("NO_SUCH_DEVICE", `device '${name}' does not exist`);
    return l;
  }

  /** The link named DEV, given the next data-plane id on first use. */
  ensureLink(name: string): LinkConf {
    const cur = this.links.get(name);
    if (cur) return cur;
    if (!IFNAME.test(name)) fail("BAD_DEVICE", `invalid device name '${name}'`);
    if (this.nextLinkId >= MAX_LINKS) fail("TOO_MANY_LINKS", `too many links (at most ${MAX_LINKS}): '${name}'`);
    const id = this.nextLinkId++;
    const host = this.env.hostLink(name);
    const l: LinkConf = {
      name, id, mac: host?.mac ?? generatedMac(id), mtu: host?.mtu ?? 1500, up: false, mtuSet: false, macSet: false,
    };
    this.links.set(name, l);
    this.netDirty = true;
    return l;
  }

  linkSet(name: string, s: { up?: boolean; mtu?: number; mac?: string }): void {
    if (s.mtu !== undefined && (!Number.isInteger(s.mtu) || s.mtu < 68 || s.mtu > 65535)) fail("BAD_MTU", `invalid mtu '${s.mtu}' (68-65535)`);
    let mac: string | undefined;
    if (s.mac !== undefined) {
      try { parseMac(s.mac); } catch { fail("BAD_MAC", `invalid link-layer address '${s.mac}'`); }
      mac = s.mac.toLowerCase();
      if ((parseInt(mac.slice(0, 2), 16) & 1) !== 0) fail("BAD_MAC", `link-layer address '${s.mac}' is multicast`);
    }
    const l = this.ensureLink(name);
    this.links.set(name, {
      ...l,
      up: s.up ?? l.up,
      mtu: s.mtu ?? l.mtu, mtuSet: l.mtuSet || s.mtu !== undefined,
      mac: mac ?? l.mac, macSet: l.macSet || mac !== undefined,
    });
    this.netDirty = true;
  }

  addAddr(dev: string, p: Prefix): void {
    if (this.addrs.some((a) => a.dev === dev && a.af === p.af && a.addr === p.addr)) {
      fail("EXISTS", `address ${p.addr}/${p.len} already assigned to ${dev}`);
    }
    const vip = this.vips.find((v) => v.af === p.af && v.addr === p.addr);
    if (vip) fail("EXISTS", `address ${p.addr} is a virtual address of VRRP instance ${vip.instance} (on ${vip.dev})`);
    const net = networkOf(p.af, p.addr, p.len);
    const clash = this.routes.find((r) => r.af === p.af && r.len === p.len && r.net === net);
    if (clash) fail("EXISTS", `the network of ${p.addr}/${p.len} is already a static route (via ${clash.via ?? clash.dev})`);
    this.ensureLink(dev);
    this.addrs = [...this.addrs, { dev, af: p.af, addr: p.addr, len: p.len }];
    this.netDirty = true;
  }

  /** lenGiven: the A/LEN form was used, so the length must match too. */
  delAddr(dev: string, p: Prefix, lenGiven: boolean): void {
    this.link(dev);
    const i = this.addrs.findIndex((a) => a.dev === dev && a.af === p.af && a.addr === p.addr && (!lenGiven || a.len === p.len));
    if (i < 0) fail("NO_SUCH_ADDRESS", `address ${lenGiven ? `${p.addr}/${p.len}` : p.addr} not assigned to ${dev}`);
    this.addrs = this.addrs.filter((_, j) => j !== i);
    this.netDirty = true;
  }

  // ---- VRRP virtual addresses (vrrp instance …) ----

  /** Makes list the virtual addresses of instance on dev (replacing what it had); [] removes them. */
  setVips(instance: string, dev: string, list: Prefix[]): void {
    const seen = new Set<string>();
    for (const p of list) {
      const key = `${p.af}|${p.addr}`;
      if (seen.has(key)) fail("EXISTS", `virtual address ${p.addr} given twice`);
      seen.add(key);
      const a = this.addrs.find((x) => x.af === p.af && x.addr === p.addr);
      if (a) fail("EXISTS", `virtual address ${p.addr} is assigned to ${a.dev} with ip addr: an address is either the appliance's or a VRRP instance's`);
      const v = this.vips.find((x) => x.instance !== instance && x.af === p.af && x.addr === p.addr);
      if (v) fail("EXISTS", `virtual address ${p.addr} belongs to VRRP instance ${v.instance}`);
    }
    if (list.length) this.ensureLink(dev);
    this.vips = [...this.vips.filter((v) => v.instance !== instance), ...list.map((p) => ({ instance, dev, af: p.af, addr: p.addr, len: p.len }))];
    this.netDirty = true;
  }

  /** The address whose connected network holds gw (on dev when given). */
  private connectedFor(af: Family, gw: string, dev?: string): AddrConf | undefined {
    return this.addrs.find((a) => a.af === af && (dev === undefined || a.dev === dev) && a.len < maxLen(af) && inPrefix(af, gw, a.addr, a.len));
  }

  private connectedRoute(af: Family, net: string, len: number): AddrConf | undefined {
    return this.addrs.find((a) => a.af === af && a.len === len && networkOf(af, a.addr, a.len) === net);
  }

  addRoute(p: Prefix, via: { af: Family; addr: string } | undefined, dev: string | undefined): void {
    const text = `${p.addr}/${p.len}`;
    const net = networkOf(p.af, p.addr, p.len);
    if (net !== p.addr) fail("BAD_PREFIX", `invalid prefix '${text}': host bits set`);
    if (dev !== undefined) this.link(dev);
    if (via && via.af !== p.af) fail("ADDRESS_FAMILY", `gateway '${via.addr}' is not of the address family of '${text}'`);
    if (!via && dev === undefined) fail("MISSING_ARGUMENT", `route ${text} needs 'via GATEWAY' or 'dev DEVICE'`);
    let out = dev;
    if (via) {
      const c = this.connectedFor(p.af, via.addr, dev);
      if (!c) fail("BAD_GATEWAY", `gateway ${via.addr} is not on a connected network${dev ? ` of ${dev}` : ""}`);
      out = c.dev;
    }
    if (this.routes.some((r) => r.af === p.af && r.net === net && r.len === p.len) || this.connectedRoute(p.af, net, p.len)) {
      fail("EXISTS", `route ${text} already exists`);
    }
    this.routes = [...this.routes, { af: p.af, net, len: p.len, via: via?.addr, dev: out! }];
    this.netDirty = true;
  }

  delRoute(p: Prefix, via: string | undefined, dev: string | undefined): void {
    const text = `${p.addr}/${p.len}`;
    const net = networkOf(p.af, p.addr, p.len);
    const i = this.routes.findIndex((r) => r.af === p.af && r.net === net && r.len === p.len
      && (via === undefined || r.via === via) && (dev === undefined || r.dev === dev));
    if (i < 0) {
      const c = this.connectedRoute(p.af, net, p.len);
      if (c) fail("CONNECTED_ROUTE", `route ${text} is the connected route of ${c.dev}: delete the address instead`);
      fail("NO_SUCH_ROUTE", `no such route: ${text}`);
    }
    this.routes = this.routes.filter((_, j) => j !== i);
    this.netDirty = true;
  }
}

/** A locally administered MAC for a link with no host interface behind it. */
function generatedMac(id: number): string {
  return `02:77:65:69:72:${id.toString(16).padStart(2, "0")}`;
}
