// One counter per reason a frame is dropped (or answered instead of
// forwarded). Every frame the data plane does not transmit or pass to the
// host stack is counted under exactly one reason.

export const R_NONE: i32 = 0;
export const R_LINK_DOWN: i32 = 1;
export const R_ETH_TRUNCATED: i32 = 2;
export const R_NOT_OUR_MAC: i32 = 3;
export const R_ETHERTYPE: i32 = 4;
export const R_ARP_MALFORMED: i32 = 5;
export const R_IP_MALFORMED: i32 = 6;
export const R_IP_BAD_CSUM: i32 = 7;
export const R_IPV6_BAD_EXT: i32 = 8;
export const R_L4_MALFORMED: i32 = 9;
export const R_TTL_EXPIRED: i32 = 10;
export const R_NO_SERVICE: i32 = 11;
export const R_NO_CONN: i32 = 12;
export const R_NO_DEST: i32 = 13;
export const R_CONN_TABLE_FULL: i32 = 14;
export const R_NO_ROUTE: i32 = 15;
export const R_NEIGH_UNRESOLVED: i32 = 16;
export const R_OUT_NO_ROOM: i32 = 17;
export const R_FRAG_NO_STATE: i32 = 18;
export const R_FRAG_TABLE_FULL: i32 = 19;
export const R_TOO_BIG: i32 = 20;
export const R_ICMP_UNMATCHED: i32 = 21;
export const R_ICMP_MALFORMED: i32 = 22;
export const R_BAD_LINK: i32 = 23;
export const R_UNSUPPORTED: i32 = 24;
export const R_DEST_GONE: i32 = 25;
/** For an address held in standby (net/link.ts addrOwn): a VRRP backup's virtual address is not this box's. */
export const R_VIP_STANDBY: i32 = 26;
export const R_COUNT: i32 = 27;

export const DROP_NAMES: StaticArray<string> = [
  "none", "link_down", "eth_truncated", "not_our_mac", "ethertype", "arp_malformed", "ip_malformed",
  "ip_bad_checksum", "ipv6_bad_ext_header", "l4_malformed", "ttl_expired", "no_service", "no_conn",
  "no_dest", "conn_table_full", "no_route", "neigh_unresolved", "out_no_room", "frag_no_state",
  "frag_table_full", "too_big", "icmp_unmatched", "icmp_malformed", "bad_link", "unsupported", "dest_gone",
  "vip_standby",
];

export const drops = new StaticArray<u64>(R_COUNT);

@inline export function countDrop(r: i32): void { unchecked(drops[r]++); }
