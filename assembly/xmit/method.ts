// Choosing and running a connection's forwarding method, as IPVS keeps its
// transmitters in ip_vs_xmit.c: xmitIn takes a client's packet to the real
// server by NAT (destination rewritten, xmit/nat.ts), DR (the datagram
// unchanged, to the real server's MAC) or TUN (wrapped in IPv4,
// xmit/tun.ts); xmitOut takes a NAT reply back to the client (source
// rewritten). Both route the packet and check the egress MTU first, answering
// "too big" when DF (or IPv6) forbids fragmenting. Written once over the
// address type, as core.ts is.

import * as M from "../packet/meta";
import { dstA } from "../packet/meta";
import { ETH_HLEN } from "../packet/ether";
import { link } from "../net/link";
import * as route from "../net/route";
import { FWD_MASQ, FWD_TUNNEL } from "../svc/dest";
import * as D from "../stats/drops";
import { drop, txInstead } from "./verdict";
import { copyDatagram, sendIp } from "./send";
import { dnat, snat } from "./nat";
import { encap4, TUN_OVERHEAD } from "./tun";
import { tooBig } from "./icmpgen";
import * as O from "./offload";
import { toV128, afOf } from "../util/bytes";

/** Checks the egress MTU; sends "too big" back when DF (or IPv6) forbids fragmenting. */
function mtuExceeded(inP: usize, outP: usize, outCap: u32, mtu: u32): i32 {
  const lk = link(curInLink);
  let df = true;
  if (M.af == 4) df = (load<u8>(inP + M.l3 + 6) & 0x40) != 0;
  if (!df || lk === null) return drop(D.R_TOO_BIG);
  const n = tooBig(inP, lk!, outP, outCap, mtu);
  if (n == 0) return drop(D.R_TOO_BIG);
  return txInstead(lk!.id, n, D.R_TOO_BIG);
}

/** Ingress link of the frame in flight (mtuExceeded answers on it); core.ts sets it per frame. */
let curInLink: i32 = 0;
@inline export function setInLink(l: i32): void { curInLink = l; }

/** Sends a client's packet on to the real server daddr:dport by forwarding method fwd. */
@inline export function xmitIn<A>(fwd: u8, daddr: A, dport: u16, inP: usize, outP: usize, outCap: u32, now: u32): i32 {
  const ipLen = M.l3end - M.l3;
  const af = afOf<A>();
  const dst = toV128<A>(daddr);
  const ok = isVector<A>() ? route.lookup(af, dst) : route.lookup4(<u32>daddr);
  if (!ok) return drop(D.R_NO_ROUTE);
  const lk = link(route.nhLink);
  if (lk === null || !lk.up) return drop(D.R_NO_ROUTE);
  // A GSO frame goes out as segments of headers + gso_size: that is what must fit.
  const wire = O.wireLen(inP, ipLen);
  if (fwd == FWD_TUNNEL) {
    if (isVector<A>()) return drop(D.R_UNSUPPORTED);
    if (wire + TUN_OVERHEAD > lk.mtu) return mtuExceeded(inP, outP, outCap, lk.mtu - TUN_OVERHEAD);
    const inner = copyDatagram(inP, outP, outCap, TUN_OVERHEAD);
    if (inner == 0) return drop(D.R_OUT_NO_ROOM);
    encap4(inner - TUN_OVERHEAD, ipLen, lk.primary4, <u32>daddr);
    O.tunnelOut(outP, M.l3, ETH_HLEN + TUN_OVERHEAD, ETH_HLEN + TUN_OVERHEAD + ipLen);
    return sendIp(outP, outCap, ipLen + TUN_OVERHEAD, lk, 4, route.nhAddr, now);
  }
  if (wire > lk.mtu) return mtuExceeded(inP, outP, outCap, lk.mtu);
  const ip = copyDatagram(inP, outP, outCap, 0);
  if (ip == 0) return drop(D.R_OUT_NO_ROOM);
  O.carry(M.l3, ETH_HLEN);
  if (fwd == FWD_MASQ) {
    const l4 = M.firstFrag ? ip + (M.l4 - M.l3) : 0;
    dnat<A>(ip, l4, M.proto, daddr, dport);
    return sendIp(outP, outCap, ipLen, lk, af, route.nhAddr, now);
  }
  // DR: the real server itself is the next hop, whatever the route's gateway.
  return sendIp(outP, outCap, ipLen, lk, af, dst, now);
}

/** Sends a NAT real server's reply on to the client, from the virtual service vaddr:vport. */
export function xmitOut<A>(vaddr: A, vport: u16, inP: usize, outP: usize, outCap: u32, now: u32): i32 {
  const ipLen = M.l3end - M.l3;
  const af = afOf<A>();
  const ok = isVector<A>() ? route.lookup(af, toV128<A>(dstA<A>())) : route.lookup4(<u32>dstA<A>());
  if (!ok) return drop(D.R_NO_ROUTE);
  const lk = link(route.nhLink);
  if (lk === null || !lk.up) return drop(D.R_NO_ROUTE);
  // Replies get the same egress MTU check as xmitIn (the kernel's ip_forward
  // does it before IPVS sees the reply): "too big" goes back to the real
  // server, quoting its packet as sent. Checked before the input is rewritten.
  if (O.wireLen(inP, ipLen) > lk.mtu) return mtuExceeded(inP, outP, outCap, lk.mtu);
  const ip = copyDatagram(inP, outP, outCap, 0);
  if (ip == 0) return drop(D.R_OUT_NO_ROOM);
  O.carry(M.l3, ETH_HLEN);
  const l4 = M.firstFrag ? ip + (M.l4 - M.l3) : 0;
  snat<A>(ip, l4, M.proto, vaddr, vport);
  return sendIp(outP, outCap, ipLen, lk, af, route.nhAddr, now);
}
