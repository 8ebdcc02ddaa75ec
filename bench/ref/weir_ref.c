/*
 * weir_ref: the C baseline of benchmarks B1 and B2 (bench/README.md).
 *
 * The same per-frame algorithm as the Wasm data plane's IPv4 path, written
 * the way a careful C programmer would, function for function:
 *   runBatch (ring/batch.ts) → processFrame (core.ts): link check, Ethernet
 *   parse (VLAN tags), destination MAC check, IPv4 parse with header checksum
 *   verification, TCP parse, connection lookup in (then out), service hash
 *   lookup and scheduling for a SYN, connection insert, TCP state step and
 *   timer, per real server and per service counters, route lookup (short
 *   sorted list), NAT rewrite with RFC 1624 incremental checksums, copy into
 *   the output slot, neighbour lookup (open addressing) and Ethernet header;
 *   after each batch a bounded expiry sweep of both connection tables.
 * Connection table: 48-byte IPv4 entries in one pool, chained "in" and "out"
 * hash buckets (u32 heads, power of two), murmur3-finaliser hashing with the
 * same seed as the Wasm side (conn/table.ts, util/bytes.ts).
 * What the traces never reach (fragments, ICMP, persistence templates,
 * neighbour solicitation, tunnels) is left out; the branches that test for
 * them are kept.
 *
 * Usage: weir_ref TRACE   (trace written by bench/lib/topo.js writeTrace)
 * Prints one JSON line: {"ns":…, "tx":…, "frames":…, "hash":…}
 */
#define _GNU_SOURCE
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

typedef uint8_t u8; typedef uint16_t u16; typedef uint32_t u32; typedef uint64_t u64; typedef int32_t i32;
typedef struct { u32 w[4]; } v128;

#define NONE 0xffffffffu
#define INL static inline __attribute__((always_inline))
#define NOINL static __attribute__((noinline))

INL u16 ld16raw(const u8 *p) { u16 v; memcpy(&v, p, 2); return v; }
INL u32 ld32raw(const u8 *p) { u32 v; memcpy(&v, p, 4); return v; }
INL u64 ld64raw(const u8 *p) { u64 v; memcpy(&v, p, 8); return v; }
INL void st16raw(u8 *p, u16 v) { memcpy(p, &v, 2); }
INL void st32raw(u8 *p, u32 v) { memcpy(p, &v, 4); }
INL u32 ld16(const u8 *p) { return __builtin_bswap16(ld16raw(p)); }

INL u32 mix32(u32 h) { h ^= h >> 16; h *= 0x85ebca6bu; h ^= h >> 13; h *= 0xc2b2ae35u; h ^= h >> 16; return h; }
INL u32 fold_addr(v128 a) { return a.w[0] ^ a.w[1] ^ a.w[2] ^ a.w[3]; }
INL v128 v4addr(u32 raw) { v128 a = {{raw, 0, 0, 0}}; return a; }
INL int addr_eq(v128 a, v128 b) { return a.w[0] == b.w[0] && a.w[1] == b.w[1] && a.w[2] == b.w[2] && a.w[3] == b.w[3]; }

/* ---- checksums (packet/checksum.ts) ---- */
NOINL u64 csum_add(const u8 *p, u32 len, u64 s) {
  u32 i = 0;
  for (; i + 8 <= len; i += 8) { u64 w = ld64raw(p + i); s += (w & 0xffffffffu) + (w >> 32); }
  for (; i + 2 <= len; i += 2) s += ld16raw(p + i);
  if (i < len) s += p[i];
  return s;
}
INL u32 csum_fold(u64 sum) {
  u64 s = (sum & 0xffffffffu) + (sum >> 32);
  s = (s & 0xffff) + (s >> 16); s = (s & 0xffff) + (s >> 16); s = (s & 0xffff) + (s >> 16);
  return (u32)s;
}
INL u32 csum_replace4(u32 check, u32 from, u32 to) {
  u64 s = (u64)(~check & 0xffff) + (u64)(~from & 0xffff) + (u64)((~from) >> 16) + (u64)(to & 0xffff) + (u64)(to >> 16);
  return ~csum_fold(s) & 0xffff;
}
INL u32 csum_replace2(u32 check, u32 from, u32 to) {
  u64 s = (u64)(~check & 0xffff) + (u64)(~from & 0xffff) + (u64)(to & 0xffff);
  return ~csum_fold(s) & 0xffff;
}

/* ---- drops and counters ---- */
enum { R_NONE, R_LINK_DOWN, R_ETH_TRUNCATED, R_NOT_OUR_MAC, R_ETHERTYPE, R_ARP_MALFORMED, R_IP_MALFORMED,
  R_IP_BAD_CSUM, R_IPV6_BAD_EXT, R_L4_MALFORMED, R_TTL_EXPIRED, R_NO_SERVICE, R_NO_CONN, R_NO_DEST,
  R_CONN_TABLE_FULL, R_NO_ROUTE, R_NEIGH_UNRESOLVED, R_OUT_NO_ROOM, R_FRAG_NO_STATE, R_FRAG_TABLE_FULL,
  R_TOO_BIG, R_ICMP_UNMATCHED, R_ICMP_MALFORMED, R_BAD_LINK, R_UNSUPPORTED, R_DEST_GONE, R_COUNT };
static u64 drops[R_COUNT];
enum { V_DROP = 0, V_TX = 1, V_LOCAL = 2 };
static u32 out_len; static i32 out_link = -1; static i32 reason;
INL void reset_out(void) { out_len = 0; out_link = -1; reason = 0; }
INL int drop(int r) { reason = r; drops[r]++; return V_DROP; }
INL int tx(i32 l, u32 len) { out_link = l; out_len = len; return V_TX; }

typedef struct { u64 conns, inpkts, outpkts, inbytes, outbytes; } stats_t;
INL void count_in(stats_t *s, u32 b) { s->inpkts++; s->inbytes += b; }
INL void count_out(stats_t *s, u32 b) { s->outpkts++; s->outbytes += b; }

/* ---- links, routes, neighbours (net/) ---- */
typedef struct { u8 af; v128 addr; u8 plen; } linkaddr_t;
typedef struct { i32 id; u64 mac; u32 mtu; int up; linkaddr_t **addrs; int naddrs; u32 primary4; } link_t;
#define MAX_LINKS 64
static link_t *links[MAX_LINKS];
INL link_t *link_of(i32 id) { return id >= 0 && id < MAX_LINKS ? links[id] : NULL; }
static int owns4(link_t *l, u32 raw) {
  for (int i = 0; i < l->naddrs; i++) { linkaddr_t *a = l->addrs[i]; if (a->af == 4 && a->addr.w[0] == raw) return 1; }
  return 0;
}

