// The connection table: a fixed pool of compact entries, chained into two
// hash tables so a connection is found from both sides: "in" by what the
// client sends (client address/port → virtual address/port) and, for NAT,
// "out" by what the real server sends back (real server → client).
//
// Entry layout, A = address type (u32 for IPv4, v128 for IPv6), raw
// network-order addresses and ports:
//   0      caddr  A       client
//   A      vaddr  A       virtual address (fwmark templates: the mark)
//   2A     daddr  A       real server
//   3A+0   cport  u16     3A+2 vport u16    3A+4 dport u16
//   3A+6   proto  u8      3A+7 state u8
//   3A+8   flags  u16     3A+10 nControl u16 (connections under this template)
//   3A+12  destId u32     3A+16 expires u32 (ms, wrapping)
//   3A+20  control u32    (template index, NONE)
//   3A+24  nextIn u32     3A+28 nextOut u32
// IPv4: 44 bytes rounded to 48, plus 8 bytes of bucket heads per entry = 56.
//
// Expiry is an incremental sweep (expireStep) with a budget per batch, so the
// work per batch is bounded whatever the table size; lookups also treat an
// entry past its time as gone.
//
// The data plane's own two tables live here too (conns4, conns6, sized once
// by initTables; table<A>() picks one by address type), with the one table
// setting that is not a timeout (expire_quiescent_template).

import { destState, unbindConn } from "../svc/bind";
import { mix32, foldAddr } from "../util/bytes";

export const NONE: u32 = 0xffffffff;
/** How long an expired template that still controls connections lives on (IPVS: 60*HZ). */
export const TEMPLATE_RECHECK_MS: u32 = 60000;

export const CF_USED: u16 = 0x0001;
export const CF_TEMPLATE: u16 = 0x0002;
export const CF_INACTIVE: u16 = 0x0004;
export const CF_HASHED_OUT: u16 = 0x0008;
export const CF_NOOUTPUT: u16 = 0x0010;
export const CF_ONEPACKET: u16 = 0x0020;
export const CF_FWD_SHIFT: u16 = 8; // forwarding method in bits 8..9

@inline function hashA<A>(a: A): u32 {
  if (isVector<A>()) return foldAddr(changetype<v128>(a));
  return <u32>a;
}
@inline function eqA<A>(a: A, b: A): bool {
  if (isVector<A>()) return v128.all_true<i64>(v128.eq<i64>(changetype<v128>(a), changetype<v128>(b)));
  return a == b;
}

@final export class ConnTable<A> {
  base: usize;
  cap: u32;
  inHeads: usize;
  outHeads: usize;
  bmask: u32;
  freeHead: u32 = NONE;
  count: u32 = 0;
  cursor: u32 = 0;
  seed: u32;
  /** Memory held by the table, for B7 (bytes per entry). */
  bytes: usize;

  @inline get esz(): u32 { return (3 * <u32>sizeof<A>() + 32 + 15) & ~15; }
  @inline get o(): usize { return 3 * sizeof<A>(); }

  constructor(cap: u32, seed: u32) {
    this.cap = cap;
    this.seed = seed;
    let b: u32 = 1;
    while (b < cap) b <<= 1;
    this.bmask = b - 1;
    const esz = <usize>this.esz;
    this.base = heap.alloc(<usize>cap * esz);
    this.inHeads = heap.alloc(<usize>b * 4);
    this.outHeads = heap.alloc(<usize>b * 4);
    this.bytes = <usize>cap * esz + <usize>b * 8;
    memory.fill(this.inHeads, 0xff, <usize>b * 4);
    memory.fill(this.outHeads, 0xff, <usize>b * 4);
    memory.fill(this.base, 0, <usize>cap * esz);
    // Free list threaded through nextIn, lowest index first.
    for (let i: i32 = <i32>cap - 1; i >= 0; i--) {
      store<u32>(this.e(<u32>i) + this.o + 24, this.freeHead);
      this.freeHead = <u32>i;
    }
  }

  @inline e(i: u32): usize { return this.base + <usize>i * <usize>this.esz; }

