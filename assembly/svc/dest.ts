// Real servers ("destinations" in IPVS). A Dest is the configuration of one
// real server inside one generation; its DestState is the part that lives
// across generations (connection counters, statistics) and that connection
// entries point to by id, as IPVS connections hold a reference to their dest.

import { Stats } from "../stats/counters";

/** Forwarding methods, numbered as IPVS's IP_VS_CONN_F_FWD_MASK values. */
export const FWD_MASQ: u8 = 0;   // NAT (-m)
export const FWD_LOCALNODE: u8 = 1;
export const FWD_TUNNEL: u8 = 2; // TUN (-i)
export const FWD_DROUTE: u8 = 3; // DR  (-g)

/** IP_VS_DEST_F_AVAILABLE / IP_VS_DEST_F_OVERLOAD. */
export const DEST_F_AVAILABLE: u32 = 0x1;
export const DEST_F_OVERLOAD: u32 = 0x2;

@final export class DestState {
  id: u32 = 0;
  /** Counters of the service this real server belongs to (shared by all its dests). */
  svcStats: Stats;
  stats: Stats = new Stats();
  activeconns: i32 = 0;
  inactconns: i32 = 0;
  persistconns: i32 = 0;
  /** IP_VS_DEST_F_* bits; AVAILABLE while the real server is in the live generation. */
  flags: u32 = 0;
  /** Thresholds copied from the live generation at commit. */
  uThreshold: u32 = 0;
  lThreshold: u32 = 0;
  /** Where new connections of a template go, copied from the live Dest at commit. */
  addr: v128 = i32x4.splat(0);
  port: u16 = 0;
  fwd: u8 = 3;
  weight: i32 = 0;
  /** Connections (and templates) still bound to this state, plus 1 while configured. */
  refcnt: i32 = 0;
  constructor(svcStats: Stats) { this.svcStats = svcStats; }
}

@final export class Dest {
  /** Address in network order (IPv4 in lane 0). */
  addr: v128 = i32x4.splat(0);
  /** Port, network order. */
  port: u16 = 0;
  af: u8 = 4;
  fwd: u8 = FWD_DROUTE;
  weight: i32 = 1;
  /** Upper / lower connection thresholds (-x / -y); 0 means none. */
  uThreshold: u32 = 0;
  lThreshold: u32 = 0;
  /** Tunnel type/port fields are not modelled: IP-in-IP only. */
  st: DestState;
  constructor(st: DestState) { this.st = st; }

  clone(): Dest {
    const d = new Dest(this.st);
    d.addr = this.addr; d.port = this.port; d.af = this.af; d.fwd = this.fwd;
    d.weight = this.weight; d.uThreshold = this.uThreshold; d.lThreshold = this.lThreshold;
    return d;
  }

  @inline get activeconns(): i32 { return this.st.activeconns; }
  @inline get inactconns(): i32 { return this.st.inactconns; }
  @inline get overloaded(): bool { return (this.st.flags & DEST_F_OVERLOAD) != 0; }
  @inline get available(): bool { return (this.st.flags & DEST_F_AVAILABLE) != 0; }
}