typedef struct { u8 af; v128 prefix; u8 len; i32 link; v128 gw; int hasgw; u32 prefix4, mask4; } route_t;
static route_t **routes; static int nroutes;
static i32 nh_link = -1; static v128 nh_addr;
NOINL int route_lookup4(u32 dst) {
  route_t **rs = routes;
  for (int i = 0, n = nroutes; i < n; i++) {
    route_t *r = rs[i];
    if (r->af == 4 && ((dst ^ r->prefix4) & r->mask4) == 0) { nh_link = r->link; nh_addr = r->hasgw ? r->gw : v4addr(dst); return 1; }
  }
  return 0;
}

#define NCAP 4096
#define NMASK (NCAP - 1)
enum { NUD_INCOMPLETE = 1, NUD_REACHABLE = 2, NUD_PERMANENT = 3 };
static v128 n_keys[NCAP]; static i32 n_link[NCAP]; static u8 n_af[NCAP]; static u64 n_macs[NCAP]; static u8 n_states[NCAP]; static u32 n_stamps[NCAP];
static int n_used;
INL int n_slot(i32 link, u8 af, v128 a) {
  u32 h = mix32(fold_addr(a) ^ ((u32)link << 8) ^ af) & NMASK;
  for (;;) {
    u8 s = n_states[h];
    if (s == 0) return -1 - (int)h;
    if (n_link[h] == link && n_af[h] == af && addr_eq(n_keys[h], a)) return (int)h;
    h = (h + 1) & NMASK;
  }
}
static u64 found_mac;
NOINL int neigh_lookup(i32 link, u8 af, v128 a) {
  int i = n_slot(link, af, a);
  if (i < 0) return 0;
  if (n_states[i] < NUD_REACHABLE) return 0;
  found_mac = n_macs[i];
  return 1;
}
static void neigh_set(i32 link, u8 af, v128 a, u64 mac) {
  int i = n_slot(link, af, a);
  if (i < 0) { i = -1 - i; n_used++; n_keys[i] = a; n_link[i] = link; n_af[i] = af; }
  n_macs[i] = mac; n_states[i] = NUD_PERMANENT; n_stamps[i] = 0;
}

/* ---- packet metadata (packet/meta.ts) and parsers ---- */
static u8 m_af, m_proto, m_tcpflags, m_ttl; static u32 m_l3, m_l3end, m_l4, m_saddr4, m_daddr4, m_fragid;
static u16 m_sport, m_dport; static int m_fragment, m_firstfrag = 1, m_morefrags;
static u32 eth_type, l3off;
#define ETH_HLEN 14
#define ETH_P_IP 0x0800
#define ETH_P_IPV6 0x86dd
#define ETH_P_ARP 0x0806

NOINL int parse_ether(const u8 *p, u32 len) {
  if (len < ETH_HLEN) return 0;
  u32 off = 12, t = ld16(p + off);
  for (int tags = 0; tags < 2 && (t == 0x8100 || t == 0x88a8); tags++) {
    if (len < off + 6) return 0;
    off += 4; t = ld16(p + off);
  }
  eth_type = t; l3off = off + 2;
  return 1;
}
INL u64 load_mac(const u8 *p) { return (u64)ld32raw(p) | ((u64)ld16raw(p + 4) << 32); }
INL void store_mac(u8 *p, u64 m) { st32raw(p, (u32)m); st16raw(p + 4, (u16)(m >> 32)); }

enum { V4_OK, V4_MALFORMED, V4_BAD_CSUM };
NOINL int parse_ipv4(const u8 *p, u32 off, u32 len) {
  if (len < off + 20) return V4_MALFORMED;
  const u8 *h = p + off;
  u32 vihl = h[0], ihl = (vihl & 0xf) << 2;
  if ((vihl >> 4) != 4 || ihl < 20) return V4_MALFORMED;
  u32 tot = ld16(h + 2);
  if (tot < ihl || off + tot > len) return V4_MALFORMED;
  if (csum_fold(csum_add(h, ihl, 0)) != 0xffff) return V4_BAD_CSUM;
  u32 frag = ld16(h + 6), offset = frag & 0x1fff; int mf = (frag & 0x2000) != 0;
  m_fragment = mf || offset != 0; m_firstfrag = offset == 0; m_fragid = ld16raw(h + 4); m_morefrags = mf;
  m_af = 4; m_l3 = off; m_l3end = off + tot;
  m_saddr4 = ld32raw(h + 12); m_daddr4 = ld32raw(h + 16);
  m_proto = h[9]; m_l4 = off + ihl;
  m_ttl = h[8];
  return V4_OK;
}
#define TH_FIN 0x01
#define TH_SYN 0x02
#define TH_RST 0x04
#define TH_ACK 0x10
NOINL int parse_tcp(const u8 *p, u32 l4, u32 end) {
  if (l4 + 20 > end) return 0;
  u32 doff = ((u32)p[l4 + 12] >> 4) << 2;
  if (doff < 20 || l4 + doff > end) return 0;
  m_sport = ld16raw(p + l4); m_dport = ld16raw(p + l4 + 2);
  m_tcpflags = p[l4 + 13];
  return 1;
}

/* ---- real servers, services, schedulers (svc/, sched/) ---- */
#define DEST_F_AVAILABLE 1u
#define DEST_F_OVERLOAD 2u
#define FWD_MASQ 0
#define FWD_TUNNEL 2
#define FWD_DROUTE 3
typedef struct { u32 id; stats_t *svc_stats; stats_t *stats; i32 activeconns, inactconns, persistconns; u32 flags, uth, lth, persist_ms;
  v128 addr; u16 port; u8 fwd; i32 weight; i32 refcnt; } dstate_t;
typedef struct { v128 addr; u16 port; u8 af, fwd; i32 weight; u32 uth, lth; dstate_t *st; } dest_t;
typedef struct { u8 af, proto; v128 saddr, daddr; u16 sport, dport; } schedin_t;
static schedin_t sched_in;
struct service;
typedef dest_t *(*schedule_fn)(struct service *, schedin_t *);
typedef struct service { u32 id; u8 af, proto; v128 addr; u16 port; u32 fwmark, flags, timeout_ms, netmask;
  schedule_fn schedule; i32 rr_last; dest_t **dests; int ndests; stats_t *stats; } service_t;