  // ---- field access ----
  @inline caddr(i: u32): A { return load<A>(this.e(i)); }
  @inline vaddr(i: u32): A { return load<A>(this.e(i) + sizeof<A>()); }
  @inline daddr(i: u32): A { return load<A>(this.e(i) + 2 * sizeof<A>()); }
  @inline cport(i: u32): u16 { return load<u16>(this.e(i) + this.o); }
  @inline vport(i: u32): u16 { return load<u16>(this.e(i) + this.o + 2); }
  @inline dport(i: u32): u16 { return load<u16>(this.e(i) + this.o + 4); }
  @inline proto(i: u32): u8 { return load<u8>(this.e(i) + this.o + 6); }
  @inline state(i: u32): u8 { return load<u8>(this.e(i) + this.o + 7); }
  @inline setState(i: u32, s: u8): void { store<u8>(this.e(i) + this.o + 7, s); }
  @inline flags(i: u32): u16 { return load<u16>(this.e(i) + this.o + 8); }
  @inline setFlags(i: u32, f: u16): void { store<u16>(this.e(i) + this.o + 8, f); }
  @inline nControl(i: u32): u16 { return load<u16>(this.e(i) + this.o + 10); }
  @inline setNControl(i: u32, n: u16): void { store<u16>(this.e(i) + this.o + 10, n); }
  @inline destId(i: u32): u32 { return load<u32>(this.e(i) + this.o + 12); }
  @inline expires(i: u32): u32 { return load<u32>(this.e(i) + this.o + 16); }
  @inline setExpires(i: u32, t: u32): void { store<u32>(this.e(i) + this.o + 16, t); }
  @inline control(i: u32): u32 { return load<u32>(this.e(i) + this.o + 20); }
  @inline fwd(i: u32): u8 { return <u8>((this.flags(i) >> CF_FWD_SHIFT) & 3); }
  @inline private nextIn(i: u32): u32 { return load<u32>(this.e(i) + this.o + 24); }
  @inline private nextOut(i: u32): u32 { return load<u32>(this.e(i) + this.o + 28); }
  @inline private setNextIn(i: u32, n: u32): void { store<u32>(this.e(i) + this.o + 24, n); }
  @inline private setNextOut(i: u32, n: u32): void { store<u32>(this.e(i) + this.o + 28, n); }

  @inline private hIn(proto: u8, caddr: A, cport: u16, vaddr: A, vport: u16): u32 {
    // The client address is mixed before the ports join it: raw, its varying
    // octets share bits with cport << 16 and whole client ranges would collide.
    return mix32(mix32(hashA<A>(caddr) ^ this.seed) ^ hashA<A>(vaddr) ^ ((<u32>cport << 16) | vport) ^ proto) & this.bmask;
  }
  @inline private hOut(proto: u8, daddr: A, dport: u16, caddr: A, cport: u16): u32 {
    return mix32(hashA<A>(daddr) ^ mix32(hashA<A>(caddr) ^ this.seed ^ 0x5bd1e995) ^ ((<u32>dport << 16) | cport) ^ proto) & this.bmask;
  }

  @inline live(i: u32, now: u32): bool { return <i32>(this.expires(i) - now) > 0; }

  /** Client-side lookup of a regular connection; NONE when absent or expired. */
  @inline lookupIn(proto: u8, caddr: A, cport: u16, vaddr: A, vport: u16, now: u32): u32 {
    let i = load<u32>(this.inHeads + (<usize>this.hIn(proto, caddr, cport, vaddr, vport) << 2));
    while (i != NONE) {
      const p = this.e(i);
      const o = this.o;
      if (load<u16>(p + o) == cport && load<u16>(p + o + 2) == vport && load<u8>(p + o + 6) == proto
        && (load<u16>(p + o + 8) & CF_TEMPLATE) == 0
        && eqA<A>(load<A>(p), caddr) && eqA<A>(load<A>(p + sizeof<A>()), vaddr)) {
        return this.live(i, now) ? i : NONE;
      }
      i = load<u32>(p + o + 24);
    }
    return NONE;
  }

  /** Template lookup (persistence): caddr already masked, cport 0. */
  lookupTemplate(proto: u8, caddr: A, vaddr: A, vport: u16, now: u32): u32 {
    let i = load<u32>(this.inHeads + (<usize>this.hIn(proto, caddr, 0, vaddr, vport) << 2));
    while (i != NONE) {
      const p = this.e(i);
      const o = this.o;
      if (load<u16>(p + o) == 0 && load<u16>(p + o + 2) == vport && load<u8>(p + o + 6) == proto
        && (load<u16>(p + o + 8) & CF_TEMPLATE) != 0
        && eqA<A>(load<A>(p), caddr) && eqA<A>(load<A>(p + sizeof<A>()), vaddr)) {
        return this.live(i, now) || this.nControl(i) > 0 ? i : NONE;
      }
      i = load<u32>(p + o + 24);
    }
    return NONE;
  }

