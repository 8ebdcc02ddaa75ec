/*
 * paced: an open-loop HTTP/1.1 client for benchmark B6 (bench/README.md).
 *
 *   paced ADDR PORT RATE DURATION_MS [MAXCONC]
 *
 * Request i is due at t0 + i/RATE. Each request is a new TCP connection
 * (non-blocking connect, "GET / HTTP/1.1 … Connection: close", read to EOF);
 * its latency runs from the time it was DUE (not when it was started) to EOF,
 * so a stalled system is charged for the requests that waited (no coordinated
 * omission). At most MAXCONC (default 512) connections are open; a request
 * due while that many are open waits and is charged for the wait.
 * Prints one JSON line: {"n":…,"errors":…,"rate":…,"p50us":…,"p90us":…,
 * "p99us":…,"p999us":…,"maxus":…}. Bounded: stops starting requests at
 * DURATION_MS and gives up on open ones 2 s later.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

typedef struct { int fd; int state; int ok; double due; size_t got; } conn_t;

static double now_us(void) { struct timespec t; clock_gettime(CLOCK_MONOTONIC, &t); return t.tv_sec * 1e6 + t.tv_nsec / 1e3; }
static int cmp(const void *a, const void *b) { double x = *(const double *)a, y = *(const double *)b; return x < y ? -1 : x > y; }

int main(int argc, char **argv) {
  if (argc < 5) { fprintf(stderr, "usage: paced ADDR PORT RATE DURATION_MS [MAXCONC]\n"); return 2; }
  struct sockaddr_in sa; memset(&sa, 0, sizeof sa);
  sa.sin_family = AF_INET; sa.sin_port = htons(atoi(argv[2]));
  if (inet_pton(AF_INET, argv[1], &sa.sin_addr) != 1) return 2;
  double rate = atof(argv[3]), dur = atof(argv[4]) * 1e3;
  int maxc = argc > 5 ? atoi(argv[5]) : 512;
  long total = (long)(rate * dur / 1e6);
  double *lat = malloc(sizeof(double) * (total + 1));
  conn_t *cs = calloc(maxc, sizeof(conn_t));
  int *freel = malloc(sizeof(int) * maxc), nfree = maxc;
  for (int i = 0; i < maxc; i++) freel[i] = maxc - 1 - i;
  char req[128];
  int reqlen = snprintf(req, sizeof req, "GET / HTTP/1.1\r\nHost: %s\r\nConnection: close\r\n\r\n", argv[1]);
  int ep = epoll_create1(0);
  long started = 0, done = 0, errors = 0;
  double t0 = now_us(), end = t0 + dur + 2e6;
  char buf[4096];
  struct epoll_event evs[256];
  while (now_us() < end) {
    double t = now_us();
    while (started < total && t0 + started * 1e6 / rate <= t && nfree > 0) {
      int k = freel[--nfree];
      conn_t *c = &cs[k];
      c->due = t0 + started * 1e6 / rate; c->got = 0; c->state = 0; c->ok = 0;
      started++;
      c->fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
      int one = 1; setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
      if (connect(c->fd, (struct sockaddr *)&sa, sizeof sa) < 0 && errno != EINPROGRESS) { close(c->fd); errors++; freel[nfree++] = k; continue; }
      struct epoll_event e = { .events = EPOLLOUT | EPOLLIN, .data.u32 = (uint32_t)k };
      epoll_ctl(ep, EPOLL_CTL_ADD, c->fd, &e);
    }
    if (started >= total && nfree == maxc) break;
    int wait_ms = 1;
    if (started < total && nfree > 0) {
      double next = t0 + started * 1e6 / rate - now_us();
      wait_ms = next <= 0 ? 0 : (int)(next / 1000);
    }
    int n = epoll_wait(ep, evs, 256, wait_ms);
    for (int i = 0; i < n; i++) {
      int k = evs[i].data.u32; conn_t *c = &cs[k];
      int fin = 0, bad = 0;
      if (c->state == 0 && (evs[i].events & (EPOLLOUT | EPOLLERR | EPOLLHUP))) {
        int err = 0; socklen_t l = sizeof err; getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &l);
        if (err || write(c->fd, req, reqlen) != reqlen) bad = 1;
        else { c->state = 1; struct epoll_event e = { .events = EPOLLIN, .data.u32 = (uint32_t)k }; epoll_ctl(ep, EPOLL_CTL_MOD, c->fd, &e); }
      } else if (c->state == 1) {
        for (;;) {
          ssize_t r = read(c->fd, buf, sizeof buf);
          if (r > 0) { if (!c->got) c->ok = r >= 12 && !memcmp(buf, "HTTP/1.1 200", 12); c->got += r; continue; }
          if (r == 0) fin = 1;
          else if (errno != EAGAIN) bad = 1;
          break;
        }
      }
      if (fin && c->ok) lat[done++] = now_us() - c->due;
      else if (fin) bad = 1;
      if (fin || bad) {
        if (bad) errors++;
        epoll_ctl(ep, EPOLL_CTL_DEL, c->fd, NULL); close(c->fd); freel[nfree++] = k;
      }
    }
  }
  double el = (now_us() - t0) / 1e6;
  qsort(lat, done, sizeof(double), cmp);
#define Q(p) (done ? lat[(long)((p) * (done - 1))] : 0)
  printf("{\"n\":%ld,\"due\":%ld,\"errors\":%ld,\"unfinished\":%d,\"rate\":%.1f,\"p50us\":%.1f,\"p90us\":%.1f,\"p99us\":%.1f,\"p999us\":%.1f,\"maxus\":%.1f}\n",
         done, total, errors, maxc - nfree, done / el, Q(0.5), Q(0.9), Q(0.99), Q(0.999), done ? lat[done - 1] : 0);
  return 0;
}
