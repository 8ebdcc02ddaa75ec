// A virtual service: one (protocol, VIP, port) or one firewall mark, its real
// servers and its scheduler. Services are copied on write by configuration
// transactions (svc/generation.ts): the live generation is never modified in
// place, so a batch always sees one whole configuration.

import { Stats } from "../stats/counters";
import { Dest, DestState } from "./dest";
import { Scheduler } from "../sched/scheduler";
import { addrEq } from "../util/bytes";

/** IP_VS_SVC_F_* flags, with IPVS's values. */
export const SVC_F_PERSISTENT: u32 = 0x0001;
export const SVC_F_HASHED: u32 = 0x0002;
export const SVC_F_ONEPACKET: u32 = 0x0004;
export const SVC_F_SCHED1: u32 = 0x0008; // sh-fallback, mh-fallback
export const SVC_F_SCHED2: u32 = 0x0010; // sh-port, mh-port
export const SVC_F_SCHED3: u32 = 0x0020;

@final export class Service {
  id: u32 = 0;
  af: u8 = 4;
  /** IPPROTO_TCP / IPPROTO_UDP, or 0 for a firewall-mark service. */
  proto: u8 = 0;
  addr: v128 = i32x4.splat(0);
  /** Network order. 0 with -p means "all ports" (persistent port-zero service). */
  port: u16 = 0;
  fwmark: u32 = 0;
  flags: u32 = 0;
  /** Persistence timeout (-p), milliseconds. */
  timeoutMs: u32 = 0;
  /** Persistence netmask (-M): IPv4 mask in network order, or IPv6 prefix length. */
  netmask: u32 = 0xffffffff;
  schedId: i32 = 0;
  sched: Scheduler;
  dests: Array<Dest> = new Array<Dest>();
  stats: Stats;
  /** Set when this copy's dests or scheduler changed and tables must be rebuilt at commit. */
  dirty: bool = true;
  /** Position in the services array of the generation being built (svc/generation.ts). */
  pos: i32 = 0;

  constructor(sched: Scheduler, stats: Stats) { this.sched = sched; this.stats = stats; }

  /** Copy for a transaction: new Dest configs over the same DestStates and counters. */
  clone(): Service {
    const s = new Service(this.sched, this.stats);
    s.id = this.id; s.af = this.af; s.proto = this.proto; s.addr = this.addr; s.port = this.port;
    s.fwmark = this.fwmark; s.flags = this.flags; s.timeoutMs = this.timeoutMs;
    s.netmask = this.netmask; s.schedId = this.schedId;
    for (let i = 0; i < this.dests.length; i++) s.dests.push(this.dests[i].clone());
    s.dirty = true;
    return s;
  }

  findDest(af: u8, addr: v128, port: u16): i32 {
    const ds = this.dests;
    for (let i = 0; i < ds.length; i++) {
      const d = unchecked(ds[i]);
      if (d.af == af && d.port == port && addrEq(d.addr, addr)) return i;
    }
    return -1;
  }

  sameKey(o: Service): bool {
    if (this.fwmark != 0 || o.fwmark != 0) return this.fwmark == o.fwmark && this.af == o.af;
    return this.af == o.af && this.proto == o.proto && this.port == o.port && addrEq(this.addr, o.addr);
  }
}

export { Dest, DestState };
