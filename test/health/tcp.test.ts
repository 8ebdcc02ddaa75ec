import { describe, it, expect, beforeAll, afterAll } from "vitest";
import { checkTcp } from "../../src/health/tcp.js";
import { TcpServer, closedTcpPort, handleCounts, settledHandles, LOOPBACK } from "./helpers.js";

describe("TCP check", () => {
  const server = new TcpServer();
  let baseline: Record<string, number>;
  beforeAll(async () => { baseline = handleCounts(); await server.start(0); });
  afterAll(async () => { await server.stop(); });

  it("passes when the connection completes", async () => {
    expect(await checkTcp({ host: LOOPBACK, port: server.port, timeoutMs: 1000 })).toEqual({ ok: true });
    expect(server.accepted).toBeGreaterThan(0);
  });

  it("binds to a given source address", async () => {
    expect(await checkTcp({ host: LOOPBACK, port: server.port, bind: "127.0.0.2", timeoutMs: 1000 })).toEqual({ ok: true });
  });

  it("fails on a refused connection, naming the error", async () => {
    const port = await closedTcpPort();
    const r = await checkTcp({ host: LOOPBACK, port, timeoutMs: 1000 });
    expect(r.ok).toBe(false);
    expect(r.error).toMatch(/ECONNREFUSED/);
  });

  it("ends at once when aborted", async () => {
    const ac = new AbortController();
    ac.abort();
    expect(await checkTcp({ host: LOOPBACK, port: server.port, timeoutMs: 1000, signal: ac.signal })).toEqual({ ok: false, error: "aborted" });
  });

  it("leaves no socket open", async () => {
    const withServer = { ...baseline, TCPServerWrap: baseline.TCPServerWrap + 1 }; // only the server is left open
    for (let i = 0; i < 5; i++) await checkTcp({ host: LOOPBACK, port: server.port, timeoutMs: 1000 });
    expect(await settledHandles(withServer)).toEqual(withServer); // client and accepted sockets all closed
    await server.stop();
    expect(await settledHandles(baseline)).toEqual(baseline);
  });
});
