/*
 * pkt: the packet tools of benchmark B3 (bench/README.md), plain AF_PACKET.
 *
 *   pkt blast IFACE DSTMAC N FLOWS
 *       N 64-byte UDP frames 198.18.0.10:(10000+i%FLOWS) → 198.18.100.1:5300
 *       through a TPACKET_V2 TX ring (4096 slots of 2048, one sendto per 256).
 *       Prints {"sent":…,"ms":…}. Bounded: stops after 20 s whatever happens.
 *   pkt sink IFACE N IDLE_MS
 *       counts UDP frames to port 5300 on IFACE (TPACKET_V2 RX ring, 65536 slots
 *       of 2048 bytes) until N arrived or none for IDLE_MS; prints
 *       {"got":…,"ms":…,"drops":…} where ms is last − first kernel timestamp.
 *       Prints "ready" once the ring exists.
 *   pkt fwd IN OUT DSTMAC NEWDST RXSLOTS RXSLOTSIZE TXSLOTS TXSLOTSIZE BATCH
 *       the baseline forwarder: frames from IN (TPACKET_V2 RX ring,
 *       PACKET_VNET_HDR, PACKET_IGNORE_OUTGOING) go out of OUT (TPACKET_V2 TX
 *       ring, PACKET_VNET_HDR, PACKET_QDISC_BYPASS, PACKET_LOSS) with the
 *       Ethernet header rewritten (OUT's MAC → DSTMAC) and IPv4 UDP/TCP frames
 *       DNATed to NEWDST (RFC 1624 incremental checksums), up to BATCH frames
 *       per turn and one sendto per turn — the same rings, geometry and batch
 *       as `weir run` (src/dataplane/io.ts). Blocks in poll when idle. On
 *       SIGTERM prints {"forwarded":…,"dropped":…,"ringDrops":…} and exits.
 *       Prints "ready" once both rings exist.
 * Build: gcc -O2 (bench/lib/util.js buildTool).
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <linux/if_ether.h>
#include <linux/if_packet.h>
#include <net/if.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#ifndef PACKET_IGNORE_OUTGOING
#define PACKET_IGNORE_OUTGOING 23
#endif
#define VNET 10 /* sizeof(struct virtio_net_hdr) */
#define TXOFF 32 /* TPACKET2_HDRLEN - sizeof(struct sockaddr_ll) */

static void die(const char *what) { fprintf(stderr, "pkt: %s: %s\n", what, strerror(errno)); exit(1); }
static double now_ms(void) { struct timespec t; clock_gettime(CLOCK_MONOTONIC, &t); return t.tv_sec * 1e3 + t.tv_nsec / 1e6; }

static int ifindex(int fd, const char *name, uint8_t mac[6]) {
  struct ifreq r; memset(&r, 0, sizeof r); strncpy(r.ifr_name, name, IFNAMSIZ - 1);
  if (ioctl(fd, SIOCGIFINDEX, &r) < 0) die("SIOCGIFINDEX");
  int idx = r.ifr_ifindex;
  if (mac) { if (ioctl(fd, SIOCGIFHWADDR, &r) < 0) die("SIOCGIFHWADDR"); memcpy(mac, r.ifr_hwaddr.sa_data, 6); }
  return idx;
}
static void parse_mac(const char *s, uint8_t m[6]) {
  unsigned v[6];
  if (sscanf(s, "%x:%x:%x:%x:%x:%x", &v[0], &v[1], &v[2], &v[3], &v[4], &v[5]) != 6) { fprintf(stderr, "pkt: bad MAC %s\n", s); exit(2); }
  for (int i = 0; i < 6; i++) m[i] = (uint8_t)v[i];
}
static void setopt(int fd, int name, int v, const char *what) { if (setsockopt(fd, SOL_PACKET, name, &v, sizeof v) < 0) die(what); }
static void bind_to(int fd, int idx, int proto) {
  struct sockaddr_ll a; memset(&a, 0, sizeof a);
  a.sll_family = AF_PACKET; a.sll_protocol = htons(proto); a.sll_ifindex = idx;
  if (bind(fd, (struct sockaddr *)&a, sizeof a) < 0) die("bind");
}

typedef struct { int fd; uint8_t *base; unsigned frame_size, frame_nr; } ring_t;

