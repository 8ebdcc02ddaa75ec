// Connection-sync records (src/sync/entry.ts's wire layout) to and from plain
// objects: for tests, logs and tools. The data plane writes and reads the
// bytes itself (assembly/conn/synclog.ts, conn/sync.ts); this is the
// supervisor's reading of the same layout, from entry.ts's offsets only.

import { ENTRY_SIZE, OFF, KIND_CONN, KIND_TEMPLATE, FWD_NAT, FWD_TUN, FWD_DR, FLAG_ONEPACKET, FLAG_NOOUTPUT, FLAG_INACTIVE, FLAG_FWMARK } from "./entry.js";
import { parseAddr, formatAddr, type Family } from "../dataplane/addr.js";
import { WeirError } from "../errors.js";

export interface SyncEntry {
  kind: "conn" | "template";
  af: Family;
  /** IP protocol number (0 for a firewall-mark template). */
  proto: number;
  /** IPVS TCP state number (0 for others). */
  state: number;
  fwd: "nat" | "tun" | "dr";
  onePacket: boolean;
  noOutput: boolean;
  inactive: boolean;
  /** A firewall-mark service's template: vaddr is absent and fwmark set. */
  fwmark?: number;
  caddr: string; cport: number;
  vaddr: string; vport: number;
  daddr: string; dport: number;
  timeoutMs: number;
}

const FWD_NAMES: Record<number, SyncEntry["fwd"]> = { [FWD_NAT]: "nat", [FWD_TUN]: "tun", [FWD_DR]: "dr" };
const FWD_NUM = { nat: FWD_NAT, tun: FWD_TUN, dr: FWD_DR } as const;

/** The record at off; WEIR_ERR_SYNC_RECORDS when it is cut short or its kind, family or method is unknown. */
export function decodeEntry(bytes: Uint8Array, off = 0): SyncEntry {
  if (off < 0 || off + ENTRY_SIZE > bytes.length) throw new WeirError("WEIR_ERR_SYNC_RECORDS", `connection-sync record at ${off}: cut short`);
  const v = new DataView(bytes.buffer, bytes.byteOffset + off, ENTRY_SIZE);
  const b = (o: number, n: number) => bytes.subarray(off + o, off + o + n);
  const kind = v.getUint8(OFF.kind), af = v.getUint8(OFF.af), fwd = FWD_NAMES[v.getUint8(OFF.fwd)];
  if ((kind !== KIND_CONN && kind !== KIND_TEMPLATE) || (af !== 4 && af !== 6) || !fwd) {
    throw new WeirError("WEIR_ERR_SYNC_RECORDS", `connection-sync record at ${off}: kind ${kind}, family ${af}, method ${v.getUint8(OFF.fwd)}`);
  }
  const flags = v.getUint8(OFF.flags);
  const n = af === 4 ? 4 : 16;
  const e: SyncEntry = {
    kind: kind === KIND_CONN ? "conn" : "template",
    af, proto: v.getUint8(OFF.proto), state: v.getUint8(OFF.state), fwd,
    onePacket: (flags & FLAG_ONEPACKET) !== 0, noOutput: (flags & FLAG_NOOUTPUT) !== 0, inactive: (flags & FLAG_INACTIVE) !== 0,
    caddr: formatAddr(af, b(OFF.caddr, n)), cport: v.getUint16(OFF.cport),
    vaddr: "", vport: v.getUint16(OFF.vport),
    daddr: formatAddr(af, b(OFF.daddr, n)), dport: v.getUint16(OFF.dport),
    timeoutMs: v.getUint32(OFF.timeoutMs),
  };
  if (flags & FLAG_FWMARK) e.fwmark = v.getUint32(OFF.vaddr);
  else e.vaddr = formatAddr(af, b(OFF.vaddr, n));
  return e;
}

/** Every record of bytes (a whole number of them). */
export function decodeEntries(bytes: Uint8Array): SyncEntry[] {
  if (bytes.length % ENTRY_SIZE !== 0) throw new WeirError("WEIR_ERR_SYNC_RECORDS", `connection-sync records: ${bytes.length} bytes is not a multiple of ${ENTRY_SIZE}`);
  const out: SyncEntry[] = [];
  for (let off = 0; off < bytes.length; off += ENTRY_SIZE) out.push(decodeEntry(bytes, off));
  return out;
}

/** The record of e (fields left out are 0 / false). */
export function encodeEntry(e: Partial<SyncEntry> & Pick<SyncEntry, "caddr" | "daddr">): Uint8Array {
  const out = new Uint8Array(ENTRY_SIZE);
  const v = new DataView(out.buffer);
  const c = parseAddr(e.caddr);
  v.setUint8(OFF.kind, e.kind === "template" ? KIND_TEMPLATE : KIND_CONN);
  v.setUint8(OFF.af, e.af ?? c.af);
  v.setUint8(OFF.proto, e.proto ?? 6);
  v.setUint8(OFF.state, e.state ?? 0);
  v.setUint8(OFF.fwd, FWD_NUM[e.fwd ?? "nat"]);
  let flags = 0;
  if (e.onePacket) flags |= FLAG_ONEPACKET;
  if (e.noOutput) flags |= FLAG_NOOUTPUT;
  if (e.inactive) flags |= FLAG_INACTIVE;
  if (e.fwmark !== undefined) flags |= FLAG_FWMARK;
  v.setUint8(OFF.flags, flags);
  v.setUint16(OFF.cport, e.cport ?? 0);
  v.setUint16(OFF.vport, e.vport ?? 0);
  v.setUint16(OFF.dport, e.dport ?? 0);
  v.setUint32(OFF.timeoutMs, e.timeoutMs ?? 0);
  out.set(c.bytes, OFF.caddr);
  if (e.fwmark !== undefined) v.setUint32(OFF.vaddr, e.fwmark);
  else if (e.vaddr) out.set(parseAddr(e.vaddr).bytes, OFF.vaddr);
  out.set(parseAddr(e.daddr).bytes, OFF.daddr);
  return out;
}
