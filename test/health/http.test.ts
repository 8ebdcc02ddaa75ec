import { describe, it, expect, beforeAll, afterAll } from "vitest";
import { createHash } from "node:crypto";
import { checkHttp } from "../../src/health/http.js";
import { startHttp, closedTcpPort, handleCounts, settledHandles, LOOPBACK } from "./helpers.js";

const BODY = "weir ok\n";
const MD5 = createHash("md5").update(BODY).digest("hex");

describe("HTTP check", () => {
  let srv: Awaited<ReturnType<typeof startHttp>>;
  let baseline: Record<string, number>;
  beforeAll(async () => {
    baseline = handleCounts();
    srv = await startHttp({ "/healthz": { status: 200, body: BODY }, "/down": { status: 503, body: "down\n" } });
  });
  afterAll(async () => { await srv.close(); });

  const get = (path: string, more: { status?: number; digest?: string; hostHeader?: string } = {}) =>
    checkHttp({ host: LOOPBACK, port: srv.port, path, status: more.status ?? 200, digest: more.digest, hostHeader: more.hostHeader, timeoutMs: 1000 });

  it("passes on the expected status", async () => {
    expect(await get("/healthz")).toEqual({ ok: true });
    expect(await get("/down", { status: 503 })).toEqual({ ok: true });
  });

  it("fails on another status", async () => {
    expect(await get("/down")).toEqual({ ok: false, error: "HTTP status 503, expected 200" });
    expect(await get("/nope")).toEqual({ ok: false, error: "HTTP status 404, expected 200" });
  });

  it("passes when the body's MD5 matches (any case), fails when it does not", async () => {
    expect(await get("/healthz", { digest: MD5 })).toEqual({ ok: true });
    expect(await get("/healthz", { digest: MD5.toUpperCase() })).toEqual({ ok: true });
    const wrong = "0".repeat(32);
    expect(await get("/healthz", { digest: wrong })).toEqual({ ok: false, error: `body digest ${MD5}, expected ${wrong}` });
  });

  it("sends the Host header: given, or address:port", async () => {
    srv.hosts.length = 0;
    await get("/healthz", { hostHeader: "www.example.test" });
    await get("/healthz");
    expect(srv.hosts).toEqual(["www.example.test", `127.0.0.1:${srv.port}`]);
  });

  it("fails on a refused connection", async () => {
    const port = await closedTcpPort();
    const r = await checkHttp({ host: LOOPBACK, port, path: "/", status: 200, timeoutMs: 1000 });
    expect(r.ok).toBe(false);
    expect(r.error).toMatch(/ECONNREFUSED/);
  });

  it("times out on a server that never answers, closing the connection", async () => {
    const { TcpServer } = await import("./helpers.js");
    const mute = await new TcpServer().start(0); // accepts, never replies
    const t0 = Date.now();
    const r = await checkHttp({ host: LOOPBACK, port: mute.port, path: "/", status: 200, timeoutMs: 150 });
    expect(r).toEqual({ ok: false, error: "timeout after 150 ms" });
    expect(Date.now() - t0).toBeLessThan(1000);
    // the timed-out connection is gone on both ends (only the two servers are left)
    const servers = { ...baseline, TCPServerWrap: baseline.TCPServerWrap + 2 };
    expect(await settledHandles(servers)).toEqual(servers);
    await mute.stop();
  });

  it("leaves no socket open", async () => {
    const withServer = { ...baseline, TCPServerWrap: baseline.TCPServerWrap + 1 }; // only the server is left open
    for (let i = 0; i < 3; i++) { await get("/healthz", { digest: MD5 }); await get("/down"); }
    expect(await settledHandles(withServer)).toEqual(withServer); // no connection kept alive
    await srv.close();
    expect(await settledHandles(baseline)).toEqual(baseline);
  });
});
