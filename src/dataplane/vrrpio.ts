// VRRP's packet I/O on one data link: an AF_PACKET RX socket whose classic
// BPF filter takes only VRRP (IPv4 protocol 112, IPv6 next header 112,
// untagged or behind one 802.1Q tag), read on this thread's event loop
// (native watch(): no CPU while idle), and an AF_PACKET TX ring for whole
// frames (adverts, gratuitous ARPs, unsolicited NAs). The supervisor's VRRP
// (src/vrrp/) is its user; it decodes the frames with packet.ts.
//
// AF_PACKET sees a frame before the nftables netdev ingress drop the
// appliance puts on attached links, and every AF_PACKET socket gets its own
// copy, so this works on attached links and leaves the data plane's RX ring
// alone. RX is TPACKET_V2 (a frame is handed over at once: V3's block
// timeout would add to every advert's latency) with PACKET_IGNORE_OUTGOING
// (our own adverts do not come back). The kernel moves an 802.1Q tag into the
// frame's metadata before AF_PACKET sees it; a tag found in the frame itself
// is taken out the same way, so onFrame always gets an untagged frame and the
// VLAN id beside it.
//
// Multicast on real NICs: the kernel has no subscription to 224.0.0.18 /
// ff02::12 on a data link (its addresses live on the TAP mirror), and the
// addon has no PACKET_ADD_MEMBERSHIP; veth and TAP do not filter, a NIC with
// a multicast filter needs its link in allmulticast mode.

import { RawLink, type RawLinkOptions, type RawLinkStats } from "./rawlink.js";
import { Asm, encode, layout, ABS, B, H, IMM, IND, JEQ, K, LD, LDX, RET, W } from "./steer/cbpf.js";
import { ETH_IP as ETH_P_IP, ETH_IPV6 as ETH_P_IPV6, ETH_8021Q as ETH_P_8021Q } from "./steer/rule.js";
import { IPPROTO_VRRP } from "../vrrp/packet.js";

/**
 * The socket filter (sock_filter[], 8 bytes per instruction): accepts an
 * Ethernet frame, untagged or with one 802.1Q tag, carrying IPv4 protocol 112
 * or IPv6 next header 112 (no extension headers: adverts have none); drops
 * everything else, and a frame too short to hold the byte it tests.
 */
export function vrrpFilter(): Uint8Array {
  const a = new Asm();
  const VLAN = a.label(), IP4 = a.label(), IP6 = a.label(), ACCEPT = a.label(), DROP = a.label();
  a.op(LDX | W | IMM, 0); // X = the tag's length
  a.op(LD | H | ABS, 12);
  a.jmp(JEQ, ETH_P_8021Q, VLAN);
  a.jmp(JEQ, ETH_P_IP, IP4);
  a.jmp(JEQ, ETH_P_IPV6, IP6, DROP);
  a.bind(VLAN);
  a.op(LDX | W | IMM, 4);
  a.op(LD | H | ABS, 16);
  a.jmp(JEQ, ETH_P_IP, IP4);
  a.jmp(JEQ, ETH_P_IPV6, IP6, DROP);
  a.bind(IP4);
  a.op(LD | B | IND, 14 + 9); // protocol
  a.jmp(JEQ, IPPROTO_VRRP, ACCEPT, DROP);
  a.bind(IP6);
  a.op(LD | B | IND, 14 + 6); // next header
  a.jmp(JEQ, IPPROTO_VRRP, ACCEPT, DROP);
  a.bind(ACCEPT);
  a.op(RET | K, 0xffffffff);
  a.bind(DROP);
  a.op(RET | K, 0);
  return encode(layout(a.code));
}

export type VrrpLinkOptions = RawLinkOptions;
export type VrrpLinkStats = RawLinkStats;

/** A RawLink whose filter takes VRRP only; its errors say "VRRP packet I/O" with code VRRP_IO. */
export class VrrpLink extends RawLink {
  /**
   * Opens the RX socket (filter attached before bind: nothing else ever
   * reaches its ring) and the TX ring on dev, and starts reading. Throws
   * WeirError NO_DEVICE for an unknown link, VRRP_IO for any other failure
   * (e.g. EPERM without CAP_NET_RAW); nothing stays open then.
   */
  static open(dev: string, o: VrrpLinkOptions): Promise<VrrpLink> {
    return VrrpLink.openRaw(dev, { filter: vrrpFilter(), what: "VRRP packet I/O", ioCode: "WEIR_ERR_VRRP_IO" }, o);
  }
}
