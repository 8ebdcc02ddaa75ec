// The data plane's memory layout, as the data plane declares it
// (assembly/ctl/layout.ts: layoutCount/layoutName/layoutValue): offsets in
// the control scratch area, the batch descriptor, the stats record and the
// connection-listing record, and the verdicts, flags, forwarding methods and
// states found there. readLayout() reads the table once per instance, at load
// (DataPlane.load); nothing here repeats a number. FIELDS only names what the
// supervisor uses, so that a field the data plane stops declaring fails the
// load instead of reading the wrong bytes.

import type { WeirExports } from "./wasm.js";

const FIELDS = {
  desc: ["size", "inOff", "inLen", "outOff", "outCap", "outLen", "inLink", "outLink", "verdict", "reason", "flags"],
  verdict: ["DROP", "TX", "LOCAL", "HELD"],
  scratch: [
    "size",
    "svAf", "svProto", "svPort", "svFwmark", "svFlags", "svTimeout", "svNetmask", "svSched", "svAddr",
    "dsAf", "dsFwd", "dsPort", "dsWeight", "dsUThresh", "dsLThresh", "dsAddr",
    "argAddr", "argAddr2", "argMac", "argLink", "argAf", "argSport", "argDport",
    "res", "resActive", "resInact", "resPersist", "resDFlags",
  ],
  stats: ["conns", "inpkts", "outpkts", "inbytes", "outbytes"],
  svcFlag: ["PERSISTENT", "HASHED", "ONEPACKET", "SCHED1", "SCHED2", "SCHED3"],
  destFlag: ["AVAILABLE", "OVERLOAD"],
  fwd: ["NAT", "TUN", "DR"],
  conn: ["size", "af", "proto", "state", "fwd", "flags", "cport", "vport", "dport", "expires", "caddr", "vaddr", "daddr"],
  connFlag: ["TEMPLATE"],
  sync: ["entrySize"],
  neighQueue: ["pool", "perNeighbour", "slotBytes", "timeoutMs"],
} as const;
type Fields = typeof FIELDS;

/** Groups whose entries are named values (state numbers), read as a name per value. */
const NAMED = ["tcpState", "neighState"] as const;

export type WasmLayout = { readonly [G in keyof Fields]: { readonly [F in Fields[G][number]]: number } } & {
  /** TCP state names by the data plane's numbers (IPVS's names: NONE, ESTABLISHED, …). */
  readonly tcpStates: readonly string[];
  /** Neighbour state names by neighRead()'s numbers (iproute2's: incomplete, reachable, permanent). */
  readonly neighStates: readonly string[];
};
export type DescLayout = WasmLayout["desc"];

/** Reads the data plane's layout table; str reads a string it returned. Throws when a field is missing. */
export function readLayout(x: WeirExports, str: (ptr: number) => string): WasmLayout {
  const table = new Map<string, number>();
  for (let i = 0, n = x.layoutCount(); i < n; i++) table.set(str(x.layoutName(i)), x.layoutValue(i));
  const out: Record<string, unknown> = {};
  for (const [group, names] of Object.entries(FIELDS) as [string, readonly string[]][]) {
    const g: Record<string, number> = {};
    for (const f of names) {
      const v = table.get(`${group}.${f}`);
      if (v === undefined) throw new Error(`the data plane does not declare ${group}.${f} (assembly/ctl/layout.ts)`);
      g[f] = v;
    }
    out[group] = Object.freeze(g);
  }
  const named = (group: string): string[] => {
    const names: string[] = [];
    for (const [k, v] of table) if (k.startsWith(`${group}.`)) names[v] = k.slice(group.length + 1);
    if (names.length === 0) throw new Error(`the data plane declares no ${group}.* (assembly/ctl/layout.ts)`);
    return names;
  };
  const [tcp, neigh] = NAMED.map(named);
  out.tcpStates = Object.freeze(tcp);
  out.neighStates = Object.freeze(neigh);
  return Object.freeze(out) as WasmLayout;
}

/** IP protocol numbers (IANA's, not the data plane's to declare): scratch.svProto and conn.proto hold them. */
export const IPPROTO = { ICMP: 1, TCP: 6, UDP: 17, ICMPV6: 58 } as const;
