// Typings for the Weir native addon (native/src, Rust, std only). Every failing
// system call throws a NativeError whose message names the call, the errno name
// and what was attempted, e.g. "setsockopt(PACKET_RX_RING) on eth1 (…): EINVAL (Invalid argument)".

/** An open descriptor in the process-wide handle table (usable from any thread). */
export type Handle = number;

export interface NativeError extends Error {
  /** errno name (`ENODEV`, `EPERM`, …), or `WEIR_ERR_INVALID_ARG`, `WEIR_ERR_BAD_HANDLE`, `WEIR_ERR_NAPI`. */
  code: string;
  errno?: number;
  /** The call that failed, e.g. `"setsockopt(PACKET_FANOUT)"`. */
  syscall?: string;
}

export interface LinkInfo {
  ifindex: number;
  /** "aa:bb:cc:dd:ee:ff" */
  mac: string;
  mtu: number;
  /** IFF_UP */
  up: boolean;
  /** IFF_RUNNING (carrier) */
  running: boolean;
}

export type FanoutMode = "hash" | "lb" | "cpu" | "rollover" | "rnd" | "qm" | "cbpf";

export interface RxOptions {
  /**
   * 3 (default): TPACKET_V3, frames packed in blocks handed over when full or after
   * blockTimeoutMs — best for throughput, but a lone frame waits up to blockTimeoutMs
   * (measured here: p50 ≈ 0.6 ms with 1 ms). 2: TPACKET_V2, one slot of frameSize per
   * frame handed over at once (measured p50 ≈ 25 µs); frames longer than a slot are truncated.
   */
  version?: 2 | 3;
  /** Bytes per block: a multiple of the page size; large enough for the largest frame (64 KiB+ with GSO/GRO). */
  blockSize: number;
  blockCount: number;
  /** Multiple of 16, ≥ 68. V3: only sizes the kernel's frame count (frames are packed). V2: the slot size; must divide blockSize. */
  frameSize: number;
  /** A block that holds frames is handed over after at most this long (tp_retire_blk_tov, ms). Default 1. */
  blockTimeoutMs?: number;
  /** Join this PACKET_FANOUT group (same link, same netns). */
  fanoutGroup?: number;
  /** Default "hash" (symmetric flow hash). */
  fanoutMode?: FanoutMode;
  /** PACKET_FANOUT_FLAG_* bits (ROLLOVER 0x1000, UNIQUEID 0x2000, IGNORE_OUTGOING 0x4000, DEFRAG 0x8000). */
  fanoutFlags?: number;
  /** sock_filter[] (8 bytes each) for fanoutMode "cbpf": returns the member index. */
  cbpf?: Uint8Array;
  /** PACKET_VNET_HDR: a virtio_net_hdr precedes every frame. */
  vnetHdr?: boolean;
  /** sock_filter[] (8 bytes each) attached with SO_ATTACH_FILTER before the socket is bound: frames it rejects never reach the ring. */
  filter?: Uint8Array;
  /** Fill tp_rxhash (TP_FT_REQ_FILL_RXHASH). Default false. */
  rxhash?: boolean;
  /** PACKET_IGNORE_OUTGOING: do not see frames sent on the link (ours included). Default true. */
  ignoreOutgoing?: boolean;
}

export interface TxOptions {
  /** Multiple of 16 above 32 that tiles pages within 256 KiB blocks (a power of two, or a multiple of the page size). */
  frameSize: number;
  /** A multiple of the frames per block (pageSize / frameSize when frameSize < pageSize). */
  frameCount: number;
  /** PACKET_VNET_HDR: each frame starts with a virtio_net_hdr (offloads handed to the kernel). */
  vnetHdr?: boolean;
  /** PACKET_QDISC_BYPASS when accepted (reported in the geometry). Default true. */
  qdiscBypass?: boolean;
  /** PACKET_LOSS: a malformed frame is skipped instead of stalling the ring. Default true. */
  loss?: boolean;
}

export interface RingGeometry {
  kind: "rx" | "tx";
  ifname: string;
  /** 3 (TPACKET_V3: RX blocks) or 2 (TPACKET_V2: TX, or RX with version 2; slot i at i × frameSize). */
  version: number;
  /** Where the ring starts in the memory view (mapInto), 0 otherwise. */
  offset: number;
  /** Bytes: blockSize × blockCount. */
  size: number;
  blockSize: number;
  blockCount: number;
  frameSize: number;
  frameCount: number;
  vnetHdr: boolean;
  /** RX V3 only. */
  blockTimeoutMs?: number;
  /** TX only: frame data starts this far into a frame slot (32). */
  dataOffset?: number;
  /** TX only: PACKET_QDISC_BYPASS accepted. */
  qdiscBypass?: boolean;
}

export interface SeparateRing extends RingGeometry {
  /** External ArrayBuffer over a mapping of its own (unmapped when collected). */
  buffer: ArrayBuffer;
}

export interface RingStats {
  /** tp_packets since the previous call (includes drops). */
  packets: number;
  /** tp_drops since the previous call: frames lost for want of a free block. */
  drops: number;
  /** tp_freeze_q_cnt (V3): times the ring was full and the queue froze. */
  freezes: number;
  /** errno name of a socket error since the previous call (ENETDOWN when the link went away), or null. */
  error: string | null;
}

/** Index, MAC, MTU and state of a link (SIOCGIF* ioctls). */
export function linkInfo(ifname: string): LinkInfo;

/** AF_PACKET socket bound to `ifname` (ETH_P_ALL) with a TPACKET_V3 RX ring. */
export function openRx(ifname: string, options: RxOptions): Handle;

