// From configuration to data plane: what each service looks like in the data
// plane once health is taken into account (DpService), the transaction
// operations that turn one such view into another, and the link, address and
// route calls (with their undo) that turn one network state into another.

import type { DataPlaneApi, DestSpec, ServiceSpec, Transaction } from "../dataplane/dataplane.js";
import { networkOf } from "./addr.js";
import { destId, toDpKey, type SvcKey } from "../keys.js";
import type { AddrConf, ConfigState, DestConf, MarkRule, RouteConf, ServiceConf, VipConf } from "./state.js";

export type HealthMode = "inhibit" | "remove";
export interface DestHealth { up: boolean; mode: HealthMode; }

export interface DpDest { spec: DestSpec; sorry: boolean; }
export interface DpService { key: SvcKey; spec: ServiceSpec; dests: Map<string, DpDest>; }

const FLAG_NAMES = ["flag-1", "flag-2", "flag-3"];

export function serviceSpec(s: ServiceConf): ServiceSpec {
  return {
    scheduler: s.scheduler,
    schedFlags: FLAG_NAMES.filter((_, i) => (s.flags & (1 << i)) !== 0),
    persistent: s.persistent || undefined,
    netmask: s.netmask,
    onePacket: s.onePacket || undefined,
  };
}

function destSpec(d: DestConf, weight: number): DestSpec {
  return { addr: d.addr, port: d.port, fwd: d.fwd, weight, upperThreshold: d.uThreshold, lowerThreshold: d.lThreshold };
}

/**
 * The service as the data plane should run it: real servers that are down
 * get weight 0 (inhibit) or are left out (remove); the sorry server joins
 * when no real server is up.
 */
export function dpView(s: ServiceConf, health: ReadonlyMap<string, DestHealth> | undefined, sorry: DestConf | undefined): DpService {
  const dests = new Map<string, DpDest>();
  let up = 0;
  for (const [k, d] of s.dests) {
    const h = health?.get(k);
    if (!h || h.up) {
      up++;
      dests.set(destId(d), { spec: destSpec(d, d.weight), sorry: false });
    } else if (h.mode === "inhibit") {
      dests.set(destId(d), { spec: destSpec(d, 0), sorry: false });
    }
  }
  if (sorry && up === 0 && !dests.has(destId(sorry))) dests.set(destId(sorry), { spec: destSpec(sorry, sorry.weight), sorry: true });
  return { key: s.key, spec: serviceSpec(s), dests };
}

const same = (a: unknown, b: unknown) => JSON.stringify(a) === JSON.stringify(b);

/** Transaction operations turning view a into view b (either may be absent). */
export function diffService(a: DpService | undefined, b: DpService | undefined, ops: ((tx: Transaction) => void)[]): void {
  if (!a && !b) return;
  const key = toDpKey((a ?? b)!.key);
  if (a && !b) { ops.push((tx) => tx.deleteService(key)); return; }
  if (!a) {
    ops.push((tx) => tx.addService(key, b!.spec));
    for (const d of b!.dests.values()) ops.push((tx) => tx.addDest(key, d.spec));
    return;
  }
  if (!same(a.spec, b!.spec)) ops.push((tx) => tx.editService(key, b!.spec));
  for (const [k, d] of a.dests) if (!b!.dests.has(k)) ops.push((tx) => tx.deleteDest(key, d.spec));
  for (const [k, d] of b!.dests) {
    const old = a.dests.get(k);
    if (!old) ops.push((tx) => tx.addDest(key, d.spec));
    else if (!same(old.spec, d.spec)) ops.push((tx) => tx.editDest(key, d.spec));
  }
}

export function markOps(rules: readonly MarkRule[], ops: ((tx: Transaction) => void)[]): void {
  ops.push((tx) => tx.clearMarkRules());
  for (const r of rules) {
    ops.push((tx) => tx.addMarkRule({ proto: r.proto, prefix: `${r.net}/${r.len}`, ports: r.ports, mark: r.mark }));
  }
}

/** One data-plane call and how to take it back. */
export interface NetOp { run(): void; undo(): void; }

const addrKey = (a: AddrConf) => `${a.dev}|${a.addr}|${a.len}`;
const routeKey = (r: RouteConf) => `${r.af}|${r.net}/${r.len}|${r.via ?? ""}|${r.dev}`;
const cidr = (a: AddrConf) => `${a.addr}/${a.len}`;

/**
 * Link, address and route calls turning network state a into b, in a safe
 * order. A VRRP virtual address enters the data plane in standby unless
 * owned(it) says its instance is MASTER, in the same synchronous step (no
 * owned window); one that stays is left alone, ownership and all.
 */
