// Configuration generations. The live generation is what batches read; a
// transaction copies it (services are copied on write), applies ipvsadm-like
// operations, and commit() swaps the new generation in between two batches,
// so no packet ever sees half a change. An operation that fails changes
// nothing; abort() drops the whole transaction.

import { Service } from "./service";
import { Dest, DestState, DEST_F_AVAILABLE, FWD_MASQ } from "./dest";
import { registerDestState, destPut, updateOverload } from "./bind";
import { Stats } from "../stats/counters";
import { addrEq, foldAddr, mix32 } from "../util/bytes";
import { createScheduler } from "../sched/registry";
import { MarkRule } from "./fwmark";
import * as E from "../ctl/errors";

@final export class Generation {
  services: Array<Service> = new Array<Service>();
  marks: Array<MarkRule> = new Array<MarkRule>();
  /** Open-addressed index over services keyed by (af, proto, addr, port) or fwmark. */
  index: StaticArray<Service | null> = new StaticArray<Service | null>(16);
  mask: u32 = 15;
  /** True when some service has port 0 (persistent "all ports" service). */
  hasPortZero: bool = false;
  hasFwmark: bool = false;
  /** False when services changed since the index was built (staged generations only). */
  indexValid: bool = true;

  copy(): Generation {
    const g = new Generation();
    g.services = this.services.slice(0);
    g.marks = this.marks.slice(0);
    g.indexValid = false; // built on first lookup: the live index must not be written
    return g;
  }
}

@inline function keyHash(af: u8, proto: u8, addr: v128, port: u16): u32 {
  return mix32(foldAddr(addr) ^ (<u32>port << 16) ^ (<u32>proto << 8) ^ <u32>af);
}
@inline function markHash(af: u8, mark: u32): u32 { return mix32(mark * 0x9E3779B1 ^ <u32>af ^ 0xfeed); }

function svcHash(s: Service): u32 {
  return s.fwmark != 0 ? markHash(s.af, s.fwmark) : keyHash(s.af, s.proto, s.addr, s.port);
}

function buildIndex(g: Generation): void {
  let size: i32 = 16;
  while (size < g.services.length * 2) size <<= 1;
  const idx = new StaticArray<Service | null>(size);
  const mask = <u32>(size - 1);
  g.hasPortZero = false; g.hasFwmark = false;
  for (let i = 0; i < g.services.length; i++) {
    const s = g.services[i];
    if (s.fwmark != 0) g.hasFwmark = true; else if (s.port == 0) g.hasPortZero = true;
    let h = svcHash(s) & mask;
    while (unchecked(idx[h]) !== null) h = (h + 1) & mask;
    unchecked(idx[h] = s);
  }
  g.index = idx; g.mask = mask;
  g.indexValid = true;
}

/** The service with exactly this key (no port-zero fallback), through the index. */
function lookupExact(g: Generation, key: Service): Service | null {
  if (!g.indexValid) buildIndex(g);
  const idx = g.index;
  let h = svcHash(key) & g.mask;
  while (true) {
    const s = unchecked(idx[h]);
    if (s === null) return null;
    if (s.sameKey(key)) return s;
    h = (h + 1) & g.mask;
  }
}

/** Puts s in the index slot that holds its key (after a clone), or adds it. */
function indexPut(g: Generation, s: Service): void {
  if (!g.indexValid) return; // rebuilt from the array on next lookup
  if (<u32>g.services.length * 2 > g.mask + 1) { g.indexValid = false; return; }
  const idx = g.index;
  let h = svcHash(s) & g.mask;
  while (true) {
    const o = unchecked(idx[h]);
    if (o === null || o.sameKey(s)) { unchecked(idx[h] = s); return; }
    h = (h + 1) & g.mask;
  }
}

/** The live service with exactly this key, for control reads (stats, listings). */
export function findLive(key: Service): Service | null { return lookupExact(live, key); }

export let live: Generation = new Generation();
let staged: Generation | null = null;
/** Services of the live generation that this transaction replaced or deleted. */
let replaced = new Array<Service>();
let nextSvcId: u32 = 1;

// ---- lookups on the live generation (hot path) ----