#define SVC_F_PERSISTENT 1u
#define SVC_F_ONEPACKET 4u

static dstate_t **dest_states; static int ndest_states = 1;
INL dstate_t *dest_state(u32 id) { return dest_states[id]; }
INL int usable(dest_t *d) { return d->weight > 0 && !(d->st->flags & DEST_F_OVERLOAD); }

/* rr (sched/rr.ts, ip_vs_rr.c) */
static dest_t *sched_rr(service_t *svc, schedin_t *in) {
  (void)in;
  dest_t **ds = svc->dests; int n = svc->ndests;
  if (n == 0) return NULL;
  int i = svc->rr_last;
  for (int k = 0; k < n; k++) {
    i = i + 1 >= n ? 0 : i + 1;
    dest_t *d = ds[i];
    if (usable(d)) { svc->rr_last = i; return d; }
  }
  return NULL;
}
/* wlc (ip_vs_wlc.c): least (activeconns*256 + inactconns) / weight, compared as loh*w2 > doh*w1. */
INL i32 overhead(dest_t *d) { return (d->st->activeconns << 8) + d->st->inactconns; }
static dest_t *sched_wlc(service_t *svc, schedin_t *in) {
  (void)in;
  dest_t **ds = svc->dests; int n = svc->ndests, i = 0;
  dest_t *least = NULL; i32 loh = 0;
  for (; i < n; i++) {
    dest_t *d = ds[i];
    if (!(d->st->flags & DEST_F_OVERLOAD) && d->weight > 0) { least = d; loh = overhead(d); break; }
  }
  if (!least) return NULL;
  for (i++; i < n; i++) {
    dest_t *d = ds[i];
    if (d->st->flags & DEST_F_OVERLOAD) continue;
    i32 doh = overhead(d);
    if ((int64_t)loh * d->weight > (int64_t)doh * least->weight) { least = d; loh = doh; }
  }
  return least;
}

/* the live generation's service index (svc/generation.ts) */
static service_t **svc_index; static u32 svc_mask; static int has_port_zero, has_fwmark;
INL u32 key_hash(u8 af, u8 proto, v128 addr, u16 port) { return mix32(fold_addr(addr) ^ ((u32)port << 16) ^ ((u32)proto << 8) ^ af); }
NOINL service_t *find_service(u8 af, u8 proto, v128 addr, u16 port) {
  service_t **idx = svc_index;
  u32 h = key_hash(af, proto, addr, port) & svc_mask;
  for (;;) {
    service_t *s = idx[h];
    if (!s) break;
    if (s->fwmark == 0 && s->port == port && s->proto == proto && s->af == af && addr_eq(s->addr, addr)) return s;
    h = (h + 1) & svc_mask;
  }
  if (has_port_zero && port != 0) return find_service(af, proto, addr, 0);
  return NULL;
}

/* ---- connection state (conn/state.ts) ---- */
enum { S_NONE, S_ESTABLISHED, S_SYN_SENT, S_SYN_RECV, S_FIN_WAIT, S_TIME_WAIT, S_CLOSE, S_CLOSE_WAIT, S_LAST_ACK, S_LISTEN, S_SYNACK, S_LAST };
#define DIR_INPUT 0
#define DIR_OUTPUT 4
#define DIR_INPUT_ONLY 8
static u32 tcp_timeouts[12] = { 2000, 900000, 120000, 60000, 120000, 120000, 10000, 60000, 30000, 120000, 120000, 2000 };
static u32 udp_timeout = 300000, icmp_timeout = 60000;
#define sNO S_NONE
#define sES S_ESTABLISHED
#define sSS S_SYN_SENT
#define sSR S_SYN_RECV
#define sFW S_FIN_WAIT
#define sTW S_TIME_WAIT
#define sCL S_CLOSE
#define sCW S_CLOSE_WAIT
#define sLA S_LAST_ACK
#define sLI S_LISTEN
#define sSA S_SYNACK
static const u8 state_table[] = {
  sSR, sES, sES, sSR, sSR, sSR, sSR, sSR, sSR, sSR, sSR,
  sCL, sCW, sSS, sTW, sTW, sTW, sCL, sCW, sLA, sLI, sTW,
  sES, sES, sSS, sES, sFW, sTW, sCL, sCW, sCL, sLI, sES,
  sCL, sCL, sCL, sSR, sCL, sCL, sCL, sCL, sLA, sLI, sSR,
  sSS, sES, sSS, sSR, sSS, sSS, sSS, sSS, sSS, sLI, sSR,
  sTW, sFW, sSS, sTW, sFW, sTW, sCL, sTW, sLA, sLI, sTW,
  sES, sES, sSS, sES, sFW, sTW, sCL, sCW, sLA, sES, sES,
  sCL, sCL, sSS, sCL, sCL, sTW, sCL, sCL, sCL, sCL, sCL,
  sSR, sES, sES, sSR, sSR, sSR, sSR, sSR, sSR, sSR, sSR,
  sCL, sFW, sSS, sTW, sFW, sTW, sCL, sCW, sLA, sLI, sTW,
  sES, sES, sSS, sES, sFW, sTW, sCL, sCW, sCL, sLI, sES,
  sCL, sCL, sCL, sSR, sCL, sCL, sCL, sCL, sLA, sLI, sCL,
};
INL int event_of(u8 f) {
  if (f & TH_RST) return 3;
  if (f & TH_SYN) return 0;
  if (f & TH_FIN) return 1;
  if (f & TH_ACK) return 2;
  return -1;
}
NOINL u8 tcp_next(u8 state, u32 dir, u8 flags) {
  int ev = event_of(flags);
  if (ev < 0 || state >= S_LAST) return S_CLOSE;
  return state_table[(dir + (u32)ev) * 11 + state];
}

