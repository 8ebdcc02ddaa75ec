// The scheduler interface, modelled on IPVS's struct ip_vs_scheduler.
//
// IPVS calls add_dest/del_dest/upd_dest as each ipvsadm command arrives. Weir
// applies configuration in transactions, so those three hooks collapse into
// one: update(svc) runs once at commit for every service whose real servers
// changed, with svc.dests already final. It rebuilds whatever lookup tables
// the scheduler keeps (wrr's gcd/max weight, sh/dh buckets, the Maglev ring).
// The same instance may serve the previous generation until the commit, so
// update() must not be called earlier and schedule() must only use what
// update() built for the service it is given.
//
// schedule() runs per new connection: it never allocates and returns a Dest
// of svc.dests, or null when no real server can take the connection.

import { Service, Dest } from "../svc/service";
import { SchedInput } from "./input";

export abstract class Scheduler {
  /** Rebuild tables after the service's real servers changed (init/add/del/upd_dest). */
  update(svc: Service): void {}
  abstract schedule(svc: Service, inp: SchedInput): Dest | null;
}

/**
 * IPVS's is_overloaded() as used by the schedulers: a dest is skipped when it is
 * flagged overloaded (over its upper threshold, see svc/bind.ts) or when its
 * weight is 0 (quiescent: no new connections, existing ones continue).
 */
@inline export function usable(d: Dest): bool {
  return d.weight > 0 && !d.overloaded;
}

/**
 * ip_vs_dest_conn_overhead(): active connections weigh 256 times an inactive
 * one (activeconns << 8) + inactconns, the load estimate of lc/wlc/lblc/lblcr/twos.
 */
@inline export function connOverhead(d: Dest): i32 {
  return (d.activeconns << 8) + d.inactconns;
}

/** The Internet hash constant IPVS multiplies addresses by in sh/dh/lblc (Knuth, 2654435761). */
export const GOLDEN_PRIME: u32 = 2654435761;
