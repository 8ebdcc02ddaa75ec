// Where the peer's connection-sync records go among the workers: a
// connection to the worker that owns it by the steering rule (the one whose
// filter takes its client's packets, so its next packet finds the entry), a
// persistence template to every worker (the clients under one template are
// spread over workers: its masked address is not theirs). The owner comes
// from the rule's own model (../steer/model.ts) over the frame the client
// would send, not from a second copy of the hash.

import { steerOwner } from "../steer/model.js";
import { ENTRY_SIZE, KIND_CONN, KIND_TEMPLATE, OFF } from "../../sync/entry.js";
import { joinBytes } from "../dataplane.js";
import type { SteerState } from "./messages.js";

/** The client's packet to the virtual service, as the steering rule reads it: Ethernet, IP, ports. */
function clientFrame(rec: Uint8Array): Uint8Array {
  const af = rec[OFF.af], proto = rec[OFF.proto];
  const l4 = 14 + (af === 4 ? 20 : 40);
  const f = new Uint8Array(l4 + 8);
  const dv = new DataView(f.buffer);
  if (af === 4) {
    dv.setUint16(12, 0x0800);
    f[14] = 0x45;
    f[14 + 9] = proto;
    f.set(rec.subarray(OFF.caddr, OFF.caddr + 4), 14 + 12);
    f.set(rec.subarray(OFF.vaddr, OFF.vaddr + 4), 14 + 16);
  } else {
    dv.setUint16(12, 0x86dd);
    f[14] = 0x60;
    f[14 + 6] = proto;
    f.set(rec.subarray(OFF.caddr, OFF.caddr + 16), 14 + 8);
    f.set(rec.subarray(OFF.vaddr, OFF.vaddr + 16), 14 + 24);
  }
  f.set(rec.subarray(OFF.cport, OFF.cport + 2), l4);
  f.set(rec.subarray(OFF.vport, OFF.vport + 2), l4 + 2);
  if (af === 6 && proto === 58) f[l4] = 128; // an echo request: not an error or ND message
  return f;
}

/** The worker that owns the connection of record rec (a malformed one: worker 0, which refuses and counts it). */
export function recordOwner(rec: Uint8Array, steer: SteerState): number {
  const af = rec[OFF.af];
  if (af !== 4 && af !== 6) return 0;
  const o = steerOwner(clientFrame(rec), steer);
  return typeof o === "number" ? o : 0;
}

/** Each worker's share of records: every template, and the connections it owns. */
export interface WorkerShare { templates: Uint8Array; conns: Uint8Array; }

export function splitRecords(records: Uint8Array, steer: SteerState): WorkerShare[] {
  const templates: Uint8Array[] = [];
  const conns: Uint8Array[][] = Array.from({ length: steer.workers }, () => []);
  for (let off = 0; off < records.length; off += ENTRY_SIZE) {
    const rec = records.subarray(off, off + ENTRY_SIZE);
    if (rec[OFF.kind] === KIND_TEMPLATE) templates.push(rec);
    else conns[rec[OFF.kind] === KIND_CONN ? recordOwner(rec, steer) : 0].push(rec);
  }
  const t = joinBytes(templates.map((r) => r.slice()));
  return conns.map((c) => ({ templates: t, conns: joinBytes(c.map((r) => r.slice())) }));
}

/** Records with the templates first (stable), so a peer installing message by message meets a template before its connections. */
export function templatesFirst(parts: Uint8Array[]): Uint8Array {
  const t: Uint8Array[] = [], c: Uint8Array[] = [];
  for (const p of parts) {
    for (let off = 0; off < p.length; off += ENTRY_SIZE) {
      const rec = p.subarray(off, off + ENTRY_SIZE);
      (rec[OFF.kind] === KIND_TEMPLATE ? t : c).push(rec);
    }
  }
  return joinBytes([...t, ...c].map((r) => r.slice()));
}
