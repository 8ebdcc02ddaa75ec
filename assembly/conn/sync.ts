// Connection sync, the table side (issue 12): the bulk export of every live
// entry as wire records (a backup's resync) and the install of the peer's
// records. The change log the packet path writes is conn/synclog.ts.
//
// An installed entry is bound like one the packet path makes: to the real
// server of this box's live configuration (found by service and real-server
// address/port), so its counters and schedulers see it, and a connection of
// a persistent service is put under its template. Forwarding follows this
// box's configuration of that real server (its method), not the record's:
// both directors run the same configuration, and a record must never make
// this box forward in a way it was not configured for. Installing logs
// nothing: a backup never echoes what it is sent.

import { ConnTable, conns4, conns6, table, NONE, CF_USED, CF_TEMPLATE, CF_INACTIVE, CF_HASHED_OUT, CF_NOOUTPUT, CF_ONEPACKET, CF_FWD_SHIFT } from "./table";
import { S_LAST } from "./state";
import { ENTRY_SIZE, WF_ONEPACKET, WF_INACTIVE, WF_FWMARK, writeRecord, countInstall } from "./synclog";
import { live, findService, findFwmark } from "../svc/generation";
import { classify } from "../svc/fwmark";
import { Service, SVC_F_PERSISTENT } from "../svc/service";
import { DestState, FWD_MASQ, DEST_F_AVAILABLE } from "../svc/dest";
import { bindConn, unbindConn, destState, moveActive } from "../svc/bind";
import { maskClient } from "../core";
import { v4addr, toV128, fromV128, afOf, ld32, addrEq } from "../util/bytes";

const IPPROTO_TCP: u8 = 6;

// ---- export ----

/** Where the last connExport stopped: the index to pass as from next time (cap when done). */
export let exportNext: u32 = 0;
/** Entries one export call looks at, at most: a sparse table of millions is read in slices too. */
const EXPORT_SCAN: u32 = 65536;

function exportFrom<A>(t: ConnTable<A>, templates: bool, from: u32, now: u32, out: usize, max: u32): u32 {
  let n: u32 = 0;
  let i = from;
  const end = t.cap - from > EXPORT_SCAN ? from + EXPORT_SCAN : t.cap;
  for (; i < end && n < max; i++) {
    const f = t.flags(i);
    if ((f & CF_USED) == 0 || ((f & CF_TEMPLATE) != 0) != templates) continue;
    // As the listing: a template past its time lives on while it controls connections.
    if (!t.live(i, now) && (!templates || t.nControl(i) == 0)) continue;
    if (writeRecord<A>(out + <usize>n * ENTRY_SIZE, t.e(i), now)) n++;
  }
  exportNext = i;
  return n;
}

/**
 * Up to max records of the af table's live templates (templates) or
 * connections at index from or later, written at out; exportNext says where
 * to go on. The supervisor exports templates first, so a backup installing
 * in order finds a connection's template already there.
 */
export function exportBatch(af: u8, templates: bool, from: u32, now: u32, out: usize, max: u32): u32 {
  return af == 6 ? exportFrom<v128>(conns6, templates, from, now, out, max) : exportFrom<u32>(conns4, templates, from, now, out, max);
}

// ---- install ----

@inline function readA<A>(p: usize): A {
  if (isVector<A>()) return changetype<A>(v128.load(p));
  return changetype<A>(load<u32>(p));
}

/** The live real server of svc at daddr:dport (or a port-0 one), still available; null if none. */
function destFor<A>(svc: Service, daddr: A, dport: u16): DestState | null {
  const af = afOf<A>();
  const a = toV128<A>(daddr);
  let k = svc.findDest(af, a, dport);
  if (k < 0) k = svc.findDest(af, a, 0);
  if (k < 0) return null;
  const st = svc.dests[k].st;
  return st.id != 0 && (st.flags & DEST_F_AVAILABLE) != 0 ? st : null;
}

/** The service a connection to vaddr:vport belongs to: mark rules first, as core.ts serviceFor. */
function serviceOf<A>(proto: u8, vaddr: A, vport: u16): Service | null {
  const af = afOf<A>();
  const g = live;
  if (g.hasFwmark && g.marks.length > 0) {
    const mark = classify(g.marks, af, proto, toV128<A>(vaddr), <u32>bswap<u16>(vport));
    if (mark != 0) {
      const s = findFwmark(af, mark);
      if (s !== null) return s;
    }
  }
  return findService(af, proto, toV128<A>(vaddr), vport);
}

/** Entry flags for a connection or template bound to st. */
@inline function entryFlags(st: DestState, template: bool, inactive: bool, onePacket: bool): u16 {
  let f: u16 = <u16>st.fwd << CF_FWD_SHIFT;
  if (template) return f | CF_TEMPLATE;
  f |= st.fwd == FWD_MASQ ? CF_HASHED_OUT : CF_NOOUTPUT;
  if (inactive) f |= CF_INACTIVE;
  if (onePacket) f |= CF_ONEPACKET;
  return f;
}

