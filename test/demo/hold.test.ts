// The failover measurements of src/demo/hold.ts on loopback: held
// connections against the real servers' HTTP server (servers.ts) keep
// answering and name their server; a connection closed by the peer, one whose
// requests go unanswered, and one answered with other bytes each count as
// lost with their reason; numbered UDP probes are matched to their answers.
import { afterEach, describe, expect, it } from "vitest";
import net from "node:net";
import { HeldConnections, Prober, wallMs } from "../../src/demo/hold.js";
import { startServers, type RunningServers } from "../../src/demo/servers.js";

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function until(what: string, fn: () => boolean, timeoutMs = 3000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!fn()) {
    if (Date.now() > end) throw new Error(`${what}: not within ${timeoutMs} ms`);
    await sleep(10);
  }
}

/** A TCP server on loopback whose connections get `onData`. */
async function tcpServer(onData: (s: net.Socket, d: Buffer) => void): Promise<{ port: number; close(): Promise<void> }> {
  const socks = new Set<net.Socket>();
  const srv = net.createServer((s) => {
    socks.add(s);
    s.on("data", (d) => onData(s, d));
    s.on("error", () => {});
  });
  await new Promise<void>((r) => srv.listen(0, "127.0.0.1", () => r()));
  return {
    port: (srv.address() as net.AddressInfo).port,
    close: () => { for (const s of socks) s.destroy(); return new Promise<void>((r) => srv.close(() => r())); },
  };
}

describe("held connections", () => {
  const cleanup: (() => unknown)[] = [];
  afterEach(async () => {
    for (const c of cleanup.splice(0).reverse()) await c();
  });

  it("exchange checked messages with the real server's HTTP echo and report who answers and since when", async () => {
    const srv: RunningServers = await startServers({ name: "rs7", httpPort: 0, httpHost: "127.0.0.1" });
    cleanup.push(() => srv.close());
    const h = new HeldConnections({ host: "127.0.0.1", port: srv.httpPort, count: 5, intervalMs: 20, bodyBytes: 100 });
    cleanup.push(() => h.stop());
    await h.start();
    await until("25 answers", () => h.status().answered >= 25);
    const mark = wallMs();
    await until("an answer after the mark on each", () => h.status(mark).waiting === 0);
    const st = h.status(mark, true);
    expect(st).toMatchObject({ open: 5, lost: 0, connected: 5, byServer: { rs7: 5 }, reasons: [] });
    expect(st.firstAfter!).toBeGreaterThanOrEqual(mark);
    expect(st.lastFirstAfter!).toBeGreaterThanOrEqual(st.firstAfter!);
    expect(st.conns!.every((c) => c.answered >= 5 && c.lost === null && c.server === "rs7")).toBe(true);
    expect(srv.counts.http).toBeGreaterThanOrEqual(25);
  });

  it("count a connection closed by the peer as lost, and do not reopen it", async () => {
    const srv = await startServers({ name: "rs1", httpPort: 0, httpHost: "127.0.0.1" });
    const h = new HeldConnections({ host: "127.0.0.1", port: srv.httpPort, count: 3, intervalMs: 20 });
    cleanup.push(() => h.stop());
    await h.start();
    await until("answers", () => h.status().answered >= 3);
    await srv.close();
    await until("all lost", () => h.status().lost === 3);
    const st = h.status(wallMs());
    expect(st.open).toBe(0);
    expect(st.reasons.join(";")).toMatch(/closed by the peer|ECONNRESET/);
  });

  it("count a request unanswered past stallMs as lost (stalled)", async () => {
    const srv = await tcpServer(() => { /* takes the request, never answers */ });
    cleanup.push(() => srv.close());
    const h = new HeldConnections({ host: "127.0.0.1", port: srv.port, count: 2, intervalMs: 20, stallMs: 150 });
    cleanup.push(() => h.stop());
    await h.start();
    expect(h.status().lost).toBe(0);
    await until("stalled", () => h.status().lost === 2);
    expect(h.status().reasons[0]).toMatch(/stalled: no answer within 150 ms/);
  });

  it("count an answer with other bytes as lost (wrong data)", async () => {
    const srv = await tcpServer((s, d) => {
      const len = Number(/content-length: (\d+)/i.exec(d.toString("latin1"))?.[1] ?? 0);
      s.write(`HTTP/1.1 200 OK\r\ncontent-length: ${len}\r\n\r\n${"x".repeat(len)}`);
    });
    cleanup.push(() => srv.close());
    const h = new HeldConnections({ host: "127.0.0.1", port: srv.port, count: 1, intervalMs: 20 });
    cleanup.push(() => h.stop());
    await h.start();
    await until("lost", () => h.status().lost === 1);
    expect(h.status().reasons[0]).toMatch(/wrong data/);
  });
});

describe("probes", () => {
  it("match each numbered datagram's answer, by who answered, before and after a moment", async () => {
    const srv = await startServers({ name: "lb2", httpPort: 0, httpHost: "127.0.0.1", udpPort: 0, udpAddrs: ["127.0.0.1"] });
    const p = new Prober({ host: "127.0.0.1", port: srv.udpPorts[0], everyMs: 5 });
    try {
      p.start();
      await until("answers", () => p.status().answered >= 5);
      const mark = wallMs();
      await until("an answer after the mark", () => p.status(mark).firstAfter !== null);
      const st = p.status(mark, "lb2");
      expect(st.firstAfter!).toBeGreaterThanOrEqual(mark);
      expect(st.lastBefore!).toBeLessThan(st.firstAfter!);
      expect(p.status(mark, "lb1")).toMatchObject({ answered: 0, firstAfter: null, lastBefore: null });
    } finally {
      p.stop();
      await srv.close();
    }
  });
});
