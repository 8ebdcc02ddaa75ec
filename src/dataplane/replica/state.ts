// What a stream of ops (ops.ts) leaves configured, kept up to date op by op:
// the services and real servers (for the workers' counters and steering) and
// everything else, so that a long history of changes (health checks flapping
// weights for months) can be replaced by the few ops that build the same
// state from scratch (snapshotOps), which is what a restarted worker replays.

import type { DestSpec, ServiceKey, ServiceSpec } from "../dataplane.js";
import { destId, serviceId, type DpOp, type TxOp } from "./ops.js";
import { normalAddr } from "../../keys.js";

type Args<M extends DpOp["m"]> = Extract<DpOp, { m: M }> extends { a: infer A } ? A : never;
type MarkRule = Extract<TxOp, { m: "addMarkRule" }>["a"][0];

interface ServiceEntry { key: ServiceKey; spec: ServiceSpec; dests: Map<string, DestSpec>; }

export class MirrorState {
  readonly services = new Map<string, ServiceEntry>();
  private timeouts: { tcp?: number; tcpfin?: number; udp?: number } = {};
  private readonly links = new Map<number, Args<"setLink">[1]>();
  private readonly addrs = new Map<number, Map<string, string>>();
  /** Addresses in standby (setAddressOwned false) per link, by normalised address; an address is owned when added. */
  private readonly standby = new Map<number, Set<string>>();
  private readonly routes = new Map<string, [string, Args<"addRoute">[1]]>();
  private readonly neighbours = new Map<string, [number, string, string]>();
  private marks: MarkRule[] = [];
  /** Connection sync logging (setConnSync): a worker started later must log too. */
  private connSync = false;
  /** NAT real-server addresses with how many (service, real server) pairs use each. */
  private readonly natRefs = new Map<string, number>();
  /** Services that are persistent or firewall-mark based. */
  private special = 0;
  /** Changes whenever the set of NAT real-server addresses or byAddressOnly() changes. */
  steerVersion = 0;
  /** Changes whenever a service or real server comes or goes (their order is the counter snapshots' layout). */
  layoutVersion = 0;

  apply(op: DpOp): void {
    switch (op.m) {
      case "tx": for (const o of op.ops) this.applyTx(o); break;
      case "setTimeouts": {
        const t = op.a[0];
        // ipvsadm --set: 0 keeps the current value.
        for (const k of ["tcp", "tcpfin", "udp"] as const) if (t[k]) this.timeouts[k] = t[k];
        break;
      }
      case "setLink": this.links.set(op.a[0], op.a[1]); break;
      case "deleteLink": {
        const id = op.a[0];
        this.links.delete(id);
        this.addrs.delete(id);
        this.standby.delete(id);
        for (const [k, [, r]] of this.routes) if (r.link === id) this.routes.delete(k);
        for (const [k, [link]] of this.neighbours) if (link === id) this.neighbours.delete(k);
        break;
      }
      case "addAddress": {
        const [link, cidr] = op.a;
        let m = this.addrs.get(link);
        if (!m) this.addrs.set(link, (m = new Map()));
        m.set(cidr.split("/")[0], cidr);
        this.standby.get(link)?.delete(normalAddr(cidr.split("/")[0]));
        break;
      }
      case "deleteAddress":
        this.addrs.get(op.a[0])?.delete(op.a[1].split("/")[0]);
        this.standby.get(op.a[0])?.delete(normalAddr(op.a[1].split("/")[0]));
        break;
      case "setAddressOwned": {
        const [link, addr, owned] = op.a;
        const a = normalAddr(addr.split("/")[0]);
        let s = this.standby.get(link);
        if (owned) s?.delete(a);
        else {
          if (!s) this.standby.set(link, (s = new Set()));
          s.add(a);
        }
        break;
      }
      case "addRoute": this.routes.set(op.a[0], [op.a[0], op.a[1]]); break;
      case "deleteRoute": this.routes.delete(op.a[0]); break;
      case "setNeighbour": this.neighbours.set(`${op.a[0]} ${op.a[1]}`, [op.a[0], op.a[1], op.a[2]]); break;
      case "zeroStats": break;
      case "setConnSync": this.connSync = op.a[0]; break;
    }
  }

