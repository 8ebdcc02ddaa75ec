// The configuration as values. A ConfigState is never changed in place:
// a Draft copies what it changes (copy on write), so the previous state stays
// whole for diffing against the data plane and for undo.

import type { FwdName, Proto } from "../dataplane/dataplane.js";
import type { Family } from "./addr.js";
import type { SvcKey } from "../keys.js";

export interface DestConf {
  af: Family;
  addr: string;
  /** For DR and TUN of a -t/-u service always the service's port (ipvsadm forces it); a fwmark service's keep theirs (0: none). */
  port: number;
  fwd: FwdName;
  weight: number;
  uThreshold: number;
  lThreshold: number;
}

/** IP_VS_SVC_F_SCHED1..3 as bits 1, 2, 4. */
export type SchedFlags = number;

export interface ServiceConf {
  key: SvcKey;
  scheduler: string;
  flags: SchedFlags;
  /** Persistence timeout in seconds; 0 when not persistent. */
  persistent: number;
  /** Persistence granularity as a prefix length (32 / 128 by default). */
  netmask: number;
  onePacket: boolean;
  /** Real servers by destId, in the order they were added. */
  dests: ReadonlyMap<string, DestConf>;
}

export interface LinkConf {
  name: string;
  /** Data-plane link id, given on first use and kept. */
  id: number;
  mac: string;
  mtu: number;
  up: boolean;
  /** Set by `ip link set … mtu/address` (printed in running-config), not read from the host. */
  mtuSet: boolean;
  macSet: boolean;
}

export interface AddrConf { dev: string; af: Family; addr: string; len: number; }

/**
 * A VRRP instance's virtual address (src/vrrp/): in the data plane on its
 * link from the moment the instance exists, in standby, and owned only while
 * the instance is MASTER (ConfigModel.setVipOwned). Not an `ip addr`: it is
 * not mirrored to the host stack and running-config prints it with its instance.
 */
export interface VipConf extends AddrConf { instance: string; }

/** A static route (connected routes come from addresses). */
export interface RouteConf { af: Family; net: string; len: number; via?: string; dev: string; }

/** A firewall-mark classifier rule: iptables -t mangle -A PREROUTING … -j MARK --set-mark N. */
export interface MarkRule { af: Family; proto?: Proto; net: string; len: number; ports?: [number, number]; mark: number; }

export interface Timeouts { tcp: number; tcpfin: number; udp: number; }

export const DEFAULT_TIMEOUTS: Timeouts = { tcp: 900, tcpfin: 120, udp: 300 };

export interface ConfigState {
  readonly services: ReadonlyMap<string, ServiceConf>;
  readonly marks: readonly MarkRule[];
  readonly links: ReadonlyMap<string, LinkConf>;
  readonly nextLinkId: number;
  readonly addrs: readonly AddrConf[];
  readonly routes: readonly RouteConf[];
  readonly vips: readonly VipConf[];
  readonly timeouts: Timeouts;
}

export function emptyState(): ConfigState {
  return { services: new Map(), marks: [], links: new Map(), nextLinkId: 0, addrs: [], routes: [], vips: [], timeouts: { ...DEFAULT_TIMEOUTS } };
}

/** The data plane's schedulers (assembly/sched/registry.ts, generated into src/dataplane/schedulers.ts by build:wasm). */
export { SCHEDULERS } from "../dataplane/schedulers.js";
export const DEFAULT_SCHEDULER = "wlc";
/** A bare -p: ipvsadm.c's IPVS_SVC_PERSISTENT_TIMEOUT, (6*60) (its man page says 300; the code is what runs). */
export const DEFAULT_PERSISTENCE = 360;
/** The data plane keeps persistence timeouts in ms in a u32 (assembly/ctl/api.ts readSvc). */
export const MAX_PERSISTENCE = Math.floor(0x7fffffff / 1000);
/** ipvsadm's MAX_TIMEOUT (31 days), for --set. */
export const MAX_TIMEOUT = 86400 * 31;

/** Names of the -b flags as ipvsadm prints them for a scheduler (print_sched_flags). */
export function schedFlagNames(scheduler: string, flags: SchedFlags): string[] {
  const names = scheduler === "sh" ? ["sh-fallback", "sh-port", "flag-3"]
    : scheduler === "mh" ? ["mh-fallback", "mh-port", "flag-3"]
    : ["flag-1", "flag-2", "flag-3"];
  return names.filter((_, i) => (flags & (1 << i)) !== 0);
}
