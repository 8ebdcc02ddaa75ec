// Loader for the Rust addon (native/src) plus the ring layout constants the
// Wasm data plane uses to walk the rings in place. Types: index.d.ts; the
// layouts are explained in README.md.
import { createRequire } from "node:module";
import { existsSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const require = createRequire(import.meta.url);
const here = dirname(fileURLToPath(import.meta.url));

function addonPath() {
  const base = `weir-native.${process.platform}-${process.arch}`;
  const names = process.platform === "linux" ? [`${base}-gnu.node`, `${base}-musl.node`] : [`${base}.node`];
  for (const n of names) {
    const p = join(here, n);
    if (existsSync(p)) return p;
  }
  const err = new Error(`the weir native addon is not built (looked for ${names.join(", ")} in ${here}): run \`npm run build:native\``);
  err.code = "WEIR_ERR_NATIVE_MISSING";
  throw err;
}

const addon = require(addonPath());

export const {
  linkInfo,
  openRx,
  openTx,
  ringInfo,
  mapInto,
  mapSeparate,
  kickTx,
  stats,
  setFilter,
  close,
  poll,
  pollAsync,
  wakerOpen,
  wake,
  tapOpen,
  tapRead,
  tapWrite,
  watch,
  unwatch,
} = addon;

/** TAP handles close like any other handle. */
export const tapClose = close;

// ---- Ring layouts (linux/if_packet.h, linux/virtio_net.h); all fields are
// host byte order (little-endian here) except the frames themselves. ----

export const TPACKET_V2 = 1;
export const TPACKET_V3 = 2;
export const TPACKET_ALIGNMENT = 16;

/** tp_status / block_status bits. RX: KERNEL..GSO_TCP; TX: AVAILABLE..WRONG_FORMAT. */
export const TP_STATUS = Object.freeze({
  KERNEL: 0,
  USER: 1 << 0,
  COPY: 1 << 1,
  LOSING: 1 << 2,
  CSUMNOTREADY: 1 << 3,
  VLAN_VALID: 1 << 4,
  BLK_TMO: 1 << 5,
  VLAN_TPID_VALID: 1 << 6,
  CSUM_VALID: 1 << 7,
  GSO_TCP: 1 << 8,
  AVAILABLE: 0,
  SEND_REQUEST: 1 << 0,
  SENDING: 1 << 1,
  WRONG_FORMAT: 1 << 2,
  TS_SOFTWARE: 1 << 29,
  TS_RAW_HARDWARE: 2 ** 31,
});

/** struct tpacket_block_desc (RX V3): at the start of every block. Offsets in bytes. */
export const BLOCK_DESC = Object.freeze({
  VERSION: 0, // u32
  OFFSET_TO_PRIV: 4, // u32
  BLOCK_STATUS: 8, // u32: TP_STATUS_KERNEL (kernel owns it) or TP_STATUS_USER (|BLK_TMO, |LOSING)
  NUM_PKTS: 12, // u32
  OFFSET_TO_FIRST_PKT: 16, // u32, from the block start
  BLK_LEN: 20, // u32, bytes used
  SEQ_NUM: 24, // u64
  TS_FIRST_SEC: 32, // u32
  TS_FIRST_NSEC: 36, // u32
  TS_LAST_SEC: 40, // u32
  TS_LAST_NSEC: 44, // u32
  SIZE: 48,
});

/** struct tpacket3_hdr (RX V3): one per frame inside a block. */
export const TPACKET3_HDR = Object.freeze({
  NEXT_OFFSET: 0, // u32: from this header to the next one's (0 for the last)
  SEC: 4, // u32
  NSEC: 8, // u32
  SNAPLEN: 12, // u32: bytes present in the ring
  LEN: 16, // u32: bytes on the wire (> SNAPLEN if truncated)
  STATUS: 20, // u32: TP_STATUS_* flags (CSUMNOTREADY, CSUM_VALID, VLAN_VALID, GSO_TCP, …)
  MAC: 24, // u16: from this header to the Ethernet header
  NET: 26, // u16: from this header to the network header
  RXHASH: 28, // u32 (filled with openRx rxhash: true)
  VLAN_TCI: 32, // u32 (valid with TP_STATUS_VLAN_VALID; the tag is stripped from the frame)
  VLAN_TPID: 36, // u16 (valid with TP_STATUS_VLAN_TPID_VALID)
  SIZE: 48,
});

/** struct tpacket2_hdr (TX V2): frame i at ring offset i × frameSize. */
export const TPACKET2_HDR = Object.freeze({
  STATUS: 0, // u32: AVAILABLE → user fills, sets SEND_REQUEST; kernel: SENDING → AVAILABLE (or WRONG_FORMAT)
  LEN: 4, // u32: bytes to send from DATA_OFFSET (including the virtio_net_hdr with vnetHdr)
  SNAPLEN: 8, // u32
  MAC: 12, // u16
  NET: 14, // u16
  SEC: 16, // u32
  NSEC: 20, // u32
  VLAN_TCI: 24, // u16
  VLAN_TPID: 26, // u16
  SIZE: 32,
  /** Where the frame (or its virtio_net_hdr) starts: TPACKET2_HDRLEN - sizeof(sockaddr_ll). */
  DATA_OFFSET: 32,
});

/** struct virtio_net_hdr (10 bytes, little-endian): RX just before the frame
 * (at tp_mac - SIZE), TX at DATA_OFFSET with the frame right after it. */
export const VIRTIO_NET_HDR = Object.freeze({
  FLAGS: 0, // u8
  GSO_TYPE: 1, // u8
  HDR_LEN: 2, // u16
  GSO_SIZE: 4, // u16
  CSUM_START: 6, // u16: from the Ethernet header
  CSUM_OFFSET: 8, // u16: from CSUM_START to the checksum field
  SIZE: 10,
  F_NEEDS_CSUM: 1,
  F_DATA_VALID: 2,
  GSO_NONE: 0,
  GSO_TCPV4: 1,
  GSO_UDP: 3,
  GSO_TCPV6: 4,
  GSO_UDP_L4: 5,
  GSO_ECN: 0x80,
});
