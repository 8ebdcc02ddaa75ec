// Firewall-mark classification. IPVS relies on iptables to mark packets and a
// -f service to match the mark; the appliance has no iptables in front, so it
// carries the classifier itself: ordered rules (protocol, destination prefix,
// destination port range) → mark, first match wins. One mark can gather
// several protocols, addresses and ports into one service, as LVS mail
// clusters group SMTP, POP3 and IMAP so that a client sticks to one server.

@final export class MarkRule {
  af: u8 = 4;
  /** 0 matches any protocol. */
  proto: u8 = 0;
  /** Destination prefix, network order (IPv4 in lane 0). */
  addr: v128 = i32x4.splat(0);
  prefixLen: u8 = 0;
  /** Destination port range, host order, inclusive; 0..65535 for all. */
  portLo: u16 = 0;
  portHi: u16 = 65535;
  mark: u32 = 0;
}

/** Network-order IPv4 mask for a prefix length. */
@inline export function v4mask(len: u32): u32 {
  return len == 0 ? 0 : bswap<u32>(<u32>(0xffffffff << (32 - len)));
}

const tmp = memory.data(32);

/** True when address a lies in prefix p/len (both network order). */
export function prefixMatch(af: u8, a: v128, p: v128, len: u32): bool {
  if (af == 4) {
    const m = v4mask(len);
    return ((<u32>i32x4.extract_lane(a, 0) ^ <u32>i32x4.extract_lane(p, 0)) & m) == 0;
  }
  v128.store(tmp, a);
  v128.store(tmp + 16, p);
  const full = len >> 3;
  for (let i: u32 = 0; i < full; i++) if (load<u8>(tmp + i) != load<u8>(tmp + 16 + i)) return false;
  const rem = len & 7;
  if (rem == 0) return true;
  const m = <u8>(<u32>0xff << (8 - rem));
  return ((load<u8>(tmp + full) ^ load<u8>(tmp + 16 + full)) & m) == 0;
}

/** The mark for a packet, or 0 when no rule matches. dport in host order. */
export function classify(rules: Array<MarkRule>, af: u8, proto: u8, daddr: v128, dport: u32): u32 {
  for (let i = 0, n = rules.length; i < n; i++) {
    const r = unchecked(rules[i]);
    if (r.af != af) continue;
    if (r.proto != 0 && r.proto != proto) continue;
    if (dport < <u32>r.portLo || dport > <u32>r.portHi) continue;
    if (!prefixMatch(af, daddr, r.addr, r.prefixLen)) continue;
    return r.mark;
  }
  return 0;
}
