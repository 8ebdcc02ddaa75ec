// The per-frame path (IPVS's ip_vs_core.c): classify a frame, find or make
// its connection, and hand it to its forwarding method (xmit/method.ts).
// Written once over the address type A (u32 for IPv4, v128 for IPv6);
// the compiler specialises it, so the IPv4 path handles plain integers.
//
// Order for an IP packet: ICMP errors and owned-address traffic aside,
//   1. client-side connection lookup (packets to a virtual service),
//   2. real-server-side lookup (NAT replies),
//   3. service lookup (fwmark rules, then protocol/address/port) → new connection.

import * as M from "./packet/meta";
import { srcA, dstA } from "./packet/meta";
import { parseEther, ethType, l3off, loadMac, isMulticastMac, ETH_P_IP, ETH_P_IPV6, ETH_P_ARP } from "./packet/ether";
import { parseIPv4, V4_OK, V4_BAD_CSUM, IPPROTO_TCP, IPPROTO_UDP, IPPROTO_ICMP, IPPROTO_ICMPV6 } from "./packet/ipv4";
import { parseIPv6, V6_OK, V6_BAD_EXT } from "./packet/ipv6";
import { parseTcp, TH_SYN, TH_RST, TH_ACK } from "./packet/tcp";
import { parseUdp } from "./packet/udp";
import { parseIcmp, ICMP_ECHO, ICMP6_ECHO_REQUEST, ND_NEIGHBOR_SOLICIT, ND_NEIGHBOR_ADVERT, isIcmp4Error, isIcmp6Error } from "./packet/icmp";
import { Link, link, owns, owns4, standby4Has, standby6Has } from "./net/link";
import { handleArp, ARP_OK_REPLY, ARP_MALFORMED, ARP_STANDBY, replyLen as arpReplyLen } from "./net/arp";
import { handleNd, ND_REPLY, ND_STANDBY, replyLen as ndReplyLen } from "./net/nd";
import { ConnTable, table, expireQuiescentTemplate, NONE, CF_USED, CF_TEMPLATE, CF_INACTIVE, CF_HASHED_OUT, CF_NOOUTPUT, CF_FWD_SHIFT } from "./conn/table";
import * as S from "./conn/state";
import * as frag from "./conn/frag";
import { findService, findFwmark, live } from "./svc/generation";
import { classify } from "./svc/fwmark";
import { Service, SVC_F_PERSISTENT, SVC_F_ONEPACKET } from "./svc/service";
import { DestState, FWD_MASQ, FWD_DROUTE, DEST_F_AVAILABLE } from "./svc/dest";
import { bindConn, destState, moveActive } from "./svc/bind";
import { schedInput } from "./sched/input";
import { countIn, countOut } from "./stats/counters";
import * as D from "./stats/drops";
import { V_LOCAL, drop, tx, resetOut } from "./xmit/verdict";
import { xmitIn, xmitOut, setInLink } from "./xmit/method";
import { echoReply } from "./xmit/icmpgen";
import { handleIcmpError } from "./xmit/icmperr";
import { v4addr, toV128, fromV128, afOf } from "./util/bytes";
import * as O from "./xmit/offload";
import { syncOn, logEntry } from "./conn/synclog";

/** Processes one frame. Output (if any) is left in the output slot; see xmit/verdict. */
export function processFrame(inP: usize, inLen: u32, inLink: i32, outP: usize, outCap: u32, now: u32): i32 {
  resetOut();
  setInLink(inLink);
  const lk = link(inLink);
  if (lk === null) return drop(D.R_BAD_LINK);
  if (!lk.up) return drop(D.R_LINK_DOWN);
  if (!parseEther(inP, inLen)) return drop(D.R_ETH_TRUNCATED);
  const dmac = loadMac(inP);
  if (dmac != lk.mac && !isMulticastMac(dmac)) return drop(D.R_NOT_OUR_MAC);
  const t = ethType;
  if (t == ETH_P_IP) {
    const r = parseIPv4(inP, l3off, inLen);
    if (r != V4_OK) return drop(r == V4_BAD_CSUM ? D.R_IP_BAD_CSUM : D.R_IP_MALFORMED);
    O.settleInput(inP);
    return ipIn<u32>(inP, lk, outP, outCap, now);
  }
  if (t == ETH_P_IPV6) {
    const r = parseIPv6(inP, l3off, inLen);
    if (r != V6_OK) return drop(r == V6_BAD_EXT ? D.R_IPV6_BAD_EXT : D.R_IP_MALFORMED);
    O.settleInput(inP);
    return ipIn<v128>(inP, lk, outP, outCap, now);
  }
  if (t == ETH_P_ARP) {
    const r = handleArp(inP, inLen, l3off, lk, outP, outCap, now);
    if (r == ARP_MALFORMED) return drop(D.R_ARP_MALFORMED);
    if (r == ARP_OK_REPLY) return tx(lk.id, arpReplyLen);
    if (r == ARP_STANDBY) return drop(D.R_VIP_STANDBY);
    return V_LOCAL;
  }
  return drop(D.R_ETHERTYPE);
}