/** TX-only AF_PACKET socket (protocol 0) bound to `ifname` with a TPACKET_V2 TX ring. */
export function openTx(ifname: string, options: TxOptions): Handle;

/** The ring's geometry (offset 0). */
export function ringInfo(handle: Handle): RingGeometry;

/**
 * Maps the ring with MAP_SHARED|MAP_FIXED over memory[offset, offset + size).
 * `memory` is a Uint8Array over a WebAssembly.Memory buffer (shared or not) whose
 * maximum equals its initial size (never grown); offset must be page-aligned.
 * The memory is kept alive while mapped; close() puts zero pages back.
 */
export function mapInto(handle: Handle, memory: Uint8Array, offset: number): RingGeometry;

/** The ring in a mapping of its own, as an external ArrayBuffer (for a copy design). */
export function mapSeparate(handle: Handle): SeparateRing;

/** One sendto(fd, NULL, 0, MSG_DONTWAIT) for the frames marked SEND_REQUEST: bytes sent, 0 on EAGAIN/ENOBUFS. */
export function kickTx(handle: Handle): number;

/** PACKET_STATISTICS since the previous call (the kernel resets them on read). */
export function stats(handle: Handle): RingStats;
/** Replaces an RX ring's socket filter (SO_ATTACH_FILTER; the kernel swaps it atomically). */
export function setFilter(handle: Handle, program: Uint8Array): void;

/** Unmaps (from Wasm memory: zero pages put back) and closes. */
export function close(handle: Handle): void;

/**
 * poll(2) over handles: those readable (a V3 block handed over, a TAP frame, a
 * wake) or in error. Blocks the calling thread (meant for worker threads);
 * timeoutMs < 0 waits without limit (prefer a bound, so worker.terminate() is prompt).
 */
export function poll(handles: readonly Handle[], timeoutMs: number): Handle[];

/**
 * poll on the environment's persistent poll thread (started on first use; a call made
 * while it is busy gets a thread of its own); the promise resolves with the ready handles.
 */
export function pollAsync(handles: readonly Handle[], timeoutMs: number): Promise<Handle[]>;

/**
 * Watches handle on this thread's own event loop (a libuv poll handle on a
 * duplicate of its descriptor): callback(handle) runs whenever it is
 * readable (level-triggered), with no thread in between. Returns a watch id.
 */
export function watch(handle: Handle, callback: (handle: Handle) => void): number;
/** Stops a watch; false if there was none. */
export function unwatch(watchId: number): boolean;

/** An eventfd handle: wake(handle) from any thread makes a poll that includes it return. */
export function wakerOpen(): Handle;
export function wake(handle: Handle): void;

/** Creates a TAP device (IFF_TAP|IFF_NO_PI, non-blocking); it exists while the handle is open. */
export function tapOpen(name: string): { handle: Handle; name: string };
/** Reads one frame into buf: its length, or 0 when none is waiting. */
export function tapRead(handle: Handle, buf: Uint8Array): number;
/** Writes one frame: bytes written, or 0 when the device queue is full. */
export function tapWrite(handle: Handle, frame: Uint8Array): number;
export function tapClose(handle: Handle): void;

export const TPACKET_V2: 1;
export const TPACKET_V3: 2;
export const TPACKET_ALIGNMENT: 16;
export const TP_STATUS: Readonly<{
  KERNEL: 0; USER: 1; COPY: 2; LOSING: 4; CSUMNOTREADY: 8; VLAN_VALID: 16; BLK_TMO: 32;
  VLAN_TPID_VALID: 64; CSUM_VALID: 128; GSO_TCP: 256;
  AVAILABLE: 0; SEND_REQUEST: 1; SENDING: 2; WRONG_FORMAT: 4;
  TS_SOFTWARE: 536870912; TS_RAW_HARDWARE: 2147483648;
}>;
export const BLOCK_DESC: Readonly<{
  VERSION: 0; OFFSET_TO_PRIV: 4; BLOCK_STATUS: 8; NUM_PKTS: 12; OFFSET_TO_FIRST_PKT: 16;
  BLK_LEN: 20; SEQ_NUM: 24; TS_FIRST_SEC: 32; TS_FIRST_NSEC: 36; TS_LAST_SEC: 40; TS_LAST_NSEC: 44; SIZE: 48;
}>;
export const TPACKET3_HDR: Readonly<{
  NEXT_OFFSET: 0; SEC: 4; NSEC: 8; SNAPLEN: 12; LEN: 16; STATUS: 20; MAC: 24; NET: 26;
  RXHASH: 28; VLAN_TCI: 32; VLAN_TPID: 36; SIZE: 48;
}>;
export const TPACKET2_HDR: Readonly<{
  STATUS: 0; LEN: 4; SNAPLEN: 8; MAC: 12; NET: 14; SEC: 16; NSEC: 20; VLAN_TCI: 24; VLAN_TPID: 26;
  SIZE: 32; DATA_OFFSET: 32;
}>;
export const VIRTIO_NET_HDR: Readonly<{
  FLAGS: 0; GSO_TYPE: 1; HDR_LEN: 2; GSO_SIZE: 4; CSUM_START: 6; CSUM_OFFSET: 8; SIZE: 10;
  F_NEEDS_CSUM: 1; F_DATA_VALID: 2;
  GSO_NONE: 0; GSO_TCPV4: 1; GSO_UDP: 3; GSO_TCPV6: 4; GSO_UDP_L4: 5; GSO_ECN: 128;
}>;
