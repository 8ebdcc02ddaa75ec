// The scrape endpoint on 127.0.0.1 with an ephemeral port.

import { describe, it, expect, beforeEach, afterEach } from "vitest";
import http from "node:http";
import net from "node:net";
import pino from "pino";
import { MetricsServer, CONTENT_TYPE } from "../../src/metrics/server.js";

const silent = pino({ level: "silent" });
const BODY = "# HELP weir_up_total x\n# TYPE weir_up_total counter\nweir_up_total 1\n";

interface Res { status: number; headers: http.IncomingHttpHeaders; body: string }

function request(port: number, method: string, path: string, agent: http.Agent | false = false): Promise<Res> {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: "127.0.0.1", port, method, path, agent }, (res) => {
      let body = "";
      res.setEncoding("utf8");
      res.on("data", (c) => (body += c));
      res.on("end", () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
    });
    req.on("error", reject);
    req.end();
  });
}

/** Listening sockets held by this process. */
const listening = () => process.getActiveResourcesInfo().filter((r) => r === "TCPServerWrap").length;

/**
 * Node drops a closed server's handle from the resource list a moment after
 * the close callback, so wait (up to 1 s) for the count to reach n.
 */
async function listeningSettles(n: number): Promise<number> {
  for (let i = 0; i < 100 && listening() !== n; i++) await new Promise((r) => setTimeout(r, 10));
  return listening();
}

const base = listening();

describe("MetricsServer", () => {
  let server: MetricsServer;
  let port: number;
  let render: () => string | Promise<string>;

  beforeEach(async () => {
    render = () => BODY;
    server = new MetricsServer(() => render(), { log: silent });
    const a = await server.listen("127.0.0.1", 0);
    expect(a.host).toBe("127.0.0.1");
    port = a.port;
    expect(port).toBeGreaterThan(0);
  });

  afterEach(async () => {
    await server.close();
  });

  it("GET /metrics answers the exposition as text/plain; version=0.0.4", async () => {
    const r = await request(port, "GET", "/metrics");
    expect(r.status).toBe(200);
    expect(r.headers["content-type"]).toBe(CONTENT_TYPE);
    expect(CONTENT_TYPE).toMatch(/^text\/plain; version=0\.0\.4/);
    expect(r.body).toBe(BODY);
    expect(Number(r.headers["content-length"])).toBe(Buffer.byteLength(BODY));
  });

  it("renders on every scrape, sync or async, and ignores a query string", async () => {
    let n = 0;
    render = async () => `# HELP weir_n x\n# TYPE weir_n gauge\nweir_n ${++n}\n`;
    expect((await request(port, "GET", "/metrics")).body).toMatch(/weir_n 1\n$/);
    expect((await request(port, "GET", "/metrics?name[]=weir_n")).body).toMatch(/weir_n 2\n$/);
  });

  it("HEAD /metrics has the headers and no body", async () => {
    const r = await request(port, "HEAD", "/metrics");
    expect(r.status).toBe(200);
    expect(r.headers["content-type"]).toBe(CONTENT_TYPE);
    expect(r.body).toBe("");
  });

  it("404 elsewhere, 405 for other methods", async () => {
    for (const path of ["/", "/metrics/", "/metricsx", "/favicon.ico"]) {
      expect((await request(port, "GET", path)).status, path).toBe(404);
    }
    for (const m of ["POST", "PUT", "DELETE", "PATCH"]) {
      const r = await request(port, m, "/metrics");
      expect(r.status, m).toBe(405);
      expect(r.headers.allow).toBe("GET, HEAD");
    }
  });

  it("500 when rendering fails, and keeps serving", async () => {
    render = () => {
      throw new Error("boom");
    };
    const r = await request(port, "GET", "/metrics");
    expect(r.status).toBe(500);
    expect(r.body).not.toContain("boom");
    render = () => BODY;
    expect((await request(port, "GET", "/metrics")).status).toBe(200);
  });

  it("close() ends kept-alive and idle connections, frees the port and leaves no listening handle", async () => {
    expect(await listeningSettles(base + 1)).toBe(base + 1);
    const agent = new http.Agent({ keepAlive: true });
    expect((await request(port, "GET", "/metrics", agent)).status).toBe(200);
    const idle = net.connect(port, "127.0.0.1"); // connects, sends nothing
    await new Promise((r) => idle.once("connect", r));
    const idleClosed = new Promise((r) => idle.once("close", r));
    const t0 = Date.now();
    await server.close();
    expect(Date.now() - t0).toBeLessThan(2000);
    await idleClosed;
    agent.destroy();
    expect(await listeningSettles(base)).toBe(base);
    await expect(request(port, "GET", "/metrics")).rejects.toMatchObject({ code: "ECONNREFUSED" });
    await server.close(); // a second close is harmless
  });

  it("listen() rejects when the port is taken", async () => {
    const other = new MetricsServer(() => BODY, { log: silent });
    await expect(other.listen("127.0.0.1", port)).rejects.toMatchObject({ code: "EADDRINUSE" });
    await other.close();
  });
});