@inline function ownedHere<A>(lk: Link): bool {
  if (isVector<A>()) return owns(lk, 6, M.daddr6);
  return owns4(lk, M.daddr4);
}

/**
 * True when a is an address held in standby (a VRRP backup's VIP, net/link.ts):
 * its traffic is not this box's. A module global per family gates the scan,
 * so with no standby address this is one global read.
 */
@inline function standby<A>(a: A): bool {
  if (isVector<A>()) return standby6Has(toV128<A>(a));
  return standby4Has(<u32>a);
}

function ipIn<A>(inP: usize, lk: Link, outP: usize, outCap: u32, now: u32): i32 {
  // For a standby address: no service, no connection, no echo, no host stack
  // (as on an IPVS backup, where the VIP is not on the box). Connection
  // entries are left alone, so a takeover back finds them.
  if (standby<A>(dstA<A>())) return drop(D.R_VIP_STANDBY);
  const proto = M.proto;
  if (M.fragment && !M.firstFrag) return fragFollow<A>(inP, outP, outCap, now);
  const end = M.l3end;
  if (proto == IPPROTO_TCP) {
    if (!parseTcp(inP, M.l4, end)) return drop(D.R_L4_MALFORMED);
  } else if (proto == IPPROTO_UDP) {
    if (!parseUdp(inP, M.l4, end)) return drop(D.R_L4_MALFORMED);
  } else if (proto == (isVector<A>() ? IPPROTO_ICMPV6 : IPPROTO_ICMP)) {
    return icmpIn<A>(inP, lk, outP, outCap, now);
  } else {
    return ownedHere<A>(lk) ? V_LOCAL : drop(D.R_NO_SERVICE);
  }
  const t = table<A>();
  const saddr = srcA<A>(), daddr = dstA<A>();
  let i = t.lookupIn(proto, saddr, M.sport, daddr, M.dport, now);
  if (i != NONE) {
    if (!newConnExpected<A>(t, i)) return fwdIn<A>(i, inP, outP, outCap, now);
    t.remove(i); // the client reused the port of a closed connection: schedule afresh
  }
  i = t.lookupOut(proto, saddr, M.sport, daddr, M.dport, now);
  if (i != NONE) return fwdOut<A>(i, inP, outP, outCap, now);
  const svc = serviceFor<A>(proto, daddr);
  if (svc !== null) return newConn<A>(svc!, inP, lk, outP, outCap, now);
  return ownedHere<A>(lk) ? V_LOCAL : drop(D.R_NO_SERVICE);
}

/**
 * IPVS's is_new_conn_expected (conn_reuse_mode 1): a fresh SYN that hits an
 * entry in TIME_WAIT or CLOSE (or FIN_WAIT of a DR/TUN connection, whose
 * replies we never see) starts a new connection, which is scheduled again
 * instead of riding the old entry to its old real server. Connections under
 * a persistence template keep their server anyway and are left alone.
 */
@inline function newConnExpected<A>(t: ConnTable<A>, i: u32): bool {
  if (M.proto != IPPROTO_TCP || (M.tcpFlags & (TH_SYN | TH_ACK | TH_RST)) != TH_SYN) return false;
  if (t.control(i) != NONE) return false;
  const s = t.state(i);
  return s == S.S_TIME_WAIT || s == S.S_CLOSE || (s == S.S_FIN_WAIT && (t.flags(i) & CF_NOOUTPUT) != 0);
}

