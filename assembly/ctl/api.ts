// Control calls from the supervisor. Each returns 0 or a negative code from
// ctl/errors.ts and changes nothing when it fails. Service and real-server
// calls act on the open transaction (svc/generation.ts).

import * as S from "./scratch";
import * as E from "./errors";
import * as G from "../svc/generation";
import { Service, Dest, DestState } from "../svc/service";
import { Stats, writeStats } from "../stats/counters";
import { MarkRule } from "../svc/fwmark";
import { v4mask } from "../svc/fwmark";
import { RoundRobin } from "../sched/rr";
import { loadMac } from "../packet/ether";

const base = S.scratch;

@inline function addrAt(off: usize, af: u8): v128 {
  const a = v128.load(base + off);
  // IPv4 takes the first 4 bytes; the rest must not leak into keys.
  return af == 4 ? i32x4.replace_lane(i32x4.splat(0), 0, i32x4.extract_lane(a, 0)) : a;
}

const dummyStats = new Stats();
const dummySched = new RoundRobin();

/** Reads the service spec from scratch; null when it is malformed. */
export function readSvc(): Service | null {
  const af = load<u8>(base + S.SV_AF);
  if (af != 4 && af != 6) return null;
  const s = new Service(dummySched, dummyStats);
  s.af = af;
  s.proto = load<u8>(base + S.SV_PROTO);
  s.port = bswap<u16>(load<u16>(base + S.SV_PORT));
  s.fwmark = load<u32>(base + S.SV_FWMARK);
  if (s.fwmark == 0 && s.proto != 6 && s.proto != 17) return null;
  if (s.fwmark != 0) { s.proto = 0; s.port = 0; }
  s.flags = load<u32>(base + S.SV_FLAGS);
  const t = load<u32>(base + S.SV_TIMEOUT);
  if (t > 0x7fffffff / 1000) return null;
  s.timeoutMs = t * 1000;
  const nm = load<u32>(base + S.SV_NETMASK);
  if (nm > (af == 4 ? 32 : 128)) return null;
  s.netmask = af == 4 ? v4mask(nm) : nm;
  s.schedId = load<i32>(base + S.SV_SCHED);
  s.addr = s.fwmark != 0 ? i32x4.splat(0) : addrAt(S.SV_ADDR, af);
  return s;
}

export function readDest(): Dest | null {
  const af = load<u8>(base + S.DS_AF);
  if (af != 4 && af != 6) return null;
  const fwd = load<u8>(base + S.DS_FWD);
  if (fwd != 0 && fwd != 2 && fwd != 3) return null;
  if (fwd == 2 && af != 4) return null; // IP-in-IP tunnels carry IPv4 only
  const w = load<i32>(base + S.DS_WEIGHT);
  if (w < 0) return null;
  const d = new Dest(new DestState(dummyStats));
  d.af = af; d.fwd = fwd; d.weight = w;
  d.port = bswap<u16>(load<u16>(base + S.DS_PORT));
  d.uThreshold = load<u32>(base + S.DS_UTHRESH);
  d.lThreshold = load<u32>(base + S.DS_LTHRESH);
  d.addr = addrAt(S.DS_ADDR, af);
  return d;
}

export function svcCall(op: i32): i32 {
  const s = readSvc();
  if (s === null) return E.E_INVAL;
  switch (op) {
    case 0: return G.svcAdd(s!);
    case 1: return G.svcEdit(s!);
    case 2: return G.svcDel(s!);
  }
  return E.E_INVAL;
}

export function destCall(op: i32): i32 {
  const s = readSvc();
  const d = readDest();
  if (s === null || d === null) return E.E_INVAL;
  switch (op) {
    case 0: return G.destAdd(s!, d!);
    case 1: return G.destEdit(s!, d!);
    case 2: return G.destDel(s!, d!);
  }
  return E.E_INVAL;
}

/** Finds a service of the live generation by the key in scratch. */
export function liveSvc(): Service | null {
  const k = readSvc();
  if (k === null) return null;
  return G.findLive(k!);
}

export function svcStats(): i32 {
  const s = liveSvc();
  if (s === null) return E.E_NOSVC;
  writeStats(s!.stats, base + S.RES);
  return E.OK;
}

export function liveDest(): Dest | null {
  const s = liveSvc();
  const d = readDest();
  if (s === null || d === null) return null;
  const i = s!.findDest(d!.af, d!.addr, d!.fwd != 0 && s!.fwmark == 0 ? s!.port : d!.port);
  return i < 0 ? null : s!.dests[i];
}

export function destStats(): i32 {
  const d = liveDest();
  if (d === null) return E.E_NODEST;
  const st = d!.st;
  writeStats(st.stats, base + S.RES);
  store<i32>(base + S.RES_ACTIVE, st.activeconns);
  store<i32>(base + S.RES_INACT, st.inactconns);
  store<i32>(base + S.RES_PERSIST, st.persistconns);
  store<u32>(base + S.RES_DFLAGS, st.flags);
  return E.OK;
}

/** Appends a firewall-mark rule to the open transaction; the prefix is at ARG_ADDR. */
export function markRuleAdd(af: u8, proto: u8, prefixLen: u8, portLo: u16, portHi: u16, mark: u32): i32 {
  if (!G.inTransaction()) return E.E_NOTX;
  if ((af != 4 && af != 6) || mark == 0 || portLo > portHi || prefixLen > (af == 4 ? 32 : 128)) return E.E_INVAL;
  const r = new MarkRule();
  r.af = af; r.proto = proto; r.prefixLen = prefixLen; r.portLo = portLo; r.portHi = portHi; r.mark = mark;
  r.addr = addrAt(S.ARG_ADDR, af);
  const rules = G.stagedMarks().slice(0);
  rules.push(r);
  return G.markSet(rules);
}

export function markRulesClear(): i32 { return G.markSet(new Array<MarkRule>()); }

export function argMac(): u64 { return loadMac(base + S.ARG_MAC); }
export function argAddr(af: u8): v128 { return addrAt(S.ARG_ADDR, af); }
export function argAddr2(af: u8): v128 { return addrAt(S.ARG_ADDR2, af); }
