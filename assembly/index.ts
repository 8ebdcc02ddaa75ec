// The data plane's exports: the batch call, the control calls and the
// counters. Nothing else lives here.

import { initTables, conns4, conns6, setExpireQuiescentTemplate } from "./conn/table";
import { runBatch as run, setExpireBudget as setBudget, batches, framesIn, framesTx, framesLocal, framesHeld } from "./ring/batch";
import { scratch as scratchArea, ARG_ADDR, ARG_MAC, ARG_LINK, ARG_AF } from "./ctl/scratch";
import * as api from "./ctl/api";
import * as G from "./svc/generation";
import * as E from "./ctl/errors";
import * as L from "./net/link";
import * as R from "./net/route";
import * as N from "./net/neigh";
import * as NQ from "./net/neighq";
import * as St from "./conn/state";
import * as D from "./stats/drops";
import * as Sched from "./sched/registry";
import * as T from "./ctl/testing";
import * as Lo from "./ctl/layout";

let ready = false;

/** Sizes the connection tables (entries); seed randomises the hashes. Once only. */
export function init(cap4: u32, cap6: u32, seed: u32): i32 {
  if (ready) return E.E_EXISTS;
  if (cap4 == 0 || cap4 > 0x4000000 || cap6 > 0x4000000) return E.E_INVAL;
  initTables(cap4, cap6, seed);
  ready = true;
  return E.OK;
}

export function scratch(): usize { return scratchArea; }

/** Buffer for frames or descriptors, aligned to align bytes (a power of two); never freed. */
export function allocBuffer(size: u32, align: u32): usize {
  const p = heap.alloc(<usize>size + <usize>align);
  return (p + <usize>align - 1) & ~(<usize>align - 1);
}

export function runBatch(desc: usize, count: u32, now: u32): u32 { return run(desc, count, now); }
export function setExpireBudget(n: u32): void { setBudget(n); }

// ---- configuration transactions ----
export function txBegin(): i32 { return G.txBegin(); }
export function txCommit(): i32 { return G.txCommit(); }
export function txAbort(): void { G.txAbort(); }
/** op: 0 add, 1 edit, 2 delete; spec in scratch. */
export function svcCall(op: i32): i32 { return api.svcCall(op); }
export function destCall(op: i32): i32 { return api.destCall(op); }
export function svcFlush(): i32 { return G.svcFlush(); }
export function markRuleAdd(af: u8, proto: u8, prefixLen: u8, portLo: u16, portHi: u16, mark: u32): i32 {
  return api.markRuleAdd(af, proto, prefixLen, portLo, portHi, mark);
}
export function markRulesClear(): i32 { return api.markRulesClear(); }
export function svcStats(): i32 { return api.svcStats(); }
export function destStats(): i32 { return api.destStats(); }
export function serviceCount(): i32 { return G.live.services.length; }

// ---- timeouts ----
export function setTimeouts(tcp: u32, tcpfin: u32, udp: u32): void { St.setTimeouts(tcp, tcpfin, udp); }
export function getTimeout(which: i32): u32 {
  if (which == 0) return St.tcpTimeouts[St.S_ESTABLISHED] / 1000;
  if (which == 1) return St.tcpTimeouts[St.S_FIN_WAIT] / 1000;
  return St.udpTimeout / 1000;
}
export function setExpireQuiescent(on: bool): void { setExpireQuiescentTemplate(on); }

// ---- links, addresses, routes, neighbours ----
export function linkSet(id: i32, mtu: u32, up: bool): i32 { return L.linkSet(id, api.argMac(), mtu, up); }
export function linkDel(id: i32): i32 {
  const r = L.linkDel(id);
  if (r == E.OK) { R.routesFlushLink(id); NQ.dropAll(); N.flush(id); }
  return r;
}
export function addrAdd(id: i32, af: u8, prefixLen: u8): i32 { return L.addrAdd(id, af, api.argAddr(af), prefixLen); }
export function addrDel(id: i32, af: u8): i32 { return L.addrDel(id, af, api.argAddr(af)); }
/** Marks the link's address at ARG_ADDR owned (the default) or standby (a VRRP backup's): at once, transaction open or not. */
export function addrOwn(id: i32, af: u8, owned: bool): i32 { return L.addrOwn(id, af, api.argAddr(af), owned); }
export function routeAdd(af: u8, len: u8, linkId: i32, hasGw: bool): i32 {
  if (af != 4 && af != 6) return E.E_INVAL;
  if (L.link(linkId) === null) return E.E_NOLINK;
  const r = new R.Route();
  r.af = af; r.len = len; r.link = linkId; r.hasGw = hasGw;
  r.prefix = api.argAddr(af); r.gw = api.argAddr2(af);
  return R.routeAdd(r);
}
export function routeDel(af: u8, len: u8): i32 { return R.routeDel(af, api.argAddr(af), len); }
export function neighSet(linkId: i32, af: u8, now: u32): i32 {
  if (L.link(linkId) === null) return E.E_NOLINK;
  if (!N.update(linkId, af, api.argAddr(af), api.argMac(), N.NUD_PERMANENT, now)) return E.E_FULL;
  if (N.resolvedWaiting) NQ.releaseResolved(now);
  return E.OK;
}
/** Flushing renumbers the neighbour entries: the frames waiting for them (net/neighq.ts) go first, counted. */
export function neighFlush(linkId: i32): void { NQ.dropAll(); N.flush(linkId); }
export function neighCapacity(): i32 { return N.capacity(); }
/** Entry i of the neighbour table: its state (0 empty, else N.NUD_*); address at ARG_ADDR, MAC at ARG_MAC, link at ARG_LINK, family at ARG_AF. */
export function neighRead(i: i32): i32 {
  const s = N.entryState(i);
  if (s == 0) return 0;
  v128.store(scratchArea + ARG_ADDR, N.entryAddr(i));
  store<u64>(scratchArea + ARG_MAC, N.entryMac(i));
  store<i32>(scratchArea + ARG_LINK, N.entryLink(i));
  store<u8>(scratchArea + ARG_AF, N.entryAf(i));
  return s;
}