/* ---- binding (svc/bind.ts) ---- */
INL u32 total_conns(dstate_t *st) { return (u32)(st->activeconns + st->inactconns); }
static void update_overload(dstate_t *st) {
  if (st->lth != 0) { if (total_conns(st) < st->lth) st->flags &= ~DEST_F_OVERLOAD; }
  else if (st->uth != 0) { if (total_conns(st) * 4 < st->uth * 3) st->flags &= ~DEST_F_OVERLOAD; }
  else st->flags &= ~DEST_F_OVERLOAD;
  if (st->uth != 0 && total_conns(st) >= st->uth) st->flags |= DEST_F_OVERLOAD;
}
NOINL void bind_conn(dstate_t *st, int templ, int inactive) {
  st->refcnt++;
  if (templ) { st->persistconns++; return; }
  if (inactive) st->inactconns++; else st->activeconns++;
  if (st->uth != 0 && total_conns(st) >= st->uth) st->flags |= DEST_F_OVERLOAD;
}
static void dest_put(dstate_t *st) { if (--st->refcnt == 0) { dest_states[st->id] = NULL; st->id = 0; } }
static void unbind_conn(dstate_t *st, int templ, int inactive) {
  if (templ) st->persistconns--;
  else { if (inactive) st->inactconns--; else st->activeconns--; update_overload(st); }
  dest_put(st);
}
INL void move_active(dstate_t *st, int to_active) {
  if (to_active) { st->inactconns--; st->activeconns++; } else { st->activeconns--; st->inactconns++; }
}

/* ---- connection table (conn/table.ts), IPv4 entries of 48 bytes ----
 *  0 caddr 4 vaddr 8 daddr | 12 cport 14 vport 16 dport 18 proto 19 state 20 flags 22 nControl
 *  24 destId 28 expires 32 control 36 nextIn 40 nextOut (44..47 padding) */
#define CF_USED 0x0001
#define CF_TEMPLATE 0x0002
#define CF_INACTIVE 0x0004
#define CF_HASHED_OUT 0x0008
#define CF_NOOUTPUT 0x0010
#define CF_FWD_SHIFT 8
typedef struct { u8 *base; u32 cap, esz, o; u32 *in_heads, *out_heads; u32 bmask, free_head, count, cursor, seed; size_t bytes; } ctab_t;
static ctab_t conns4, conns6;
INL u8 *E(ctab_t *t, u32 i) { return t->base + (size_t)i * 48; }
#define O 12
INL u16 c_flags(ctab_t *t, u32 i) { return ld16raw(E(t, i) + O + 8); }
INL void c_set_flags(ctab_t *t, u32 i, u16 f) { st16raw(E(t, i) + O + 8, f); }
INL u32 c_expires(ctab_t *t, u32 i) { return ld32raw(E(t, i) + O + 16); }
INL void c_set_expires(ctab_t *t, u32 i, u32 v) { st32raw(E(t, i) + O + 16, v); }
INL u32 c_dest_id(ctab_t *t, u32 i) { return ld32raw(E(t, i) + O + 12); }
INL u16 c_ncontrol(ctab_t *t, u32 i) { return ld16raw(E(t, i) + O + 10); }
INL void c_set_ncontrol(ctab_t *t, u32 i, u16 n) { st16raw(E(t, i) + O + 10, n); }
INL u32 c_next_in(ctab_t *t, u32 i) { return ld32raw(E(t, i) + O + 24); }
INL u32 c_next_out(ctab_t *t, u32 i) { return ld32raw(E(t, i) + O + 28); }
INL void c_set_next_in(ctab_t *t, u32 i, u32 n) { st32raw(E(t, i) + O + 24, n); }
INL void c_set_next_out(ctab_t *t, u32 i, u32 n) { st32raw(E(t, i) + O + 28, n); }
INL int c_live(ctab_t *t, u32 i, u32 now) { return (i32)(c_expires(t, i) - now) > 0; }

INL u32 h_in(ctab_t *t, u8 proto, u32 caddr, u16 cport, u32 vaddr, u16 vport) {
  return mix32(mix32(caddr ^ t->seed) ^ vaddr ^ (((u32)cport << 16) | vport) ^ proto) & t->bmask;
}
INL u32 h_out(ctab_t *t, u8 proto, u32 daddr, u16 dport, u32 caddr, u16 cport) {
  return mix32(daddr ^ mix32(caddr ^ t->seed ^ 0x5bd1e995u) ^ (((u32)dport << 16) | cport) ^ proto) & t->bmask;
}

static void ctab_init(ctab_t *t, u32 cap, u32 seed, u32 esz, u32 o) {
  memset(t, 0, sizeof *t);
  t->cap = cap; t->seed = seed; t->esz = esz; t->o = o; t->free_head = NONE;
  u32 b = 1; while (b < cap) b <<= 1;
  t->bmask = b - 1;
  t->base = aligned_alloc(16, ((size_t)cap * esz + 15) & ~(size_t)15);
  t->in_heads = aligned_alloc(16, (size_t)b * 4);
  t->out_heads = aligned_alloc(16, (size_t)b * 4);
  t->bytes = (size_t)cap * esz + (size_t)b * 8;
  memset(t->in_heads, 0xff, (size_t)b * 4);
  memset(t->out_heads, 0xff, (size_t)b * 4);
  memset(t->base, 0, (size_t)cap * esz);
  for (i32 i = (i32)cap - 1; i >= 0; i--) { st32raw(t->base + (size_t)i * esz + o + 24, t->free_head); t->free_head = (u32)i; }
}

