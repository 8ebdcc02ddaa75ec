// The data plane's layout as the supervisor reads it: offsets in the control
// scratch area (ctl/scratch.ts), the batch descriptor (ring/batch.ts), the
// stats record (stats/counters.ts) and the connection-listing record
// (ctl/listing.ts), and the values written or read there: verdicts, service
// and real-server flags, forwarding methods, connection flags, TCP and
// neighbour states. The constants are declared in their own modules; this
// table only names them. The supervisor reads it once per instance, at load
// (src/dataplane/layout.ts), as it reads the drop-reason names, and keeps no
// copy of the numbers. Names are "group.field"; every value fits an i32.

import * as S from "./scratch";
import * as B from "../ring/batch";
import * as V from "../xmit/verdict";
import * as St from "../stats/counters";
import * as Ls from "./listing";
import * as Svc from "../svc/service";
import * as D from "../svc/dest";
import * as C from "../conn/table";
import * as Cs from "../conn/state";
import * as N from "../net/neigh";
import * as Sl from "../conn/synclog";
import * as NQ from "../net/neighq";

@final class Entry {
  constructor(readonly name: string, readonly value: i32) {}
}

function e<T>(name: string, value: T): Entry { return new Entry(name, <i32>value); }

const TABLE: StaticArray<Entry> = [
  // Batch descriptor (ring/batch.ts).
  e("desc.size", B.DESC_SIZE),
  e("desc.inOff", B.D_IN_OFF), e("desc.inLen", B.D_IN_LEN),
  e("desc.outOff", B.D_OUT_OFF), e("desc.outCap", B.D_OUT_CAP), e("desc.outLen", B.D_OUT_LEN),
  e("desc.inLink", B.D_IN_LINK), e("desc.outLink", B.D_OUT_LINK),
  e("desc.verdict", B.D_VERDICT), e("desc.reason", B.D_REASON), e("desc.flags", B.D_FLAGS),
  // Verdicts (xmit/verdict.ts), in the descriptor's verdict field.
  e("verdict.DROP", V.V_DROP), e("verdict.TX", V.V_TX), e("verdict.LOCAL", V.V_LOCAL), e("verdict.HELD", V.V_HELD),

  // Control scratch area (ctl/scratch.ts).
  e("scratch.size", S.SCRATCH_SIZE),
  e("scratch.svAf", S.SV_AF), e("scratch.svProto", S.SV_PROTO), e("scratch.svPort", S.SV_PORT),
  e("scratch.svFwmark", S.SV_FWMARK), e("scratch.svFlags", S.SV_FLAGS), e("scratch.svTimeout", S.SV_TIMEOUT),
  e("scratch.svNetmask", S.SV_NETMASK), e("scratch.svSched", S.SV_SCHED), e("scratch.svAddr", S.SV_ADDR),
  e("scratch.dsAf", S.DS_AF), e("scratch.dsFwd", S.DS_FWD), e("scratch.dsPort", S.DS_PORT),
  e("scratch.dsWeight", S.DS_WEIGHT), e("scratch.dsUThresh", S.DS_UTHRESH), e("scratch.dsLThresh", S.DS_LTHRESH),
  e("scratch.dsAddr", S.DS_ADDR),
  e("scratch.argAddr", S.ARG_ADDR), e("scratch.argAddr2", S.ARG_ADDR2), e("scratch.argMac", S.ARG_MAC),
  e("scratch.argLink", S.ARG_LINK), e("scratch.argAf", S.ARG_AF),
  e("scratch.argSport", S.ARG_SPORT), e("scratch.argDport", S.ARG_DPORT),
  e("scratch.res", S.RES), e("scratch.resActive", S.RES_ACTIVE), e("scratch.resInact", S.RES_INACT),
  e("scratch.resPersist", S.RES_PERSIST), e("scratch.resDFlags", S.RES_DFLAGS),
  // The stats record at scratch.res (stats/counters.ts), u64 each.
  e("stats.conns", St.ST_CONNS), e("stats.inpkts", St.ST_INPKTS), e("stats.outpkts", St.ST_OUTPKTS),
  e("stats.inbytes", St.ST_INBYTES), e("stats.outbytes", St.ST_OUTBYTES),
  // Service flags at scratch.svFlags (svc/service.ts, IPVS's IP_VS_SVC_F_*).
  e("svcFlag.PERSISTENT", Svc.SVC_F_PERSISTENT), e("svcFlag.HASHED", Svc.SVC_F_HASHED),
  e("svcFlag.ONEPACKET", Svc.SVC_F_ONEPACKET),
  e("svcFlag.SCHED1", Svc.SVC_F_SCHED1), e("svcFlag.SCHED2", Svc.SVC_F_SCHED2), e("svcFlag.SCHED3", Svc.SVC_F_SCHED3),
  // Real-server flags at scratch.resDFlags (svc/dest.ts).
  e("destFlag.AVAILABLE", D.DEST_F_AVAILABLE), e("destFlag.OVERLOAD", D.DEST_F_OVERLOAD),
  // Forwarding methods at scratch.dsFwd and conn.fwd (svc/dest.ts, IPVS's numbers).
  e("fwd.NAT", D.FWD_MASQ), e("fwd.TUN", D.FWD_TUNNEL), e("fwd.DR", D.FWD_DROUTE),

  // Connection-listing record at connBuf() (ctl/listing.ts).
  e("conn.size", Ls.CONN_OUT_SIZE),
  e("conn.af", Ls.CO_AF), e("conn.proto", Ls.CO_PROTO), e("conn.state", Ls.CO_STATE), e("conn.fwd", Ls.CO_FWD),
  e("conn.flags", Ls.CO_FLAGS), e("conn.cport", Ls.CO_CPORT), e("conn.vport", Ls.CO_VPORT), e("conn.dport", Ls.CO_DPORT),
  e("conn.expires", Ls.CO_EXPIRES), e("conn.caddr", Ls.CO_CADDR), e("conn.vaddr", Ls.CO_VADDR), e("conn.daddr", Ls.CO_DADDR),
  // Entry flags at conn.flags (conn/table.ts).
  e("connFlag.TEMPLATE", C.CF_TEMPLATE),
  // TCP states at conn.state (conn/state.ts), by IPVS's names.
  e("tcpState.NONE", Cs.S_NONE), e("tcpState.ESTABLISHED", Cs.S_ESTABLISHED), e("tcpState.SYN_SENT", Cs.S_SYN_SENT),
  e("tcpState.SYN_RECV", Cs.S_SYN_RECV), e("tcpState.FIN_WAIT", Cs.S_FIN_WAIT), e("tcpState.TIME_WAIT", Cs.S_TIME_WAIT),
  e("tcpState.CLOSE", Cs.S_CLOSE), e("tcpState.CLOSE_WAIT", Cs.S_CLOSE_WAIT), e("tcpState.LAST_ACK", Cs.S_LAST_ACK),
  e("tcpState.LISTEN", Cs.S_LISTEN), e("tcpState.SYNACK", Cs.S_SYNACK),
  // Connection-sync wire record (conn/synclog.ts; src/sync/entry.ts checks its size at load).
  e("sync.entrySize", Sl.ENTRY_SIZE),
  // Neighbour states, as neighRead() returns them (net/neigh.ts), by iproute2's names.
  e("neighState.incomplete", N.NUD_INCOMPLETE), e("neighState.reachable", N.NUD_REACHABLE),
  e("neighState.permanent", N.NUD_PERMANENT),
  // Bounds of the queue of frames waiting for neighbour resolution (net/neighq.ts).
  e("neighQueue.pool", NQ.POOL), e("neighQueue.perNeighbour", NQ.PER_NEIGH),
  e("neighQueue.slotBytes", NQ.SLOT_BYTES), e("neighQueue.timeoutMs", NQ.TIMEOUT_MS),
];

export function layoutCount(): i32 { return TABLE.length; }
export function layoutName(i: i32): string { return i >= 0 && i < TABLE.length ? TABLE[i].name : ""; }
export function layoutValue(i: i32): i32 { return i >= 0 && i < TABLE.length ? TABLE[i].value : 0; }