// ---- frames waiting for neighbour resolution (assembly/net/neighq.ts) ----
export function neighQueueStatCount(): i32 { return NQ.Q_COUNT; }
export function neighQueueStatName(i: i32): string { return i >= 0 && i < NQ.Q_COUNT ? NQ.Q_NAMES[i] : ""; }
export function neighQueueStat(i: i32): u64 { return i >= 0 && i < NQ.Q_COUNT ? NQ.stats[i] : 0; }
/** Frames held now (waiting for their neighbour, or released and not yet sent). */
export function neighQueueHeld(): i32 { return NQ.used; }
/** Frames released and not yet sent (the batch path leaves them for neighQueueTake; the ring path sends them). */
export function neighQueueReady(): i32 { return NQ.readyCount; }
/**
 * Moves the oldest released frame to dst (cap bytes) and counts it sent;
 * its length (link at neighQueueTakenLink(), offload flags at
 * neighQueueTakenFlags()), or 0 when none is ready (or it does not fit: counted unsent).
 */
export function neighQueueTake(dst: usize, cap: u32): u32 {
  const s = NQ.nextReady();
  if (s < 0) return 0;
  const n = NQ.readyLen(s);
  takenLink = NQ.readyLink(s); takenFlags = NQ.readyFlags(s);
  if (n > cap) { NQ.readyDone(NQ.Q_UNSENT); return 0; }
  memory.copy(dst, NQ.readyFrame(s), n);
  NQ.readyDone(NQ.Q_SENT);
  return n;
}
let takenLink: i32 = -1;
let takenFlags: u32 = 0;
export function neighQueueTakenLink(): i32 { return takenLink; }
export function neighQueueTakenFlags(): u32 { return takenFlags; }

// ---- counters ----
export function dropReasonCount(): i32 { return D.R_COUNT; }
export function dropReasonName(i: i32): string { return i >= 0 && i < D.R_COUNT ? D.DROP_NAMES[i] : ""; }
export function dropCounter(i: i32): u64 { return i >= 0 && i < D.R_COUNT ? D.drops[i] : 0; }
export function connCount(af: u8): u32 { return af == 6 ? conns6.count : conns4.count; }
export function connTableBytes(af: u8): usize { return af == 6 ? conns6.bytes : conns4.bytes; }
export function connTableCapacity(af: u8): u32 { return af == 6 ? conns6.cap : conns4.cap; }
export function batchStat(which: i32): u64 {
  if (which == 0) return batches;
  if (which == 1) return framesIn;
  if (which == 2) return framesTx;
  if (which == 3) return framesLocal;
  return framesHeld;
}
export function errorName(code: i32): string { return E.errorName(code); }
/** Entry i of the layout table (assembly/ctl/layout.ts): its "group.field" name and its value. */
export function layoutCount(): i32 { return Lo.layoutCount(); }
export function layoutName(i: i32): string { return Lo.layoutName(i); }
export function layoutValue(i: i32): i32 { return Lo.layoutValue(i); }
/** The schedulers by id (sched/registry.ts): the supervisor's only list of them. */
export function schedulerCount(): i32 { return Sched.schedulerCount(); }
export function schedulerName(i: i32): string { return Sched.schedulerName(i); }

// ---- hooks for tests and benchmarks ----
export function testSchedule(): i32 { return T.testSchedule(); }
export function testSetDestConns(active: i32, inactive: i32): i32 { return T.testSetDestConns(active, inactive); }
export function connsClear(): void { conns4.clear(); conns6.clear(); }
export function expireStep(af: u8, now: u32, budget: u32): u32 {
  return af == 6 ? conns6.expireStep(now, budget) : conns4.expireStep(now, budget);
}

// ---- benchmark hooks (bench/, see assembly/ctl/bench.ts) ----
import * as B from "./ctl/bench";
export function benchFillConns4(n: u32, vaddr: u32, daddr: u32, now: u32): u32 { return B.benchFillConns4(n, vaddr, daddr, now); }