/* RX V2 ring as io.ts asks the addon for it: blockSize = max(slotSize, 4096). */
static ring_t open_rx(const char *ifn, unsigned slots, unsigned slot_size, int vnet) {
  ring_t r; r.fd = socket(AF_PACKET, SOCK_RAW, 0); if (r.fd < 0) die("socket rx");
  setopt(r.fd, PACKET_VERSION, TPACKET_V2, "PACKET_VERSION");
  if (vnet) setopt(r.fd, PACKET_VNET_HDR, 1, "PACKET_VNET_HDR");
  setopt(r.fd, PACKET_IGNORE_OUTGOING, 1, "PACKET_IGNORE_OUTGOING");
  unsigned bs = slot_size > 4096 ? slot_size : 4096;
  struct tpacket_req q = { .tp_block_size = bs, .tp_block_nr = (unsigned)(((uint64_t)slots * slot_size + bs - 1) / bs), .tp_frame_size = slot_size };
  q.tp_frame_nr = q.tp_block_nr * (bs / slot_size);
  if (setsockopt(r.fd, SOL_PACKET, PACKET_RX_RING, &q, sizeof q) < 0) die("PACKET_RX_RING");
  r.base = mmap(NULL, (size_t)bs * q.tp_block_nr, PROT_READ | PROT_WRITE, MAP_SHARED, r.fd, 0);
  if (r.base == MAP_FAILED) die("mmap rx");
  r.frame_size = slot_size; r.frame_nr = q.tp_frame_nr;
  bind_to(r.fd, ifindex(r.fd, ifn, NULL), ETH_P_ALL);
  return r;
}
/* TX V2 ring as the addon's openTx: block = lcm(frameSize, page). */
static ring_t open_tx(const char *ifn, unsigned slots, unsigned slot_size, int vnet, uint8_t mac[6]) {
  ring_t r; r.fd = socket(AF_PACKET, SOCK_RAW, 0); if (r.fd < 0) die("socket tx");
  setopt(r.fd, PACKET_VERSION, TPACKET_V2, "PACKET_VERSION");
  if (vnet) setopt(r.fd, PACKET_VNET_HDR, 1, "PACKET_VNET_HDR");
  int one = 1; setsockopt(r.fd, SOL_PACKET, PACKET_QDISC_BYPASS, &one, sizeof one);
  setopt(r.fd, PACKET_LOSS, 1, "PACKET_LOSS");
  unsigned a = slot_size, b = 4096; while (b) { unsigned t = a % b; a = b; b = t; }
  unsigned bs = slot_size / a * 4096;
  struct tpacket_req q = { .tp_block_size = bs, .tp_block_nr = slots / (bs / slot_size), .tp_frame_size = slot_size, .tp_frame_nr = slots };
  if (setsockopt(r.fd, SOL_PACKET, PACKET_TX_RING, &q, sizeof q) < 0) die("PACKET_TX_RING");
  r.base = mmap(NULL, (size_t)bs * q.tp_block_nr, PROT_READ | PROT_WRITE, MAP_SHARED, r.fd, 0);
  if (r.base == MAP_FAILED) die("mmap tx");
  r.frame_size = slot_size; r.frame_nr = slots;
  bind_to(r.fd, ifindex(r.fd, ifn, mac), 0);
  return r;
}

static uint16_t csum_fold(uint32_t s) { while (s >> 16) s = (s & 0xffff) + (s >> 16); return (uint16_t)s; }
static uint16_t ip_csum(const uint8_t *p, int n) { uint32_t s = 0; for (int i = 0; i < n; i += 2) s += (p[i] << 8) | p[i + 1]; return (uint16_t)~csum_fold(s); }
/* RFC 1624: HC' = ~(~HC + ~m + m'), over 16-bit words of a changed 32-bit field. */
static void csum_replace4(uint8_t *c, uint32_t from, uint32_t to) {
  uint16_t hc = (c[0] << 8) | c[1];
  uint32_t s = (uint16_t)~hc;
  s += (uint16_t)~(from >> 16); s += (uint16_t)~(from & 0xffff);
  s += to >> 16; s += to & 0xffff;
  uint16_t r = (uint16_t)~csum_fold(s);
  c[0] = r >> 8; c[1] = r & 0xff;
}

static volatile sig_atomic_t stop;
static void on_term(int s) { (void)s; stop = 1; }

