// The steering rule (rule.ts) as plain TS over one frame: the reference model
// that the tests hold every worker's cBPF program (program.ts) to. Written
// for clarity, not speed; nothing on the packet path runs it.

import {
  checkWorkers, reals, v6key, ETH_8021AD, ETH_8021Q, ETH_ARP, ETH_IP, ETH_IPV6, ICMP4_ERRORS, K1, K2, K3, ND_NA, type SteerSpec,
} from "./rule.js";

/** The worker index that owns an Ethernet frame (no virtio header), "all" (every worker and the supervisor), or "none". */
export function steerOwner(frame: Uint8Array, spec: Omit<SteerSpec, "member">): number | "all" | "none" {
  const { workers, byAddressOnly } = spec;
  checkWorkers(workers);
  const r = reals(spec.natReals);
  const dv = new DataView(frame.buffer, frame.byteOffset, frame.byteLength);
  const len = frame.length;
  if (len < 14) return 0;
  let type = dv.getUint16(12), l3 = 14;
  if (type === ETH_8021Q || type === ETH_8021AD) {
    if (len < 18) return 0;
    type = dv.getUint16(16);
    l3 = 18;
  }
  const avail = len - l3;
  if (type === ETH_ARP) return avail >= 8 && dv.getUint16(l3 + 6) === 2 ? "all" : 0;
  // The packet steered by: the frame's own at l3, or the one an ICMP error quotes.
  let at = l3, quoted = false;
  let addr: number, proto: number, l4: number, clientIsDst: boolean, ports: boolean;
  if (type === ETH_IP) {
    if (avail < 20) return 0;
    const icmpAt = l3 + 4 * (frame[l3] & 0xf);
    if (frame[l3 + 9] === 1 && (dv.getUint16(l3 + 6) & 0x3fff) === 0 && len >= icmpAt + 8 + 20
      && ICMP4_ERRORS.includes(frame[icmpAt]) && frame[icmpAt + 8] >> 4 === 4) {
      at = icmpAt + 8;
      quoted = true;
    }
    clientIsDst = r.v4set.has(dv.getUint32(at + (quoted ? 16 : 12))) !== quoted;
    addr = dv.getUint32(at + (clientIsDst ? 16 : 12));
    proto = frame[at + 9];
    ports = (dv.getUint16(at + 6) & 0x3fff) === 0;
    l4 = at + 4 * (frame[at] & 0xf);
  } else if (type === ETH_IPV6) {
    if (avail < 40) return 0;
    if (frame[l3 + 6] === 58) {
      if (avail < 41) return 0;
      const t = frame[l3 + 40];
      if (t === ND_NA) return "all";
      if (t >= 133 && t <= 137) return 0;
      if (t >= 1 && t <= 4 && avail >= 48 + 40 && frame[l3 + 48] >> 4 === 6) {
        at = l3 + 48;
        quoted = true;
      }
    }
    clientIsDst = r.v6keys.has(v6key(dv, at + (quoted ? 24 : 8))) !== quoted;
    const c = at + (clientIsDst ? 24 : 8);
    addr = dv.getUint32(c);
    for (let j = 1; j < 4; j++) addr = (Math.imul(addr, K1) ^ dv.getUint32(c + 4 * j)) >>> 0;
    proto = frame[at + 6];
    ports = true;
    l4 = at + 40;
  } else return 0;

  let port = 0;
  if (!byAddressOnly && ports && (proto === 6 || proto === 17)) {
    if (len - 4 >= l4) port = dv.getUint16(l4 + (clientIsDst ? 2 : 0));
    else if (!quoted) return 0; // truncated; a quote cut before its ports goes by address
  }
  let h = Math.imul(addr, K1) >>> 0;
  h = (h ^ (h >>> 15)) >>> 0;
  h = (h ^ Math.imul(port, K2)) >>> 0;
  h = (h ^ (h >>> 13)) >>> 0;
  h = Math.imul(h, K3) >>> 0;
  h = (h ^ (h >>> 16)) >>> 0;
  return h % workers;
}
