// Canonical text for services and real servers, shared by the estimator's
// state keys and the metric labels:
//
//   {proto:"tcp", addr:"198.18.100.1", port:80}   → "tcp/198.18.100.1:80"
//   {proto:"udp", addr:"2001:DB8::1", port:53}    → "udp/[2001:db8::1]:53"
//   {fwmark:7} / {fwmark:7, af:6}                 → "fwm/7" / "fwm6/7"
//   {addr:"198.19.0.11", port:80}                 → "198.19.0.11:80" (no port: ":0")
//
// Addresses are normalised (RFC 5952 for IPv6) so that two spellings of one
// address name one series. These are labels people read and query; the
// keys the code looks things up by are keys.ts's.

import type { ServiceKey, FwdName } from "../dataplane/dataplane.js";
import { hostPort, normalAddr } from "../keys.js";

/** A real server as the metrics see it: DestSpec's identity and forwarding method. */
export interface TargetDest {
  addr: string;
  /** Absent for a fwmark service's real server given without a port (ipvsadm shows 0). */
  port?: number;
  fwd: FwdName;
}

/** One service and its real servers, as the configuration currently has them. */
export interface Target {
  service: ServiceKey;
  dests: TargetDest[];
}

export function serviceText(key: ServiceKey): string {
  if ("fwmark" in key) return `${key.af === 6 ? "fwm6" : "fwm"}/${key.fwmark}`;
  return `${key.proto}/${hostPort(normalAddr(key.addr), key.port)}`;
}

export function destText(dest: { addr: string; port?: number }): string {
  return hostPort(normalAddr(dest.addr), dest.port ?? 0);
}