/** Firewall-mark rules first (as iptables marks would be), then the service itself. */
function serviceFor<A>(proto: u8, daddr: A): Service | null {
  const af = afOf<A>();
  const g = live;
  if (g.hasFwmark && g.marks.length > 0) {
    const mark = classify(g.marks, af, proto, toV128<A>(daddr), <u32>bswap<u16>(M.dport));
    if (mark != 0) {
      const s = findFwmark(af, mark);
      if (s !== null) return s;
    }
  }
  return findService(af, proto, toV128<A>(daddr), M.dport);
}

// ---- connection setup ----

/** Maps a client address under the persistence netmask (-M). (conn/sync.ts makes a synced connection's template key with it too.) */
@inline export function maskClient<A>(a: A, svc: Service): A {
  if (isVector<A>()) {
    const len = svc.netmask; // prefix length for IPv6
    if (len >= 128) return a;
    const hiBits = len >= 64 ? 64 : len;
    const loBits = len >= 64 ? len - 64 : 0;
    // Network order: lane 0 holds the first 8 bytes; build the byte-order mask there.
    const hi: u64 = hiBits == 0 ? 0 : bswap<u64>(<u64>(-1) << (64 - hiBits));
    const lo: u64 = loBits == 0 ? 0 : bswap<u64>(<u64>(-1) << (64 - loBits));
    return changetype<A>(v128.and(changetype<v128>(a), i64x2.replace_lane(i64x2.splat(<i64>hi), 1, <i64>lo)));
  }
  return changetype<A>(<u32>a & svc.netmask);
}

function newConn<A>(svc: Service, inP: usize, lk: Link, outP: usize, outCap: u32, now: u32): i32 {
  const proto = M.proto;
  if (proto == IPPROTO_TCP) {
    // Only a SYN opens a connection (IPVS without sloppy_tcp); anything else is stray.
    const f = M.tcpFlags;
    if ((f & TH_SYN) == 0 || (f & (TH_RST | TH_ACK)) != 0) {
      return ownedHere<A>(lk) ? V_LOCAL : drop(D.R_NO_CONN);
    }
  }
  const t = table<A>();
  const caddr = srcA<A>(), vaddr = dstA<A>();
  let st: DestState | null = null;
  let control: u32 = NONE;
  if ((svc.flags & SVC_F_PERSISTENT) != 0) {
    // Persistence template: (masked client, service) → real server (ip_vs_sched_persist).
    const tc = maskClient<A>(caddr, svc);
    const tv: A = svc.fwmark != 0 ? fromV128<A>(v4addr(svc.fwmark)) : vaddr;
    const tport: u16 = svc.fwmark != 0 ? 0 : svc.port;
    const tproto: u8 = svc.fwmark != 0 ? 0 : proto;
    let ti = t.lookupTemplate(tproto, tc, tv, tport, now);
    if (ti != NONE) {
      const ts = destState(t.destId(ti));
      if ((ts.flags & DEST_F_AVAILABLE) == 0 || (expireQuiescentTemplate && ts.weight == 0)) {
        if (t.nControl(ti) == 0) t.remove(ti);
        ti = NONE;
      } else {
        st = ts;
      }
    }
    if (ti == NONE) {
      const d = pick<A>(svc);
      if (d === null) return drop(D.R_NO_DEST);
      st = d;
      ti = t.insert(tproto, tc, 0, tv, tport, fromV128<A>(d!.addr), d!.port,
        CF_TEMPLATE | (<u16>d!.fwd << CF_FWD_SHIFT), d!.id, NONE, now + svc.timeoutMs, now);
      if (ti == NONE) return drop(D.R_CONN_TABLE_FULL);
      bindConn(d!, true, false);
      if (syncOn) logEntry<A>(t, ti, now);
    } else {
      const left = <i32>(t.expires(ti) - now);
      t.setExpires(ti, now + svc.timeoutMs);
      if (syncOn && left < <i32>(svc.timeoutMs >> 1)) logEntry<A>(t, ti, now); // as track(): re-sent once per half timeout
    }
    control = ti;
  } else {
    st = pick<A>(svc);
    if (st === null) return drop(D.R_NO_DEST);
  }
  const d = st!;
  const dport: u16 = d.port != 0 ? d.port : M.dport;
  const daddr = fromV128<A>(d.addr);
  svc.stats.conns++;
  d.stats.conns++;
  if ((svc.flags & SVC_F_ONEPACKET) != 0 && proto == IPPROTO_UDP) {
    // One-packet scheduling (-o): every datagram is scheduled on its own, no entry kept.
    countIn(d.svcStats, M.l3end - M.l3); countIn(d.stats, M.l3end - M.l3);
    return xmitIn<A>(d.fwd, daddr, dport, inP, outP, outCap, now);
  }
  let flags: u16 = CF_INACTIVE | (<u16>d.fwd << CF_FWD_SHIFT);
  if (d.fwd == FWD_MASQ) flags |= CF_HASHED_OUT; else flags |= CF_NOOUTPUT;
  const i = t.insert(proto, caddr, M.sport, vaddr, M.dport, daddr, dport, flags, d.id, control, now, now);
  if (i == NONE) return drop(D.R_CONN_TABLE_FULL);
  bindConn(d, false, true);
  return fwdIn<A>(i, inP, outP, outCap, now);
}

