// One connection-sync entry on the wire: a connection or a persistence
// template of the master's table, as the backup installs it. Fixed size, so
// a message is a header and N entries (docs/sync-protocol.md). Multi-byte
// fields are big-endian (network order), as in IPVS's sync entries
// (ip_vs_sync.c), which this follows in spirit: flat entries, the real
// server named by address and port, the timer as time left.
//
//   0   u8   kind        1 connection, 2 template
//   1   u8   af          4 or 6
//   2   u8   proto       IP protocol number (6 TCP, 17 UDP, 1/58 ICMP; a fwmark template's 0 too)
//   3   u8   state       IPVS's TCP state numbers (0 NONE, 1 ESTABLISHED … 10 SYNACK); 0 for others
//   4   u8   fwd         0 NAT (masq), 1 TUN (ipip), 2 DR (route)
//   5   u8   flags       FLAG_* below
//   6   u16  reserved    0
//   8   u16  cport       client port
//   10  u16  vport       virtual port
//   12  u16  dport       real server port
//   14  u16  reserved    0
//   16  u32  timeoutMs   time left before the entry expires, ms
//   20  u32  reserved    0
//   24  16B  caddr       client address (IPv4: the first 4 bytes, the rest 0)
//   40  16B  vaddr       virtual address (FLAG_FWMARK: the mark, u32 in the first 4 bytes)
//   56  16B  daddr       real server address
//   72

export const ENTRY_SIZE = 72;

export const KIND_CONN = 1;
export const KIND_TEMPLATE = 2;

export const FWD_NAT = 0;
export const FWD_TUN = 1;
export const FWD_DR = 2;

export const FLAG_ONEPACKET = 0x01;
export const FLAG_NOOUTPUT = 0x02;
export const FLAG_INACTIVE = 0x04;
/** vaddr carries a firewall mark (a fwmark service's template). */
export const FLAG_FWMARK = 0x08;

export const OFF = {
  kind: 0, af: 1, proto: 2, state: 3, fwd: 4, flags: 5,
  cport: 8, vport: 10, dport: 12, timeoutMs: 16,
  caddr: 24, vaddr: 40, daddr: 56,
} as const;