NOINL u32 lookup_in(ctab_t *t, u8 proto, u32 caddr, u16 cport, u32 vaddr, u16 vport, u32 now) {
  u32 i = t->in_heads[h_in(t, proto, caddr, cport, vaddr, vport)];
  while (i != NONE) {
    u8 *p = E(t, i);
    if (ld16raw(p + O) == cport && ld16raw(p + O + 2) == vport && p[O + 6] == proto
      && (ld16raw(p + O + 8) & CF_TEMPLATE) == 0 && ld32raw(p) == caddr && ld32raw(p + 4) == vaddr)
      return c_live(t, i, now) ? i : NONE;
    i = ld32raw(p + O + 24);
  }
  return NONE;
}
NOINL u32 lookup_out(ctab_t *t, u8 proto, u32 daddr, u16 dport, u32 caddr, u16 cport, u32 now) {
  u32 i = t->out_heads[h_out(t, proto, daddr, dport, caddr, cport)];
  while (i != NONE) {
    u8 *p = E(t, i);
    if (ld16raw(p + O + 4) == dport && ld16raw(p + O) == cport && p[O + 6] == proto
      && ld32raw(p + 8) == daddr && ld32raw(p) == caddr)
      return c_live(t, i, now) ? i : NONE;
    i = ld32raw(p + O + 28);
  }
  return NONE;
}
static u32 expire_step(ctab_t *t, u32 now, u32 budget);
NOINL u32 ctab_insert(ctab_t *t, u8 proto, u32 caddr, u16 cport, u32 vaddr, u16 vport, u32 daddr, u16 dport,
    u16 flags, u32 dest_id, u32 control, u32 expires, u32 now) {
  if (t->free_head == NONE) expire_step(t, now, 64);
  u32 i = t->free_head;
  if (i == NONE) return NONE;
  t->free_head = c_next_in(t, i);
  u8 *p = E(t, i);
  st32raw(p, caddr); st32raw(p + 4, vaddr); st32raw(p + 8, daddr);
  st16raw(p + O, cport); st16raw(p + O + 2, vport); st16raw(p + O + 4, dport);
  p[O + 6] = proto; p[O + 7] = 0;
  st16raw(p + O + 8, flags | CF_USED); st16raw(p + O + 10, 0);
  st32raw(p + O + 12, dest_id); st32raw(p + O + 16, expires); st32raw(p + O + 20, control);
  u32 hi = h_in(t, proto, caddr, cport, vaddr, vport);
  c_set_next_in(t, i, t->in_heads[hi]); t->in_heads[hi] = i;
  if (flags & CF_HASHED_OUT) {
    u32 ho = h_out(t, proto, daddr, dport, caddr, cport);
    c_set_next_out(t, i, t->out_heads[ho]); t->out_heads[ho] = i;
  } else c_set_next_out(t, i, NONE);
  if (control != NONE) c_set_ncontrol(t, control, c_ncontrol(t, control) + 1);
  t->count++;
  return i;
}
static void unlink_from(ctab_t *t, u32 *heads, u32 h, u32 i, int out) {
  u32 *hp = heads + h, cur = *hp;
  if (cur == i) { *hp = out ? c_next_out(t, i) : c_next_in(t, i); return; }
  while (cur != NONE) {
    u32 nx = out ? c_next_out(t, cur) : c_next_in(t, cur);
    if (nx == i) { if (out) c_set_next_out(t, cur, c_next_out(t, i)); else c_set_next_in(t, cur, c_next_in(t, i)); return; }
    cur = nx;
  }
}
static void ctab_remove(ctab_t *t, u32 i) {
  u16 f = c_flags(t, i);
  if (!(f & CF_USED)) return;
  u8 *p = E(t, i);
  unlink_from(t, t->in_heads, h_in(t, p[O + 6], ld32raw(p), ld16raw(p + O), ld32raw(p + 4), ld16raw(p + O + 2)), i, 0);
  if (f & CF_HASHED_OUT) unlink_from(t, t->out_heads, h_out(t, p[O + 6], ld32raw(p + 8), ld16raw(p + O + 4), ld32raw(p), ld16raw(p + O)), i, 1);
  u32 id = c_dest_id(t, i);
  if (id != 0) unbind_conn(dest_state(id), (f & CF_TEMPLATE) != 0, (f & CF_INACTIVE) != 0);
  u32 c = ld32raw(p + O + 20);
  if (c != NONE && (c_flags(t, c) & CF_USED)) c_set_ncontrol(t, c, c_ncontrol(t, c) - 1);
  c_set_flags(t, i, 0);
  c_set_next_in(t, i, t->free_head); t->free_head = i; t->count--;
}
/* The sweep over either table: entry size and field offset per table, as the two Wasm specialisations. */
static u32 expire_step(ctab_t *t, u32 now, u32 budget) {
  u32 removed = 0, c = t->cursor, n = budget < t->cap ? budget : t->cap;
  const u32 esz = t->esz, o = t->o;
  for (u32 k = 0; k < n; k++) {
    u8 *p = t->base + (size_t)c * esz;
    u16 f = ld16raw(p + o + 8);
    if ((f & CF_USED) && !((i32)(ld32raw(p + o + 16) - now) > 0)) {
      if ((f & CF_TEMPLATE) && ld16raw(p + o + 10) > 0) {
        st32raw(p + o + 16, now + 60000); /* TEMPLATE_RECHECK_MS */
      } else if (esz == 48) { ctab_remove(t, c); removed++; }
    }
    c = c + 1 == t->cap ? 0 : c + 1;
  }
  t->cursor = c;
  return removed;
}

/* ---- transmit (xmit/send.ts, xmit/nat.ts, xmit/method.ts) ---- */
INL u8 *copy_datagram(const u8 *in, u8 *out, u32 cap, u32 headroom) {
  u32 dlen = m_l3end - m_l3;
  if (ETH_HLEN + headroom + dlen > cap) return NULL;
  u8 *dst = out + ETH_HLEN + headroom;
  const u8 *src = in + m_l3;
  if (dst != src) memmove(dst, src, dlen);
  return dst;
}
NOINL int send_ip(u8 *out, u32 cap, u32 iplen, link_t *lk, u8 af, v128 nh, u32 now) {
  (void)cap; (void)now;
  if (neigh_lookup(lk->id, af, nh)) {
    store_mac(out, found_mac); store_mac(out + 6, lk->mac); st16raw(out + 12, __builtin_bswap16(af == 4 ? ETH_P_IP : ETH_P_IPV6));
    return tx(lk->id, ETH_HLEN + iplen);
  }
  return drop(R_NEIGH_UNRESOLVED); /* solicitation not modelled: never reached by the traces */
}
INL void patch_l4(u8 *l4, u8 proto, u32 port_off, u32 old_a, u32 new_a, u16 new_port) {
  u32 coff;
  if (proto == 6) coff = 16; else if (proto == 17) coff = 6; else return;
  u32 old_port = ld16raw(l4 + port_off);
  st16raw(l4 + port_off, new_port);
  u32 c = ld16raw(l4 + coff);
  if (proto == 17 && c == 0) return;
  c = csum_replace4(c, old_a, new_a);
  c = csum_replace2(c, old_port, new_port);
  if (proto == 17 && c == 0) c = 0xffff;
  st16raw(l4 + coff, (u16)c);
}
INL u32 patch_addr(u8 *ip, u32 aoff, u32 new_a) {
  u32 old_a = ld32raw(ip + aoff);
  st32raw(ip + aoff, new_a);
  st16raw(ip + 10, (u16)csum_replace4(ld16raw(ip + 10), old_a, new_a));
  return old_a;
}
NOINL void dnat(u8 *ip, u8 *l4, u8 proto, u32 daddr, u16 dport) {
  u32 old = patch_addr(ip, 16, daddr);
  if (l4) patch_l4(l4, proto, 2, old, daddr, dport);
}
NOINL void snat(u8 *ip, u8 *l4, u8 proto, u32 vaddr, u16 vport) {
  u32 old = patch_addr(ip, 12, vaddr);
  if (l4) patch_l4(l4, proto, 0, old, vaddr, vport);
}
NOINL int xmit_in(u8 fwd, u32 daddr, u16 dport, const u8 *in, u8 *out, u32 cap, u32 now) {
  u32 iplen = m_l3end - m_l3;
  if (!route_lookup4(daddr)) return drop(R_NO_ROUTE);
  link_t *lk = link_of(nh_link);
  if (!lk || !lk->up) return drop(R_NO_ROUTE);
  if (fwd == FWD_TUNNEL) return drop(R_UNSUPPORTED); /* not in the traces */
  if (iplen > lk->mtu) return drop(R_TOO_BIG);       /* not in the traces */
  u8 *ip = copy_datagram(in, out, cap, 0);
  if (!ip) return drop(R_OUT_NO_ROOM);
  if (fwd == FWD_MASQ) {
    u8 *l4 = m_firstfrag ? ip + (m_l4 - m_l3) : NULL;
    dnat(ip, l4, m_proto, daddr, dport);
    return send_ip(out, cap, iplen, lk, 4, nh_addr, now);
  }
  return send_ip(out, cap, iplen, lk, 4, v4addr(daddr), now);
}
NOINL int xmit_out(u32 vaddr, u16 vport, const u8 *in, u8 *out, u32 cap, u32 now) {
  u32 iplen = m_l3end - m_l3;
  if (!route_lookup4(m_daddr4)) return drop(R_NO_ROUTE);
  link_t *lk = link_of(nh_link);
  if (!lk || !lk->up) return drop(R_NO_ROUTE);
  if (iplen > lk->mtu) return drop(R_TOO_BIG); /* not in the traces */
  u8 *ip = copy_datagram(in, out, cap, 0);
  if (!ip) return drop(R_OUT_NO_ROOM);
  u8 *l4 = m_firstfrag ? ip + (m_l4 - m_l3) : NULL;
  snat(ip, l4, m_proto, vaddr, vport);
  return send_ip(out, cap, iplen, lk, 4, nh_addr, now);
}