  private applyTx(o: TxOp): void {
    switch (o.m) {
      case "addService": case "editService": {
        const [k, spec] = o.a;
        const id = serviceId(k);
        const cur = this.services.get(id);
        if (cur) { this.countSpecial(cur, -1); cur.spec = spec; this.countSpecial(cur, 1); }
        else { const e = { key: k, spec, dests: new Map() }; this.services.set(id, e); this.countSpecial(e, 1); this.layoutVersion++; }
        break;
      }
      case "deleteService": {
        const id = serviceId(o.a[0]);
        const cur = this.services.get(id);
        if (!cur) break;
        this.countSpecial(cur, -1);
        for (const d of cur.dests.values()) this.countNat(d, -1);
        this.services.delete(id);
        this.layoutVersion++;
        break;
      }
      case "flush":
        for (const s of this.services.values()) { this.countSpecial(s, -1); for (const d of s.dests.values()) this.countNat(d, -1); }
        this.services.clear();
        this.layoutVersion++;
        break;
      case "addDest": case "editDest": {
        const s = this.services.get(serviceId(o.a[0]));
        if (!s) break;
        const id = destId(o.a[1]);
        const cur = s.dests.get(id);
        if (cur?.fwd !== o.a[1].fwd) {
          if (cur) this.countNat(cur, -1);
          this.countNat(o.a[1], 1);
        }
        // editDest keeps the real server's place in the list (schedulers' order), addDest appends.
        if (!cur) this.layoutVersion++;
        s.dests.set(id, o.a[1]);
        break;
      }
      case "deleteDest": {
        const s = this.services.get(serviceId(o.a[0]));
        const id = destId(o.a[1]);
        const cur = s?.dests.get(id);
        if (!s || !cur) break;
        this.countNat(cur, -1);
        s.dests.delete(id);
        this.layoutVersion++;
        break;
      }
      case "addMarkRule": this.marks.push(o.a[0]); break;
      case "clearMarkRules": this.marks = []; break;
    }
  }

  private countSpecial(s: ServiceEntry, by: 1 | -1): void {
    if (!s.spec.persistent && !("fwmark" in s.key)) return;
    const before = this.special > 0;
    this.special += by;
    if (before !== this.special > 0) this.steerVersion++;
  }

  private countNat(d: DestSpec, by: 1 | -1): void {
    if (d.fwd !== "nat") return;
    const n = (this.natRefs.get(d.addr) ?? 0) + by;
    if (n > 0) this.natRefs.set(d.addr, n);
    else this.natRefs.delete(d.addr);
    if (n === 0 || (n === 1 && by === 1)) this.steerVersion++;
  }

  /** Addresses of real servers reached by NAT: frames from them are replies to clients. */
  natReals(): string[] { return [...this.natRefs.keys()].sort(); }

  /** True when a client must stay on one worker whatever its port: persistence, or firewall marks (rules the steering cannot see). */
  byAddressOnly(): boolean { return this.special > 0; }

  /** Real servers' addresses (for neighbour resolution). */
  reals(): string[] {
    const out = new Set<string>();
    for (const s of this.services.values()) for (const d of s.dests.values()) out.add(d.addr);
    return [...out];
  }

  /**
   * Where each service and real server sits in a counter snapshot (the
   * services in order, each followed by its real servers): "serviceId" and
   * "serviceId destId" → entry number. A worker's snapshot and the
   * supervisor's reading of it agree because both states saw the same ops.
   */
  layout(): Map<string, number> {
    const index = new Map<string, number>();
    let k = 0;
    for (const [sid, s] of this.services) {
      index.set(sid, k++);
      for (const did of s.dests.keys()) index.set(`${sid} ${did}`, k++);
    }
    return index;
  }

  /** Ops that build this state in a fresh data plane. */
  snapshotOps(): DpOp[] {
    const out: DpOp[] = [];
    if (Object.keys(this.timeouts).length) out.push({ m: "setTimeouts", a: [{ ...this.timeouts }] });
    for (const [id, l] of this.links) out.push({ m: "setLink", a: [id, l] });
    for (const [id, m] of this.addrs) {
      const standby = this.standby.get(id);
      for (const cidr of m.values()) {
        out.push({ m: "addAddress", a: [id, cidr] });
        const addr = cidr.split("/")[0];
        if (standby?.has(normalAddr(addr))) out.push({ m: "setAddressOwned", a: [id, addr, false] });
      }
    }
    for (const [prefix, r] of this.routes.values()) out.push({ m: "addRoute", a: [prefix, r] });
    for (const [link, addr, mac] of this.neighbours.values()) out.push({ m: "setNeighbour", a: [link, addr, mac] });
    const tx: TxOp[] = [{ m: "clearMarkRules", a: [] }];
    for (const r of this.marks) tx.push({ m: "addMarkRule", a: [r] });
    for (const s of this.services.values()) {
      tx.push({ m: "addService", a: [s.key, s.spec] });
      for (const d of s.dests.values()) tx.push({ m: "addDest", a: [s.key, d] });
    }
    out.push({ m: "tx", ops: tx });
    if (this.connSync) out.push({ m: "setConnSync", a: [true] });
    return out;
  }
}

/** How much replaying ops costs, in single operations (a transaction counts its own). */
export function opWeight(op: DpOp): number { return op.m === "tx" ? op.ops.length : 1; }