static int blast(int argc, char **argv) {
  if (argc < 6) return 2;
  uint8_t dmac[6], smac[6]; parse_mac(argv[3], dmac);
  long n = atol(argv[4]), flows = atol(argv[5]); if (flows < 1) flows = 1;
  ring_t t = open_tx(argv[2], 4096, 2048, 0, smac);
  uint8_t f[60]; memset(f, 0, sizeof f);
  memcpy(f, dmac, 6); memcpy(f + 6, smac, 6); f[12] = 8;
  uint8_t *ip = f + 14; ip[0] = 0x45; ip[3] = 46; ip[6] = 0x40; ip[8] = 64; ip[9] = 17;
  ip[12] = 198; ip[13] = 18; ip[14] = 0; ip[15] = 10; ip[16] = 198; ip[17] = 18; ip[18] = 100; ip[19] = 1;
  uint16_t c = ip_csum(ip, 20); ip[10] = c >> 8; ip[11] = c & 0xff;
  uint8_t *u = ip + 20; u[2] = 5300 >> 8; u[3] = 5300 & 0xff; u[5] = 26; /* UDP checksum 0: none */
  long sent = 0; unsigned slot = 0; double t0 = now_ms();
  while (sent < n && now_ms() - t0 < 20000) {
    int q = 0;
    while (q < 256 && sent < n) {
      uint8_t *s = t.base + (size_t)slot * t.frame_size;
      struct tpacket2_hdr *h = (struct tpacket2_hdr *)s;
      if (h->tp_status != TP_STATUS_AVAILABLE) break;
      unsigned sp = 10000 + (unsigned)(sent % flows); u[0] = sp >> 8; u[1] = sp & 0xff;
      memcpy(s + TXOFF, f, 60); h->tp_len = 60;
      __atomic_store_n(&h->tp_status, TP_STATUS_SEND_REQUEST, __ATOMIC_RELEASE);
      slot = (slot + 1) % t.frame_nr; sent++; q++;
    }
    if (sendto(t.fd, NULL, 0, 0, NULL, 0) < 0 && errno != ENOBUFS && errno != EAGAIN) die("sendto");
  }
  /* Wait (bounded) until the kernel has taken every frame. */
  for (double end = now_ms() + 2000; now_ms() < end;) {
    int busy = 0;
    for (unsigned i = 0; i < t.frame_nr && !busy; i++) busy = ((struct tpacket2_hdr *)(t.base + (size_t)i * t.frame_size))->tp_status != TP_STATUS_AVAILABLE;
    if (!busy) break;
    sendto(t.fd, NULL, 0, MSG_DONTWAIT, NULL, 0); usleep(1000);
  }
  printf("{\"sent\":%ld,\"ms\":%.2f}\n", sent, now_ms() - t0);
  return 0;
}

static int sink(int argc, char **argv) {
  if (argc < 5) return 2;
  long want = atol(argv[3]); double idle = atof(argv[4]);
  ring_t r = open_rx(argv[2], 65536, 2048, 0);
  printf("ready\n"); fflush(stdout);
  long got = 0; double first = 0, last = 0, since = now_ms(), t0 = since; unsigned slot = 0;
  while (got < want && now_ms() - since < idle && now_ms() - t0 < 60000) {
    struct pollfd p = { .fd = r.fd, .events = POLLIN }; poll(&p, 1, 50);
    for (;;) {
      uint8_t *s = r.base + (size_t)slot * r.frame_size;
      struct tpacket2_hdr *h = (struct tpacket2_hdr *)s;
      if (!(__atomic_load_n(&h->tp_status, __ATOMIC_ACQUIRE) & TP_STATUS_USER)) break;
      uint8_t *e = s + h->tp_mac;
      if (e[12] == 8 && e[13] == 0 && e[23] == 17 && ((e[36] << 8) | e[37]) == 5300) {
        double ts = h->tp_sec * 1e3 + h->tp_nsec / 1e6;
        if (!got) first = ts;
        last = ts; got++; since = now_ms();
      }
      __atomic_store_n(&h->tp_status, TP_STATUS_KERNEL, __ATOMIC_RELEASE);
      slot = (slot + 1) % r.frame_nr;
    }
  }
  struct tpacket_stats st; socklen_t l = sizeof st; memset(&st, 0, sizeof st);
  getsockopt(r.fd, SOL_PACKET, PACKET_STATISTICS, &st, &l);
  printf("{\"got\":%ld,\"ms\":%.4f,\"drops\":%u}\n", got, last - first, st.tp_drops);
  return 0;
}