/* ---- the per-frame path (core.ts) ---- */
INL void track(ctab_t *t, u32 i, u32 dir, u32 now) {
  u8 *p = E(t, i);
  u8 proto = p[O + 6];
  u32 timeout;
  if (proto == 6) {
    u16 flags = ld16raw(p + O + 8);
    u32 d = dir;
    if (flags & CF_NOOUTPUT) d = DIR_INPUT_ONLY;
    u8 old = p[O + 7];
    u8 ns = tcp_next(old, d, m_tcpflags);
    if (ns != old) {
      u32 id = ld32raw(p + O + 12);
      if (id != 0) {
        dstate_t *st = dest_state(id);
        if (!(flags & CF_INACTIVE) && ns != S_ESTABLISHED) { move_active(st, 0); flags |= CF_INACTIVE; st16raw(p + O + 8, flags); }
        else if ((flags & CF_INACTIVE) && ns == S_ESTABLISHED) { move_active(st, 1); flags &= ~CF_INACTIVE; st16raw(p + O + 8, flags); }
      }
      p[O + 7] = ns;
    }
    timeout = tcp_timeouts[ns];
  } else if (proto == 17) timeout = udp_timeout;
  else timeout = icmp_timeout;
  st32raw(p + O + 16, now + timeout);
}
NOINL int fwd_in(u32 i, const u8 *in, u8 *out, u32 cap, u32 now) {
  ctab_t *t = &conns4;
  track(t, i, DIR_INPUT, now);
  dstate_t *st = dest_state(c_dest_id(t, i));
  u32 len = m_l3end - m_l3;
  count_in(st->stats, len); count_in(st->svc_stats, len);
  if (m_fragment) return drop(R_UNSUPPORTED); /* fragment notes: not in the traces */
  u8 *p = E(t, i);
  return xmit_in((u8)((ld16raw(p + O + 8) >> CF_FWD_SHIFT) & 3), ld32raw(p + 8), ld16raw(p + O + 4), in, out, cap, now);
}
NOINL int fwd_out(u32 i, const u8 *in, u8 *out, u32 cap, u32 now) {
  ctab_t *t = &conns4;
  track(t, i, DIR_OUTPUT, now);
  dstate_t *st = dest_state(c_dest_id(t, i));
  u32 len = m_l3end - m_l3;
  count_out(st->stats, len); count_out(st->svc_stats, len);
  if (m_fragment) return drop(R_UNSUPPORTED);
  u8 *p = E(t, i);
  return xmit_out(ld32raw(p + 4), ld16raw(p + O + 2), in, out, cap, now);
}
static service_t *service_for(u8 proto, u32 daddr) {
  if (has_fwmark) return NULL; /* fwmark rules: none configured in the benchmarks */
  return find_service(4, proto, v4addr(daddr), m_dport);
}
static dest_t *pick(service_t *svc) {
  schedin_t *in = &sched_in;
  in->af = 4; in->proto = m_proto; in->saddr = v4addr(m_saddr4); in->daddr = v4addr(m_daddr4);
  in->sport = m_sport; in->dport = m_dport;
  return svc->schedule(svc, in);
}
NOINL int new_conn(service_t *svc, const u8 *in, link_t *lk, u8 *out, u32 cap, u32 now) {
  u8 proto = m_proto;
  if (proto == 6) {
    u8 f = m_tcpflags;
    if (!(f & TH_SYN) || (f & (TH_RST | TH_ACK))) return owns4(lk, m_daddr4) ? V_LOCAL : drop(R_NO_CONN);
  }
  ctab_t *t = &conns4;
  u32 caddr = m_saddr4, vaddr = m_daddr4, control = NONE;
  if (svc->flags & SVC_F_PERSISTENT) return drop(R_UNSUPPORTED); /* templates: not in the benchmarks */
  dest_t *dd = pick(svc);
  if (!dd) return drop(R_NO_DEST);
  dstate_t *d = dd->st;
  u16 dport = d->port != 0 ? d->port : m_dport;
  u32 daddr = d->addr.w[0];
  svc->stats->conns++;
  d->stats->conns++;
  if ((svc->flags & SVC_F_ONEPACKET) && proto == 17) return drop(R_UNSUPPORTED);
  u16 flags = CF_INACTIVE | ((u16)d->fwd << CF_FWD_SHIFT);
  if (d->fwd == FWD_MASQ) flags |= CF_HASHED_OUT; else flags |= CF_NOOUTPUT;
  u32 i = ctab_insert(t, proto, caddr, m_sport, vaddr, m_dport, daddr, dport, flags, d->id, control, now, now);
  if (i == NONE) return drop(R_CONN_TABLE_FULL);
  bind_conn(d, 0, 1);
  return fwd_in(i, in, out, cap, now);
}
NOINL int ip_in(const u8 *in, link_t *lk, u8 *out, u32 cap, u32 now) {
  u8 proto = m_proto;
  if (m_fragment && !m_firstfrag) return drop(R_FRAG_NO_STATE); /* later fragments: not in the traces */
  u32 end = m_l3end;
  if (proto == 6) { if (!parse_tcp(in, m_l4, end)) return drop(R_L4_MALFORMED); }
  else return owns4(lk, m_daddr4) ? V_LOCAL : drop(R_NO_SERVICE); /* UDP/ICMP: not in the traces */
  ctab_t *t = &conns4;
  u32 s = m_saddr4, d = m_daddr4;
  u32 i = lookup_in(t, proto, s, m_sport, d, m_dport, now);
  if (i != NONE) return fwd_in(i, in, out, cap, now);
  i = lookup_out(t, proto, s, m_sport, d, m_dport, now);
  if (i != NONE) return fwd_out(i, in, out, cap, now);
  service_t *svc = service_for(proto, d);
  if (svc) return new_conn(svc, in, lk, out, cap, now);
  return owns4(lk, d) ? V_LOCAL : drop(R_NO_SERVICE);
}
NOINL int process_frame(const u8 *in, u32 len, i32 in_link, u8 *out, u32 cap, u32 now) {
  reset_out();
  link_t *lk = link_of(in_link);
  if (!lk) return drop(R_BAD_LINK);
  if (!lk->up) return drop(R_LINK_DOWN);
  if (!parse_ether(in, len)) return drop(R_ETH_TRUNCATED);
  u64 dmac = load_mac(in);
  if (dmac != lk->mac && !(dmac & 1)) return drop(R_NOT_OUR_MAC);
  u32 t = eth_type;
  if (t == ETH_P_IP) {
    int r = parse_ipv4(in, l3off, len);
    if (r != V4_OK) return drop(r == V4_BAD_CSUM ? R_IP_BAD_CSUM : R_IP_MALFORMED);
    return ip_in(in, lk, out, cap, now);
  }
  return drop(R_ETHERTYPE); /* IPv6 and ARP: not in the traces */
}