/** Runs the service's scheduler on the current packet. */
function pick<A>(svc: Service): DestState | null {
  const inp = schedInput;
  inp.af = afOf<A>();
  inp.proto = M.proto;
  inp.saddr = toV128<A>(srcA<A>());
  inp.daddr = toV128<A>(dstA<A>());
  inp.sport = M.sport;
  inp.dport = M.dport;
  const d = svc.sched.schedule(svc, inp);
  return d === null ? null : d.st;
}

// ---- established connections ----

/**
 * TCP state machine step and timer refresh for a packet of connection i.
 * With connection sync on (conn/synclog.ts) the entry is logged when its
 * state changed, or when its timer had run down past half its timeout: so a
 * new entry (inserted with no time left) is logged at its first packet, and
 * a busy long-lived one at least once per half timeout, which keeps the
 * backup's copy alive while this one lives, at no per-entry cost.
 */
@inline function track<A>(t: ConnTable<A>, i: u32, dir: u32, now: u32): void {
  const proto = t.proto(i);
  let timeout: u32;
  let changed = false;
  if (proto == IPPROTO_TCP) {
    let flags = t.flags(i);
    let d = dir;
    if ((flags & CF_NOOUTPUT) != 0) d = S.DIR_INPUT_ONLY;
    const old = t.state(i);
    const ns = S.tcpNext(old, d, M.tcpFlags);
    if (ns != old) {
      const id = t.destId(i);
      if (id != 0) {
        const st = destState(id);
        if ((flags & CF_INACTIVE) == 0 && ns != S.S_ESTABLISHED) {
          moveActive(st, false); flags |= CF_INACTIVE; t.setFlags(i, flags);
        } else if ((flags & CF_INACTIVE) != 0 && ns == S.S_ESTABLISHED) {
          moveActive(st, true); flags &= ~CF_INACTIVE; t.setFlags(i, flags);
        }
      }
      t.setState(i, ns);
      changed = true;
    }
    timeout = S.tcpTimeout(ns);
  } else if (proto == IPPROTO_UDP) {
    timeout = S.udpTimeout;
  } else {
    timeout = S.icmpTimeout;
  }
  if (syncOn) {
    const left = <i32>(t.expires(i) - now);
    t.setExpires(i, now + timeout);
    if (changed || left < <i32>(timeout >> 1)) logEntry<A>(t, i, now);
    return;
  }
  t.setExpires(i, now + timeout);
}

@inline function fwdIn<A>(i: u32, inP: usize, outP: usize, outCap: u32, now: u32): i32 {
  const t = table<A>();
  const st = destState(t.destId(i));
  if ((st.flags & DEST_F_AVAILABLE) == 0) return destGone<A>(t, i);
  track<A>(t, i, S.DIR_INPUT, now);
  const len = M.l3end - M.l3;
  countIn(st.stats, len); countIn(st.svcStats, len);
  if (M.fragment) frag.note(afOf<A>(), M.proto, toV128<A>(srcA<A>()), toV128<A>(dstA<A>()), M.fragId, i, 0, now);
  return xmitIn<A>(t.fwd(i), t.daddr(i), t.dport(i), inP, outP, outCap, now);
}