  /** Real-server-side lookup (NAT replies): src = daddr:dport, dst = caddr:cport. */
  @inline lookupOut(proto: u8, daddr: A, dport: u16, caddr: A, cport: u16, now: u32): u32 {
    let i = load<u32>(this.outHeads + (<usize>this.hOut(proto, daddr, dport, caddr, cport) << 2));
    while (i != NONE) {
      const p = this.e(i);
      const o = this.o;
      if (load<u16>(p + o + 4) == dport && load<u16>(p + o) == cport && load<u8>(p + o + 6) == proto
        && eqA<A>(load<A>(p + 2 * sizeof<A>()), daddr) && eqA<A>(load<A>(p), caddr)) {
        return this.live(i, now) ? i : NONE;
      }
      i = load<u32>(p + o + 28);
    }
    return NONE;
  }

  /**
   * Takes a free entry and hashes it; NONE when the table is full (after
   * trying to reclaim expired entries with a small bounded sweep).
   */
  insert(proto: u8, caddr: A, cport: u16, vaddr: A, vport: u16, daddr: A, dport: u16,
    flags: u16, destId: u32, control: u32, expires: u32, now: u32): u32 {
    if (this.freeHead == NONE) this.expireStep(now, 64);
    const i = this.freeHead;
    if (i == NONE) return NONE;
    this.freeHead = this.nextIn(i);
    const p = this.e(i);
    store<A>(p, caddr);
    store<A>(p + sizeof<A>(), vaddr);
    store<A>(p + 2 * sizeof<A>(), daddr);
    const o = this.o;
    store<u16>(p + o, cport);
    store<u16>(p + o + 2, vport);
    store<u16>(p + o + 4, dport);
    store<u8>(p + o + 6, proto);
    store<u8>(p + o + 7, 0);
    store<u16>(p + o + 8, flags | CF_USED);
    store<u16>(p + o + 10, 0);
    store<u32>(p + o + 12, destId);
    store<u32>(p + o + 16, expires);
    store<u32>(p + o + 20, control);
    const hi = <usize>this.hIn(proto, caddr, cport, vaddr, vport) << 2;
    this.setNextIn(i, load<u32>(this.inHeads + hi));
    store<u32>(this.inHeads + hi, i);
    if (flags & CF_HASHED_OUT) {
      const ho = <usize>this.hOut(proto, daddr, dport, caddr, cport) << 2;
      this.setNextOut(i, load<u32>(this.outHeads + ho));
      store<u32>(this.outHeads + ho, i);
    } else {
      this.setNextOut(i, NONE);
    }
    if (control != NONE) this.setNControl(control, this.nControl(control) + 1);
    this.count++;
    return i;
  }

  /**
   * Points entry i at another real server (connection sync: the peer's entry
   * names a different one). The out-hash covers the real server, so a NAT
   * entry is unhashed and hashed again; binding counters are the caller's.
   */
  rebind(i: u32, daddr: A, dport: u16, destId: u32, flags: u16): void {
    const f = this.flags(i);
    if (f & CF_HASHED_OUT) {
      this.unlinkFrom(this.outHeads, this.hOut(this.proto(i), this.daddr(i), this.dport(i), this.caddr(i), this.cport(i)), i, true);
    }
    const p = this.e(i);
    store<A>(p + 2 * sizeof<A>(), daddr);
    store<u16>(p + this.o + 4, dport);
    store<u32>(p + this.o + 12, destId);
    this.setFlags(i, flags | CF_USED);
    if (flags & CF_HASHED_OUT) {
      const ho = <usize>this.hOut(this.proto(i), daddr, dport, this.caddr(i), this.cport(i)) << 2;
      this.setNextOut(i, load<u32>(this.outHeads + ho));
      store<u32>(this.outHeads + ho, i);
    } else {
      this.setNextOut(i, NONE);
    }
  }

  /** Puts entry i under template c (connection sync links an installed connection late). */
  setControl(i: u32, c: u32): void {
    const old = this.control(i);
    if (old == c) return;
    if (old != NONE && (this.flags(old) & CF_USED) != 0) this.setNControl(old, this.nControl(old) - 1);
    store<u32>(this.e(i) + this.o + 20, c);
    if (c != NONE) this.setNControl(c, this.nControl(c) + 1);
  }