/* ---- the batch call (ring/batch.ts): descriptors hold offsets into mem, as in linear memory ---- */
static u32 expire_budget = 64;
static u64 batches, frames_in, frames_tx, frames_local;
static i32 cur_in_link;
volatile u32 sched_now;
NOINL u32 run_batch(u8 *mem, u32 desc, u32 count, u32 now) {
  u32 ntx = 0;
  sched_now = now; /* sched/clock.ts: lblc/lblcr age their caches on it */
  for (u32 k = 0; k < count; k++) {
    u8 *d = mem + desc + (size_t)k * 32;
    i32 in_link = (i32)ld16raw(d + 20);
    cur_in_link = in_link;
    int v = process_frame(mem + ld32raw(d), ld32raw(d + 4), in_link, mem + ld32raw(d + 8), ld32raw(d + 12), now);
    st32raw(d + 16, v == 1 ? out_len : 0);
    st16raw(d + 22, (u16)(v == 1 ? out_link : 0));
    st16raw(d + 24, (u16)v);
    st16raw(d + 26, (u16)reason);
    if (v == 1) ntx++; else if (v == 2) frames_local++;
  }
  expire_step(&conns4, now, expire_budget);
  expire_step(&conns6, now, expire_budget);
  batches++; frames_in += count; frames_tx += ntx;
  return ntx;
}

/* ---- set-up: the topology of bench/lib/topo.js ---- */
static u32 ip4raw(u8 a, u8 b, u8 c, u8 d) { u8 x[4] = {a, b, c, d}; return ld32raw(x); }
static u64 mac6(u8 last5, u8 last6) { u8 m[8] = {2, 0, 0, 0, last5, last6, 0, 0}; return load_mac(m); }
static link_t *mk_link(i32 id, u64 mac) {
  link_t *l = calloc(1, sizeof *l); l->id = id; l->mac = mac; l->mtu = 1500; l->up = 1;
  l->addrs = calloc(8, sizeof *l->addrs); links[id] = l; return l;
}
static void add_addr(link_t *l, u32 raw, u8 plen) {
  linkaddr_t *a = calloc(1, sizeof *a); a->af = 4; a->addr = v4addr(raw); a->plen = plen; l->addrs[l->naddrs++] = a;
  if (!l->primary4) l->primary4 = raw;
}
static void add_route(u32 prefix_raw, u8 len, i32 link) {
  route_t *r = calloc(1, sizeof *r);
  r->af = 4; r->len = len; r->link = link;
  r->mask4 = len == 0 ? 0 : __builtin_bswap32(0xffffffffu << (32 - len));
  r->prefix4 = prefix_raw & r->mask4; r->prefix = v4addr(r->prefix4);
  int at = 0; while (at < nroutes && routes[at]->len >= len) at++;
  memmove(routes + at + 1, routes + at, (size_t)(nroutes - at) * sizeof *routes);
  routes[at] = r; nroutes++;
}

typedef struct { u32 magic, mode, nsyn, npkts, batch, passes, seed, cap4, cap6, sched, nrs, framelen, rec, budget, now_setup, now_run; } hdr_t;

static double now_ns(void) { struct timespec ts; clock_gettime(CLOCK_MONOTONIC, &ts); return ts.tv_sec * 1e9 + ts.tv_nsec; }

