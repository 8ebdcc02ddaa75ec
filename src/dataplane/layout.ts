// Memory layouts shared with the data plane (assembly/ctl/scratch.ts and
// assembly/ring/batch.ts). Keep the two in step.

/** Batch descriptor: 32 bytes per frame. */
export const DESC = {
  size: 32,
  inOff: 0,
  inLen: 4,
  outOff: 8,
  outCap: 12,
  outLen: 16,
  inLink: 20,
  outLink: 22,
  verdict: 24,
  reason: 26,
  flags: 28,
} as const;

export const Verdict = { DROP: 0, TX: 1, LOCAL: 2 } as const;
export type VerdictCode = (typeof Verdict)[keyof typeof Verdict];

/** Control scratch offsets. */
export const SCRATCH = {
  svAf: 0, svProto: 1, svPort: 2, svFwmark: 4, svFlags: 8, svTimeout: 12, svNetmask: 16, svSched: 20, svAddr: 24,
  dsAf: 64, dsFwd: 65, dsPort: 66, dsWeight: 68, dsUThresh: 72, dsLThresh: 76, dsAddr: 80,
  argAddr: 128, argAddr2: 144, argMac: 160, argLink: 168, argAf: 172, argSport: 176, argDport: 178,
  res: 256, resActive: 296, resInact: 300, resPersist: 304, resDFlags: 308,
} as const;

/** IPVS service flags (IP_VS_SVC_F_*). */
export const SvcFlag = {
  PERSISTENT: 0x1, HASHED: 0x2, ONEPACKET: 0x4, SCHED1: 0x8, SCHED2: 0x10, SCHED3: 0x20,
} as const;

/** Forwarding methods with IPVS's numbers. */
export const Fwd = { NAT: 0, TUN: 2, DR: 3 } as const;
export type FwdMethod = (typeof Fwd)[keyof typeof Fwd];

export const IPPROTO = { TCP: 6, UDP: 17 } as const;