  private unlinkFrom(heads: usize, h: u32, i: u32, out: bool): void {
    const hp = heads + (<usize>h << 2);
    let cur = load<u32>(hp);
    if (cur == i) {
      store<u32>(hp, out ? this.nextOut(i) : this.nextIn(i));
      return;
    }
    while (cur != NONE) {
      const nx = out ? this.nextOut(cur) : this.nextIn(cur);
      if (nx == i) {
        if (out) this.setNextOut(cur, this.nextOut(i)); else this.setNextIn(cur, this.nextIn(i));
        return;
      }
      cur = nx;
    }
  }

  /** Removes an entry: unhash, release its real server, detach from its template, free. */
  remove(i: u32): void {
    const f = this.flags(i);
    if ((f & CF_USED) == 0) return;
    this.unlinkFrom(this.inHeads, this.hIn(this.proto(i), this.caddr(i), this.cport(i), this.vaddr(i), this.vport(i)), i, false);
    if (f & CF_HASHED_OUT) {
      this.unlinkFrom(this.outHeads, this.hOut(this.proto(i), this.daddr(i), this.dport(i), this.caddr(i), this.cport(i)), i, true);
    }
    const id = this.destId(i);
    if (id != 0) unbindConn(destState(id), (f & CF_TEMPLATE) != 0, (f & CF_INACTIVE) != 0);
    const c = this.control(i);
    if (c != NONE && (this.flags(c) & CF_USED) != 0) this.setNControl(c, this.nControl(c) - 1);
    this.setFlags(i, 0);
    this.setNextIn(i, this.freeHead);
    this.freeHead = i;
    this.count--;
  }

  /**
   * Examines up to budget entries from the sweep cursor and removes the
   * expired ones. A template that still has connections is renewed for 60 s
   * instead (as IPVS re-arms a template's timer).
   * Returns how many entries were removed.
   */
  expireStep(now: u32, budget: u32): u32 {
    let removed: u32 = 0;
    let c = this.cursor;
    const n = budget < this.cap ? budget : this.cap;
    for (let k: u32 = 0; k < n; k++) {
      const f = this.flags(c);
      if ((f & CF_USED) != 0 && !this.live(c, now)) {
        if ((f & CF_TEMPLATE) != 0 && this.nControl(c) > 0) {
          // IPVS's ip_vs_conn_expire (expire_later) re-checks such a template
          // after 60 s, not after a whole persistence timeout: renewing it for
          // -p seconds kept a client pinned up to -p after its last
          // connection had gone (test/dataplane/persistence.test.ts).
          this.setExpires(c, now + TEMPLATE_RECHECK_MS);
        } else {
          this.remove(c);
          removed++;
        }
      }
      c = c + 1 == this.cap ? 0 : c + 1;
    }
    this.cursor = c;
    return removed;
  }

  /** Removes every entry (e.g. for tests, or `ipvsadm -C` with flush of connections). */
  clear(): void {
    for (let i: u32 = 0; i < this.cap; i++) if (this.flags(i) & CF_USED) this.remove(i);
  }
}

// ---- the data plane's two tables ----

/** The IPv4 and IPv6 connection tables, sized once by initTables (index.ts init). */
export let conns4: ConnTable<u32> = changetype<ConnTable<u32>>(0);
export let conns6: ConnTable<v128> = changetype<ConnTable<v128>>(0);

export function initTables(cap4: u32, cap6: u32, seed: u32): void {
  conns4 = new ConnTable<u32>(cap4, seed);
  conns6 = new ConnTable<v128>(cap6 > 0 ? cap6 : 1, seed ^ 0x9e3779b9);
}

/** The connection table of the address family A. */
@inline export function table<A>(): ConnTable<A> {
  if (isVector<A>()) return changetype<ConnTable<A>>(conns6);
  return changetype<ConnTable<A>>(conns4);
}

/**
 * IPVS's expire_quiescent_template (the export setExpireQuiescent): a
 * persistence template whose real server has weight 0 is dropped when next
 * looked up, so the client is scheduled afresh (core.ts newConn).
 */
export let expireQuiescentTemplate: bool = false;
export function setExpireQuiescentTemplate(on: bool): void { expireQuiescentTemplate = on; }