// ---- listings: ipvsadm -Z and -L -c (see assembly/ctl/listing.ts) ----
import * as Ls from "./ctl/listing";
/** Zeroes the counters of the service in scratch and its real servers (all services when all). */
export function statsZero(all: bool): i32 { return Ls.statsZero(all); }
/** Next live connection entry at or after index from; fields at connBuf(). -1 when done. */
export function connRead(af: u8, from: u32, now: u32): i32 { return Ls.connRead(af, from, now); }
export function connBuf(): usize { return Ls.CONN_OUT; }

// ---- packet I/O over AF_PACKET rings mapped into this memory (assembly/ring/io.ts) ----
import * as IO from "./ring/io";
import * as P from "./ring/rings";
import * as GSO from "./xmit/gso";
/**
 * Attaches link id's rings: RX (version 2: rxFrameCount slots of rxFrameSize;
 * 3: rxBlockCount blocks of rxBlockSize) at rxBase, TX (V2) at txBase, and a
 * host-stack mirror queue of localCap bytes at localBase. Returns 0, or -1.
 */
export function ioAttach(
  id: i32, rxBase: usize, rxVersion: u32, rxBlockSize: u32, rxBlockCount: u32, rxFrameSize: u32, rxFrameCount: u32, rxVnet: bool,
  txBase: usize, txFrameSize: u32, txFrameCount: u32, txVnet: bool, localBase: usize, localCap: u32,
): i32 {
  return IO.attach(id, rxBase, rxVersion, rxBlockSize, rxBlockCount, rxFrameSize, rxFrameCount, rxVnet,
    txBase, txFrameSize, txFrameCount, txVnet, localBase, localCap) ? 0 : -1;
}
export function ioDetach(id: i32): i32 { return IO.detach(id) ? 0 : -1; }
/** Takes up to max frames from the RX rings; returns how many. */
export function ioRun(max: u32, now: u32): u32 { return IO.ioRun(max, now); }
export function ioTakePending(id: i32): u32 { return IO.takePending(id); }
export function ioLocalBase(id: i32): usize { return IO.localBase(id); }
export function ioLocalUsed(id: i32): u32 { return IO.localUsed(id); }
export function ioLocalReset(id: i32): void { IO.localReset(id); }
export function ioHostSlot(id: i32): usize { return IO.hostSlot(id); }
export function ioHostCap(id: i32): u32 { return IO.hostCap(id); }
export function ioHostCommit(id: i32, len: u32): i32 { return IO.hostCommit(id, len) ? 0 : -1; }
export function ioCounter(id: i32, i: i32): u64 { return IO.counter(id, i); }
export function ioCounterCount(): i32 { return P.C_COUNT; }
export function ioCounterName(i: i32): string { return i >= 0 && i < P.C_COUNT ? P.COUNTER_NAMES[i] : ""; }
/** Segments of a GSO output frame (flags as in the descriptor) and segment k written to dst. */
export function gsoCount(p: usize, len: u32, flags: u32): u32 { return GSO.gsoCount(p, len, flags); }
export function gsoSegment(p: usize, len: u32, flags: u32, k: u32, dst: usize, cap: u32): u32 { return GSO.gsoSegment(p, len, flags, k, dst, cap); }

// ---- proactive neighbour resolution (see assembly/net/probe.ts) ----
import { probe as neighProbeAt } from "./net/probe";
/** Probes the address at ARG_ADDR; the link id whose TX ring got a solicitation, or -1. */
export function neighProbe(af: u8, now: u32): i32 { return neighProbeAt(af, api.argAddr(af), now); }

// ---- connection sync (issue 12; see assembly/conn/synclog.ts and conn/sync.ts) ----
import * as SL from "./conn/synclog";
import * as SY from "./conn/sync";
/** Starts (the log ring of capacity entries allocated at the first start) or stops logging connection changes; the ring's bytes, 0 when capacity is unusable. */
export function connSyncSet(on: bool, capacity: u32): usize { return SL.setSync(on, capacity); }
/** Up to max logged changes as wire records at out (ENTRY_SIZE bytes each), oldest first; how many. */
export function connSyncTake(out: usize, max: u32): u32 { return SL.take(out, max); }
/** Changes logged and not yet taken. */
export function connSyncPending(): u32 { return SL.pending(); }
/** Counters since load: 0 logged, 1 lost (log full), 2 installed, 3 refused. */
export function connSyncStat(which: i32): u64 {
  if (which == 0) return SL.logged;
  if (which == 1) return SL.lost;
  if (which == 2) return SL.installed;
  return SL.refused;
}
/** Up to max records of the af table's live templates or connections from index from, at out; how many. connExportNext() says where to go on. */
export function connExport(af: u8, templates: bool, from: u32, now: u32, out: usize, max: u32): u32 {
  return SY.exportBatch(af, templates, from, now, out, max);
}
export function connExportNext(): u32 { return SY.exportNext; }
/** Installs n records at buf (templates first); how many were installed (the rest are counted refused). */
export function connInstall(buf: usize, n: u32, now: u32): u32 { return SY.install(buf, n, now); }
