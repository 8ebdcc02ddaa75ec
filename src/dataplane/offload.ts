// The descriptor's offload flags (assembly/xmit/offload.ts): a virtio_net_hdr
// folded into 32 bits. Encoding and decoding for tests and tools.

export const OF = {
  NEEDS_CSUM: 0x1,
  DATA_VALID: 0x2,
  GSO_SHIFT: 2,
  GSO_ECN: 0x20,
  CSUM_UDP: 0x40,
  CSUM_START_SHIFT: 7,
  GSO_SIZE_SHIFT: 16,
} as const;

export const GSO = { NONE: 0, TCPV4: 1, UDP: 3, TCPV6: 4, UDP_L4: 5 } as const;

export interface Offload {
  /** VIRTIO_NET_HDR_F_NEEDS_CSUM: the L4 checksum field holds the pseudo-header sum. */
  needsCsum?: boolean;
  dataValid?: boolean;
  /** Bytes from the Ethernet header to where the checksum starts (the L4 header). */
  csumStart?: number;
  /** 16 (TCP, default) or 6 (UDP). */
  csumOffset?: 16 | 6;
  gsoType?: number;
  gsoSize?: number;
  ecn?: boolean;
}

export function encodeOffload(o: Offload): number {
  let f = 0;
  if (o.needsCsum) {
    const start = o.csumStart ?? 0;
    if (!Number.isInteger(start) || start < 0 || start > 511) throw new RangeError(`csum_start ${start} out of range (0-511)`);
    f |= OF.NEEDS_CSUM | (start << OF.CSUM_START_SHIFT) | (o.csumOffset === 6 ? OF.CSUM_UDP : 0);
  }
  if (o.dataValid) f |= OF.DATA_VALID;
  if (o.gsoType) f |= ((o.gsoType & 7) << OF.GSO_SHIFT) | (o.ecn ? OF.GSO_ECN : 0) | ((o.gsoSize ?? 0) << OF.GSO_SIZE_SHIFT);
  return f >>> 0;
}

export function decodeOffload(f: number): Required<Offload> {
  return {
    needsCsum: (f & OF.NEEDS_CSUM) !== 0,
    dataValid: (f & OF.DATA_VALID) !== 0,
    csumStart: (f >>> OF.CSUM_START_SHIFT) & 0x1ff,
    csumOffset: (f & OF.CSUM_UDP) !== 0 ? 6 : 16,
    gsoType: (f >>> OF.GSO_SHIFT) & 7,
    gsoSize: f >>> OF.GSO_SIZE_SHIFT,
    ecn: (f & OF.GSO_ECN) !== 0,
  };
}