int main(int argc, char **argv) {
  if (argc < 2) { fprintf(stderr, "usage: %s TRACE\n", argv[0]); return 2; }
  FILE *f = fopen(argv[1], "rb");
  if (!f) { perror(argv[1]); return 2; }
  hdr_t h;
  if (fread(&h, sizeof h, 1, f) != 1 || h.magic != 0x43525457u) { fprintf(stderr, "bad trace\n"); return 2; }
  const u32 SLOT = 2048;
  size_t syn_bytes = (size_t)h.nsyn * h.rec, pkt_bytes = (size_t)h.npkts * h.rec;
  /* one arena laid out as the Wasm side does: frames, descriptors, output slots */
  size_t off_syn = 64, off_pkt = (off_syn + syn_bytes + 63) & ~(size_t)63;
  size_t off_dsyn = (off_pkt + pkt_bytes + 63) & ~(size_t)63, off_dpkt = (off_dsyn + (size_t)h.nsyn * 32 + 63) & ~(size_t)63;
  size_t off_out = (off_dpkt + (size_t)h.npkts * 32 + 4095) & ~(size_t)4095, total = off_out + (size_t)h.batch * SLOT;
  if (total > 0xffffffffu) { fprintf(stderr, "trace too large\n"); return 2; }
  u8 *mem = aligned_alloc(4096, (total + 4095) & ~(size_t)4095);
  memset(mem, 0, total);
  if (fread(mem + off_syn, 1, syn_bytes, f) != syn_bytes || fread(mem + off_pkt, 1, pkt_bytes, f) != pkt_bytes) { fprintf(stderr, "short trace\n"); return 2; }
  fclose(f);
  u32 ns_[2] = {h.nsyn, h.npkts}; size_t fr[2] = {off_syn, off_pkt}, ds[2] = {off_dsyn, off_dpkt};
  for (int s = 0; s < 2; s++)
    for (u32 k = 0; k < ns_[s]; k++) {
      u8 *d = mem + ds[s] + (size_t)k * 32;
      st32raw(d, (u32)(fr[s] + (size_t)k * h.rec)); st32raw(d + 4, h.framelen);
      st32raw(d + 8, (u32)(off_out + (size_t)(k % h.batch) * SLOT)); st32raw(d + 12, SLOT);
      st32raw(d + 16, 0); st16raw(d + 20, 0); st32raw(d + 28, 0);
    }
  expire_budget = h.budget;

  /* tables, links, addresses (with their connected routes), neighbours */
  ctab_init(&conns4, h.cap4, h.seed, 48, 12);
  ctab_init(&conns6, h.cap6 ? h.cap6 : 1, h.seed ^ 0x9e3779b9u, 80, 48);
  routes = calloc(16, sizeof *routes);
  link_t *l0 = mk_link(0, mac6(0, 1)), *l1 = mk_link(1, mac6(1, 1));
  add_addr(l0, ip4raw(198, 18, 0, 1), 24); add_route(ip4raw(198, 18, 0, 0), 24, 0);
  u32 vip = ip4raw(198, 18, 100, 1);
  add_addr(l0, vip, 32); add_route(vip, 32, 0);
  add_addr(l1, ip4raw(198, 19, 0, 1), 24); add_route(ip4raw(198, 19, 0, 0), 24, 1);
  /* service VIP:80, NAT real servers 198.19.0.11.. :8080, weight 1 */
  dest_states = calloc(h.nrs + 2, sizeof *dest_states);
  service_t *svc = calloc(1, sizeof *svc);
  svc->id = 1; svc->af = 4; svc->proto = 6; svc->addr = v4addr(vip); svc->port = __builtin_bswap16(80);
  svc->netmask = 0xffffffffu; svc->rr_last = -1; svc->stats = calloc(1, sizeof(stats_t));
  svc->schedule = h.sched == 3 ? sched_wlc : sched_rr;
  svc->dests = calloc(h.nrs, sizeof *svc->dests); svc->ndests = (int)h.nrs;
  for (u32 i = 0; i < h.nrs; i++) {
    u32 a = ip4raw(198, 19, 0, (u8)(11 + i));
    neigh_set(1, 4, v4addr(a), mac6(1, (u8)(0x11 + i)));
    dstate_t *st = calloc(1, sizeof *st);
    st->svc_stats = svc->stats; st->stats = calloc(1, sizeof(stats_t));
    st->id = (u32)ndest_states; dest_states[ndest_states++] = st; st->refcnt = 1;
    st->flags = DEST_F_AVAILABLE; st->addr = v4addr(a); st->port = __builtin_bswap16(8080); st->fwd = FWD_MASQ; st->weight = 1;
    dest_t *d = calloc(1, sizeof *d);
    d->addr = st->addr; d->port = st->port; d->af = 4; d->fwd = FWD_MASQ; d->weight = 1; d->st = st;
    svc->dests[i] = d;
  }
  svc_mask = 15; svc_index = calloc(16, sizeof *svc_index);
  svc_index[key_hash(4, 6, svc->addr, svc->port) & svc_mask] = svc;

  u32 B = h.batch, nsetup = 0;
  for (u32 k = 0; k < h.nsyn; k += B) nsetup += run_batch(mem, (u32)(off_dsyn + (size_t)k * 32), h.nsyn - k < B ? h.nsyn - k : B, h.now_setup);
  if (nsetup != h.nsyn) { fprintf(stderr, "setup: %u of %u SYNs forwarded\n", nsetup, h.nsyn); return 1; }
  u32 passes = h.passes;
  if (h.mode == 1) { /* warm-up pass: every flow reaches ESTABLISHED before timing */
    for (u32 k = 0; k < h.npkts; k += B) run_batch(mem, (u32)(off_dpkt + (size_t)k * 32), h.npkts - k < B ? h.npkts - k : B, h.now_run);
  }
  u64 ntx = 0;
  double t0 = now_ns();
  for (u32 p = 0; p < passes; p++)
    for (u32 k = 0; k < h.npkts; k += B) ntx += run_batch(mem, (u32)(off_dpkt + (size_t)k * 32), h.npkts - k < B ? h.npkts - k : B, h.now_run);
  double t1 = now_ns();
  /* FNV-1a over the last batch's output frames: the JS side checks it matches the data plane's */
  u32 hash = 0x811c9dc5u, first = ((h.npkts - 1) / B) * B;
  for (u32 k = first; k < h.npkts; k++) {
    u8 *d = mem + off_dpkt + (size_t)k * 32;
    u8 *o = mem + ld32raw(d + 8); u32 len = ld32raw(d + 16);
    for (u32 i = 0; i < len; i++) hash = (hash ^ o[i]) * 0x01000193u;
  }
  printf("{\"ns\":%.3f,\"tx\":%llu,\"frames\":%llu,\"hash\":%u,\"conns\":%u}\n", (t1 - t0) / ((double)passes * h.npkts),
    (unsigned long long)ntx, (unsigned long long)passes * h.npkts, hash, conns4.count);
  return 0;
}