static int fwd(int argc, char **argv) {
  if (argc < 11) return 2;
  uint8_t dmac[6], smac[6]; parse_mac(argv[4], dmac);
  struct in_addr nd; if (inet_pton(AF_INET, argv[5], &nd) != 1) return 2;
  uint32_t newdst = ntohl(nd.s_addr);
  unsigned rxs = atoi(argv[6]), rxsz = atoi(argv[7]), txs = atoi(argv[8]), txsz = atoi(argv[9]), batch = atoi(argv[10]);
  ring_t rx = open_rx(argv[2], rxs, rxsz, 1);
  ring_t tx = open_tx(argv[3], txs, txsz, 1, smac);
  signal(SIGTERM, on_term); signal(SIGINT, on_term);
  printf("ready\n"); fflush(stdout);
  unsigned rs = 0, ts = 0; unsigned long fwd = 0, dropped = 0;
  while (!stop) {
    unsigned n = 0, q = 0;
    for (; n < batch; n++) {
      uint8_t *s = rx.base + (size_t)rs * rx.frame_size;
      struct tpacket2_hdr *h = (struct tpacket2_hdr *)s;
      if (!(__atomic_load_n(&h->tp_status, __ATOMIC_ACQUIRE) & TP_STATUS_USER)) break;
      uint8_t *e = s + h->tp_mac; unsigned len = h->tp_snaplen;
      uint8_t *o = tx.base + (size_t)ts * tx.frame_size;
      struct tpacket2_hdr *oh = (struct tpacket2_hdr *)o;
      if (len < 34 || len + VNET + TXOFF > tx.frame_size || oh->tp_status != TP_STATUS_AVAILABLE || e[12] != 8 || e[13] != 0) {
        dropped++;
      } else {
        uint8_t *d = o + TXOFF;
        memcpy(d, e - VNET, VNET + len); /* virtio_net_hdr + frame */
        uint8_t *f = d + VNET, *ip = f + 14;
        memcpy(f, dmac, 6); memcpy(f + 6, smac, 6);
        unsigned ihl = (ip[0] & 15) * 4;
        uint32_t old = ((uint32_t)ip[16] << 24) | (ip[17] << 16) | (ip[18] << 8) | ip[19];
        ip[16] = newdst >> 24; ip[17] = newdst >> 16; ip[18] = newdst >> 8; ip[19] = newdst;
        csum_replace4(ip + 10, old, newdst);
        uint8_t *l4 = ip + ihl;
        if (ip[9] == 6 && len >= 14 + ihl + 18) csum_replace4(l4 + 16, old, newdst);
        else if (ip[9] == 17 && len >= 14 + ihl + 8 && (l4[6] | l4[7])) csum_replace4(l4 + 6, old, newdst);
        oh->tp_len = VNET + len;
        __atomic_store_n(&oh->tp_status, TP_STATUS_SEND_REQUEST, __ATOMIC_RELEASE);
        ts = (ts + 1) % tx.frame_nr; q++; fwd++;
      }
      __atomic_store_n(&h->tp_status, TP_STATUS_KERNEL, __ATOMIC_RELEASE);
      rs = (rs + 1) % rx.frame_nr;
    }
    if (q) sendto(tx.fd, NULL, 0, MSG_DONTWAIT, NULL, 0);
    if (n == 0) { struct pollfd p = { .fd = rx.fd, .events = POLLIN }; poll(&p, 1, 100); }
  }
  struct tpacket_stats st; socklen_t l = sizeof st; memset(&st, 0, sizeof st);
  getsockopt(rx.fd, SOL_PACKET, PACKET_STATISTICS, &st, &l);
  printf("{\"forwarded\":%lu,\"dropped\":%lu,\"ringDrops\":%u}\n", fwd, dropped, st.tp_drops);
  return 0;
}

int main(int argc, char **argv) {
  setvbuf(stdout, NULL, _IOLBF, 0);
  int rc = 2;
  if (argc >= 2 && !strcmp(argv[1], "blast")) rc = blast(argc, argv);
  else if (argc >= 2 && !strcmp(argv[1], "sink")) rc = sink(argc, argv);
  else if (argc >= 2 && !strcmp(argv[1], "fwd")) rc = fwd(argc, argv);
  if (rc == 2) fprintf(stderr, "usage: pkt blast IFACE DSTMAC N FLOWS | sink IFACE N IDLE_MS | fwd IN OUT DSTMAC NEWDST RXSLOTS RXSLOTSIZE TXSLOTS TXSLOTSIZE BATCH\n");
  return rc;
}
