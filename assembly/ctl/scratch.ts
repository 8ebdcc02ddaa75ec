// The control scratch area: the supervisor writes call arguments that do not
// fit in a few integers (addresses, service and real-server specs) here,
// and reads results back. The supervisor takes the offsets from ctl/layout.ts,
// which publishes them.

export const SCRATCH_SIZE: usize = 1024;
export const scratch: usize = memory.data(<i32>SCRATCH_SIZE, 16);

// Service spec (key and settings)
export const SV_AF: usize = 0;       // u8
export const SV_PROTO: usize = 1;    // u8
export const SV_PORT: usize = 2;     // u16, host order
export const SV_FWMARK: usize = 4;   // u32
export const SV_FLAGS: usize = 8;    // u32
export const SV_TIMEOUT: usize = 12; // u32 seconds
export const SV_NETMASK: usize = 16; // u32 prefix length
export const SV_SCHED: usize = 20;   // i32
export const SV_ADDR: usize = 24;    // 16 bytes, network order

// Real-server spec
export const DS_AF: usize = 64;      // u8
export const DS_FWD: usize = 65;     // u8
export const DS_PORT: usize = 66;    // u16, host order
export const DS_WEIGHT: usize = 68;  // i32
export const DS_UTHRESH: usize = 72; // u32
export const DS_LTHRESH: usize = 76; // u32
export const DS_ADDR: usize = 80;    // 16 bytes

// Generic arguments
export const ARG_ADDR: usize = 128;  // 16 bytes
export const ARG_ADDR2: usize = 144; // 16 bytes (gateway)
export const ARG_MAC: usize = 160;   // 6 bytes (u64 slot)
export const ARG_LINK: usize = 168;  // i32 (neighRead)
export const ARG_AF: usize = 172;    // u8 (neighRead)
export const ARG_SPORT: usize = 176; // u16, host order (testSchedule)
export const ARG_DPORT: usize = 178; // u16, host order (testSchedule)

// Results
export const RES: usize = 256;       // stats record (stats/counters.ts writeStats)
export const RES_ACTIVE: usize = 296;   // i32
export const RES_INACT: usize = 300;    // i32
export const RES_PERSIST: usize = 304;  // i32
export const RES_DFLAGS: usize = 308;   // u32