export function findService(af: u8, proto: u8, addr: v128, port: u16): Service | null {
  const g = live;
  const idx = g.index;
  let h = keyHash(af, proto, addr, port) & g.mask;
  while (true) {
    const s = unchecked(idx[h]);
    if (s === null) break;
    if (s.fwmark == 0 && s.port == port && s.proto == proto && s.af == af && addrEq(s.addr, addr)) return s;
    h = (h + 1) & g.mask;
  }
  if (g.hasPortZero && port != 0) return findService(af, proto, addr, 0);
  return null;
}

export function findFwmark(af: u8, mark: u32): Service | null {
  const g = live;
  const idx = g.index;
  let h = markHash(af, mark) & g.mask;
  while (true) {
    const s = unchecked(idx[h]);
    if (s === null) return null;
    if (s.fwmark == mark && s.af == af) return s;
    h = (h + 1) & g.mask;
  }
}

// ---- transactions ----

export function txBegin(): i32 {
  if (staged !== null) return E.E_TX_OPEN;
  staged = live.copy();
  renumber(staged!, 0); // an aborted transaction may have moved shared services
  replaced = new Array<Service>();
  return E.OK;
}

export function txAbort(): void { staged = null; replaced = new Array<Service>(); }

/** Position of the service with this key in g.services, or -1. */
function find(g: Generation, key: Service): i32 {
  const s = lookupExact(g, key);
  return s === null ? -1 : s.pos;
}

function renumber(g: Generation, from: i32): void {
  const ss = g.services;
  for (let i = from; i < ss.length; i++) unchecked(ss[i]).pos = i;
}

/** The staged copy of the service matching key, cloned on first write. */
function writable(key: Service): Service | null {
  const g = staged!;
  const i = find(g, key);
  if (i < 0) return null;
  let s = g.services[i];
  if (!s.dirty) { // live object: copy it, never write the live generation
    replaced.push(s);
    s = s.clone();
    s.pos = i;
    g.services[i] = s;
    indexPut(g, s);
  }
  return s;
}

export function svcAdd(spec: Service): i32 {
  if (staged === null) return E.E_NOTX;
  const g = staged!;
  if (find(g, spec) >= 0) return E.E_SVC_EXISTS;
  const sched = createScheduler(spec.schedId);
  if (sched === null) return E.E_SCHED;
  const s = new Service(sched!, new Stats());
  s.id = nextSvcId++;
  s.af = spec.af; s.proto = spec.proto; s.addr = spec.addr; s.port = spec.port; s.fwmark = spec.fwmark;
  s.flags = spec.flags; s.timeoutMs = spec.timeoutMs; s.netmask = spec.netmask; s.schedId = spec.schedId;
  s.dirty = true;
  s.pos = g.services.length;
  g.services.push(s);
  indexPut(g, s);
  return E.OK;
}

export function svcEdit(spec: Service): i32 {
  if (staged === null) return E.E_NOTX;
  const at = find(staged!, spec);
  if (at < 0) return E.E_NOSVC;
  let sched: Scheduler | null = null;
  const cur = staged!.services[at];
  if (cur.schedId != spec.schedId) {
    sched = createScheduler(spec.schedId);
    if (sched === null) return E.E_SCHED;
  }
  const s = writable(spec)!;
  if (sched !== null) { s.sched = sched!; s.schedId = spec.schedId; }
  s.flags = spec.flags; s.timeoutMs = spec.timeoutMs; s.netmask = spec.netmask;
  return E.OK;
}

export function svcDel(spec: Service): i32 {
  if (staged === null) return E.E_NOTX;
  const g = staged!;
  const i = find(g, spec);
  if (i < 0) return E.E_NOSVC;
  const s = g.services[i];
  if (!s.dirty) replaced.push(s);
  g.services.splice(i, 1);
  renumber(g, i);
  g.indexValid = false;
  return E.OK;
}

export function svcFlush(): i32 {
  if (staged === null) return E.E_NOTX;
  const g = staged!;
  for (let i = 0; i < g.services.length; i++) if (!g.services[i].dirty) replaced.push(g.services[i]);
  g.services = new Array<Service>();
  g.indexValid = false;
  return E.OK;
}

