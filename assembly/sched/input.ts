// What a scheduler may look at for a new connection: the first packet's
// addresses and ports. Filled once per new connection by the core; a global
// so that schedule() allocates nothing.

@final export class SchedInput {
  af: u8 = 4;
  proto: u8 = 0;
  /** Client (source) and destination addresses, network order, IPv4 in lane 0. */
  saddr: v128 = i32x4.splat(0);
  daddr: v128 = i32x4.splat(0);
  /** Ports in network order. */
  sport: u16 = 0;
  dport: u16 = 0;
}

export const schedInput = new SchedInput();