export function planNet(dp: DataPlaneApi, a: ConfigState, b: ConfigState, owned: (v: VipConf) => boolean = () => false): NetOp[] {
  const ops: NetOp[] = [];
  const linkId = (s: ConfigState, dev: string) => s.links.get(dev)!.id;
  const quiet = (f: () => void) => () => { try { f(); } catch { /* best effort while undoing */ } };

  for (const [name, l] of b.links) {
    const old = a.links.get(name);
    if (!old) {
      ops.push({ run: () => dp.setLink(l.id, l), undo: quiet(() => dp.deleteLink(l.id)) });
    } else if (old.mac !== l.mac || old.mtu !== l.mtu || old.up !== l.up) {
      ops.push({ run: () => dp.setLink(l.id, l), undo: quiet(() => dp.setLink(old.id, old)) });
    }
  }
  const bRoutes = new Set(b.routes.map(routeKey));
  const aRoutes = new Set(a.routes.map(routeKey));
  for (const r of a.routes) {
    if (bRoutes.has(routeKey(r))) continue;
    ops.push({ run: () => dp.deleteRoute(`${r.net}/${r.len}`), undo: quiet(() => dp.addRoute(`${r.net}/${r.len}`, { link: linkId(a, r.dev), via: r.via })) });
  }
  // The connected route of an address goes with the last address of its network.
  const connected = (s: ConfigState, x: AddrConf) =>
    [...s.addrs, ...s.vips].some((y) => y.af === x.af && y.len === x.len && networkOf(y.af, y.addr, y.len) === networkOf(x.af, x.addr, x.len));
  // An address is dropped from its link as either state has it (a link keeps
  // its id; the target has none when a whole load is undone).
  const addrLink = (dev: string) => (a.links.get(dev) ?? b.links.get(dev))!.id;
  const dropAddr = (s: ConfigState, x: AddrConf) => {
    dp.deleteAddress(addrLink(x.dev), x.addr);
    if (!connected(s, x)) {
      try { dp.deleteRoute(`${networkOf(x.af, x.addr, x.len)}/${x.len}`); } catch { /* already gone */ }
    }
  };
  const bAddrs = new Set(b.addrs.map(addrKey));
  const aAddrs = new Set(a.addrs.map(addrKey));
  for (const x of a.addrs) {
    if (bAddrs.has(addrKey(x))) continue;
    ops.push({ run: () => dropAddr(b, x), undo: quiet(() => dp.addAddress(linkId(a, x.dev), cidr(x))) });
  }
  for (const x of b.addrs) {
    if (aAddrs.has(addrKey(x))) continue;
    ops.push({ run: () => dp.addAddress(linkId(b, x.dev), cidr(x)), undo: quiet(() => dropAddr(a, x)) });
  }
  // VRRP virtual addresses: standby from the start (see above).
  const addVip = (s: ConfigState, x: VipConf) => {
    dp.addAddress(linkId(s, x.dev), cidr(x));
    if (!owned(x)) {
      try { dp.setAddressOwned(linkId(s, x.dev), x.addr, false); } catch (e) { quiet(() => dp.deleteAddress(linkId(s, x.dev), x.addr))(); throw e; }
    }
  };
  const bVips = new Set(b.vips.map(addrKey));
  const aVips = new Set(a.vips.map(addrKey));
  for (const x of a.vips) {
    if (bVips.has(addrKey(x))) continue;
    ops.push({ run: () => dropAddr(b, x), undo: quiet(() => addVip(a, x)) });
  }
  for (const x of b.vips) {
    if (aVips.has(addrKey(x))) continue;
    ops.push({ run: () => addVip(b, x), undo: quiet(() => dropAddr(a, x)) });
  }
  for (const r of b.routes) {
    if (aRoutes.has(routeKey(r))) continue;
    ops.push({ run: () => dp.addRoute(`${r.net}/${r.len}`, { link: linkId(b, r.dev), via: r.via }), undo: quiet(() => dp.deleteRoute(`${r.net}/${r.len}`)) });
  }
  // Links only go away when a whole configuration is taken back (undo of a load).
  for (const [name, l] of a.links) {
    if (b.links.has(name)) continue;
    ops.push({ run: () => dp.deleteLink(l.id), undo: quiet(() => dp.setLink(l.id, l)) });
  }
  return ops;
}

/** Runs ops in order; when one fails, takes back the ones done and rethrows. */
export function runNet(ops: NetOp[]): () => void {
  const done: NetOp[] = [];
  const undoAll = () => { for (const op of done.slice().reverse()) op.undo(); };
  try {
    for (const op of ops) { op.run(); done.push(op); }
  } catch (e) {
    undoAll();
    throw e;
  }
  return undoAll;
}