function fwdOut<A>(i: u32, inP: usize, outP: usize, outCap: u32, now: u32): i32 {
  const t = table<A>();
  // A NAT reply leaves from the VIP: not while the VIP is in standby.
  if (standby<A>(t.vaddr(i))) return drop(D.R_VIP_STANDBY);
  const st = destState(t.destId(i));
  if ((st.flags & DEST_F_AVAILABLE) == 0) return destGone<A>(t, i);
  track<A>(t, i, S.DIR_OUTPUT, now);
  const len = M.l3end - M.l3;
  countOut(st.stats, len); countOut(st.svcStats, len);
  if (M.fragment) frag.note(afOf<A>(), M.proto, toV128<A>(srcA<A>()), toV128<A>(dstA<A>()), M.fragId, i, 1, now);
  return xmitOut<A>(t.vaddr(i), t.vport(i), inP, outP, outCap, now);
}

/**
 * The connection's real server was deleted from its service: as IPVS with
 * expire_nodest_conn=1, the entry is expired and the packet dropped, so the
 * client's next attempt is scheduled on a live server. (Draining is what
 * weight 0 is for: existing connections continue, new ones go elsewhere.)
 */
function destGone<A>(t: ConnTable<A>, i: u32): i32 {
  t.remove(i);
  return drop(D.R_DEST_GONE);
}

/** Later fragments: same connection, same direction, no transport header to touch. */
function fragFollow<A>(inP: usize, outP: usize, outCap: u32, now: u32): i32 {
  if (!frag.find(afOf<A>(), M.proto, toV128<A>(srcA<A>()), toV128<A>(dstA<A>()), M.fragId, now)) return drop(D.R_FRAG_NO_STATE);
  const t = table<A>();
  const i = frag.foundConn;
  // The note outlives its connection: an entry freed since is no longer CF_USED.
  if ((t.flags(i) & CF_USED) == 0) return drop(D.R_FRAG_NO_STATE);
  const st = destState(t.destId(i));
  const len = M.l3end - M.l3;
  if (frag.foundDir == 0) {
    countIn(st.stats, len); countIn(st.svcStats, len);
    return xmitIn<A>(t.fwd(i), t.daddr(i), t.dport(i), inP, outP, outCap, now);
  }
  if (standby<A>(t.vaddr(i))) return drop(D.R_VIP_STANDBY);
  countOut(st.stats, len); countOut(st.svcStats, len);
  return xmitOut<A>(t.vaddr(i), t.vport(i), inP, outP, outCap, now);
}

// ---- ICMP ----

function icmpIn<A>(inP: usize, lk: Link, outP: usize, outCap: u32, now: u32): i32 {
  if (!parseIcmp(inP, M.l4, M.l3end)) return drop(D.R_ICMP_MALFORMED);
  const type = load<u8>(inP + M.l4);
  if (isVector<A>()) {
    if (type == ND_NEIGHBOR_SOLICIT || type == ND_NEIGHBOR_ADVERT) {
      const r = handleNd(inP, lk, outP, outCap, now);
      if (r == ND_REPLY) return tx(lk.id, ndReplyLen);
      if (r == ND_STANDBY) return drop(D.R_VIP_STANDBY);
      return V_LOCAL;
    }
    if (type == ICMP6_ECHO_REQUEST && ownedHere<A>(lk)) {
      const n = echoReply(inP, lk, outP, outCap);
      return n > 0 ? tx(lk.id, n) : drop(D.R_OUT_NO_ROOM);
    }
    if (isIcmp6Error(type)) return handleIcmpError<v128>(inP, lk, outP, outCap, now);
    return ownedHere<A>(lk) ? V_LOCAL : drop(D.R_ICMP_UNMATCHED);
  }
  if (type == ICMP_ECHO && ownedHere<A>(lk)) {
    const n = echoReply(inP, lk, outP, outCap);
    return n > 0 ? tx(lk.id, n) : drop(D.R_OUT_NO_ROOM);
  }
  if (isIcmp4Error(type)) return handleIcmpError<u32>(inP, lk, outP, outCap, now);
  return ownedHere<A>(lk) ? V_LOCAL : drop(D.R_ICMP_UNMATCHED);
}