export function destAdd(key: Service, d: Dest): i32 {
  if (staged === null) return E.E_NOTX;
  const i = find(staged!, key);
  if (i < 0) return E.E_NOSVC;
  const cur = staged!.services[i];
  if (d.af != cur.af && cur.fwmark == 0) return E.E_AF;
  // DR/TUN real servers of a -t/-u service sit at its port; a fwmark service's keep theirs (as ipvsadm).
  if (d.fwd != FWD_MASQ && cur.fwmark == 0) d.port = cur.port;
  if (cur.findDest(d.af, d.addr, d.port) >= 0) return E.E_DEST_EXISTS;
  const s = writable(key)!;
  const nd = new Dest(new DestState(s.stats));
  nd.addr = d.addr; nd.port = d.port; nd.af = d.af; nd.fwd = d.fwd; nd.weight = d.weight;
  nd.uThreshold = d.uThreshold; nd.lThreshold = d.lThreshold;
  s.dests.push(nd);
  return E.OK;
}

export function destEdit(key: Service, d: Dest): i32 {
  if (staged === null) return E.E_NOTX;
  const i = find(staged!, key);
  if (i < 0) return E.E_NOSVC;
  const cur = staged!.services[i];
  if (cur.findDest(d.af, d.addr, d.port) < 0) return E.E_NODEST;
  if (d.fwd != FWD_MASQ && cur.fwmark == 0 && d.port != cur.port) return E.E_INVAL; // DR/TUN cannot remap ports
  const s = writable(key)!;
  const nd = s.dests[s.findDest(d.af, d.addr, d.port)];
  nd.fwd = d.fwd; nd.weight = d.weight; nd.uThreshold = d.uThreshold; nd.lThreshold = d.lThreshold;
  return E.OK;
}

export function destDel(key: Service, d: Dest): i32 {
  if (staged === null) return E.E_NOTX;
  const i = find(staged!, key);
  if (i < 0) return E.E_NOSVC;
  if (staged!.services[i].findDest(d.af, d.addr, d.port) < 0) return E.E_NODEST;
  const s = writable(key)!;
  s.dests.splice(s.findDest(d.af, d.addr, d.port), 1);
  return E.OK;
}

export function markSet(rules: Array<MarkRule>): i32 {
  if (staged === null) return E.E_NOTX;
  staged!.marks = rules;
  return E.OK;
}

export function stagedMarks(): Array<MarkRule> {
  return staged !== null ? staged!.marks : live.marks;
}

/** Swaps the staged generation in. Tables are rebuilt only for services that changed. */
export function txCommit(): i32 {
  if (staged === null) return E.E_NOTX;
  const g = staged!;
  // Real servers of replaced services first lose availability; the ones still present
  // are marked available again below, so this nets out to "removed ones only".
  for (let i = 0; i < replaced.length; i++) {
    const ds = replaced[i].dests;
    for (let j = 0; j < ds.length; j++) ds[j].st.flags &= ~DEST_F_AVAILABLE;
  }
  for (let i = 0; i < g.services.length; i++) {
    const s = g.services[i];
    if (!s.dirty) continue;
    for (let j = 0; j < s.dests.length; j++) {
      const d = s.dests[j];
      const st = d.st;
      if (st.id == 0) registerDestState(st);
      st.flags |= DEST_F_AVAILABLE;
      st.uThreshold = d.uThreshold; st.lThreshold = d.lThreshold;
      st.addr = d.addr; st.port = d.port; st.fwd = d.fwd; st.weight = d.weight;
      updateOverload(st);
    }
    s.sched.update(s);
  }
  for (let i = 0; i < replaced.length; i++) {
    const ds = replaced[i].dests;
    for (let j = 0; j < ds.length; j++) {
      const st = ds[j].st;
      if ((st.flags & DEST_F_AVAILABLE) == 0 && st.id != 0) destPut(st);
    }
  }
  for (let i = 0; i < g.services.length; i++) { g.services[i].dirty = false; g.services[i].pos = i; }
  buildIndex(g);
  live = g;
  staged = null;
  replaced = new Array<Service>();
  return E.OK;
}

export function inTransaction(): bool { return staged !== null; }

import { Scheduler } from "../sched/scheduler";