function installTemplate<A>(t: ConnTable<A>, r: usize, proto: u8, caddr: A, vaddr: A, vport: u16, daddr: A, dport: u16, left: u32, now: u32): bool {
  const af = afOf<A>();
  let svc: Service | null;
  let tv = vaddr;
  if (load<u8>(r + 5) & WF_FWMARK) {
    const mark = ld32(r + 40);
    if (mark == 0 || proto != 0 || vport != 0) return false;
    svc = findFwmark(af, mark);
    tv = fromV128<A>(v4addr(mark));
  } else {
    svc = findService(af, proto, toV128<A>(vaddr), vport);
    if (svc !== null && svc!.port != vport) return false; // a port-0 service's template has port 0
  }
  if (svc === null || (svc!.flags & SVC_F_PERSISTENT) == 0) return false;
  const st = destFor<A>(svc!, daddr, dport);
  if (st === null) return false;
  const fl = entryFlags(st!, true, false, false);
  let i = t.lookupTemplate(proto, caddr, tv, vport, now);
  if (i == NONE) {
    i = t.insert(proto, caddr, 0, tv, vport, daddr, dport, fl, st!.id, NONE, now + left, now);
    if (i == NONE) return false;
    bindConn(st!, true, false);
    return true;
  }
  if (t.destId(i) != st!.id) {
    if (t.destId(i) != 0) unbindConn(destState(t.destId(i)), true, false);
    t.rebind(i, daddr, dport, st!.id, fl);
    bindConn(st!, true, false);
  }
  t.setExpires(i, now + left);
  return true;
}

function installConn<A>(t: ConnTable<A>, r: usize, proto: u8, caddr: A, cport: u16, vaddr: A, vport: u16, daddr: A, dport: u16, left: u32, now: u32): bool {
  const state = load<u8>(r + 3);
  if (proto == IPPROTO_TCP && state >= S_LAST) return false;
  const svc = serviceOf<A>(proto, vaddr, vport);
  if (svc === null) return false;
  const st = destFor<A>(svc!, daddr, dport);
  if (st === null) return false;
  let control: u32 = NONE;
  if ((svc!.flags & SVC_F_PERSISTENT) != 0) {
    // The template's key, as core.ts newConn makes it.
    const fw = svc!.fwmark != 0;
    const tc = maskClient<A>(caddr, svc!);
    const tv: A = fw ? fromV128<A>(v4addr(svc!.fwmark)) : vaddr;
    control = t.lookupTemplate(fw ? 0 : proto, tc, tv, fw ? 0 : svc!.port, now);
  }
  const wf = load<u8>(r + 5);
  const inactive = (wf & WF_INACTIVE) != 0;
  const fl = entryFlags(st!, false, inactive, (wf & WF_ONEPACKET) != 0);
  let i = t.lookupIn(proto, caddr, cport, vaddr, vport, now);
  if (i == NONE) {
    i = t.insert(proto, caddr, cport, vaddr, vport, daddr, dport, fl, st!.id, control, now + left, now);
    if (i == NONE) return false;
    bindConn(st!, false, inactive);
  } else {
    const was = t.flags(i);
    const wasInactive = (was & CF_INACTIVE) != 0;
    if (t.destId(i) != st!.id || t.dport(i) != dport || !addrEq(toV128<A>(t.daddr(i)), toV128<A>(daddr))) {
      if (t.destId(i) != 0) unbindConn(destState(t.destId(i)), false, wasInactive);
      t.rebind(i, daddr, dport, st!.id, fl);
      bindConn(st!, false, inactive);
    } else {
      if (wasInactive != inactive) moveActive(st!, !inactive);
      t.setFlags(i, fl | CF_USED);
    }
    if (control != NONE) t.setControl(i, control);
  }
  t.setState(i, proto == IPPROTO_TCP ? state : 0);
  t.setExpires(i, now + left);
  return true;
}

/** One record of kind (1 connection, 2 template) into the af table; false when refused. */
function installOne<A>(r: usize, kind: u8, now: u32): bool {
  const left = ld32(r + 16);
  if (left == 0 || left > 0x7fffffff) return false;
  const proto = load<u8>(r + 2);
  const caddr = readA<A>(r + 24), vaddr = readA<A>(r + 40), daddr = readA<A>(r + 56);
  const cport = load<u16>(r + 8), vport = load<u16>(r + 10), dport = load<u16>(r + 12);
  const t = table<A>();
  if (kind == 2) return cport == 0 && installTemplate<A>(t, r, proto, caddr, vaddr, vport, daddr, dport, left, now);
  return installConn<A>(t, r, proto, caddr, cport, vaddr, vport, daddr, dport, left, now);
}

/**
 * Installs n records at buf: templates first, then connections (so a
 * connection finds its template from the same message). A record that is
 * malformed (kind, family), whose service or real server is not configured
 * here, or that finds the table full is refused and counted. Returns how
 * many were installed.
 */
export function install(buf: usize, n: u32, now: u32): u32 {
  let ok: u32 = 0;
  for (let pass: u8 = 2; pass >= 1; pass--) {
    for (let k: u32 = 0; k < n; k++) {
      const r = buf + <usize>k * ENTRY_SIZE;
      if (load<u8>(r) != pass) continue;
      const af = load<u8>(r + 1);
      if (af == 4 ? installOne<u32>(r, pass, now) : af == 6 ? installOne<v128>(r, pass, now) : false) ok++;
    }
  }
  countInstall(ok, n - ok);
  return ok;
}
