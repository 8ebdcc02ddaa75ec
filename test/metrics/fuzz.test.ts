// The scrape endpoint under malformed and random requests: every one gets a
// 4xx or a closed connection, nothing escapes as an exception, and a good
// scrape still answers after each.

import { describe, it, expect, beforeAll, afterAll } from "vitest";
import http from "node:http";
import fc from "fast-check";
import pino from "pino";
import { MetricsServer } from "../../src/metrics/server.js";
import { badHttpRequests, headComplete, raw, statusOf } from "../console/transport/raw.js";

const BODY = "# HELP weir_up_total x\n# TYPE weir_up_total counter\nweir_up_total 1\n";

// Anything that escapes a handler lands here (in `weir run` it would be the
// supervisor's death, or the last-resort log).
const escaped: unknown[] = [];
const record = (e: unknown) => { escaped.push(e); };

let server: MetricsServer;
let port: number;

beforeAll(async () => {
  process.on("uncaughtException", record);
  process.on("unhandledRejection", record);
  server = new MetricsServer(() => BODY, { log: pino({ level: "silent" }) });
  port = (await server.listen("127.0.0.1", 0)).port;
});

afterAll(async () => {
  await server.close();
  process.off("uncaughtException", record);
  process.off("unhandledRejection", record);
});

function scrape(): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: "127.0.0.1", port, path: "/metrics", agent: false }, (res) => {
      res.resume();
      res.on("end", () => resolve(res.statusCode ?? 0));
    });
    req.on("error", reject);
    req.end();
  });
}

async function stillServing(what: string): Promise<void> {
  expect(escaped, what).toEqual([]);
  expect(await scrape(), what).toBe(200);
}

describe("MetricsServer under malformed requests", () => {
  it("answers GET // with 404 (it used to throw Invalid URL and take the process down)", async () => {
    for (const target of ["//", "//metrics", "//x/metrics"]) {
      const r = await raw(port, `GET ${target} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`, { until: headComplete });
      expect([target, statusOf(r.data)]).toEqual([target, 404]);
    }
    await stillServing("GET //");
  });

  it("answers an unterminated IPv6 literal in an absolute-form target with 400", async () => {
    const r = await raw(port, "GET http://[::1 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", { until: headComplete });
    expect(statusOf(r.data)).toBe(400);
    await stillServing("http://[::1");
  });

  it("serves absolute-form targets like origin-form ones", async () => {
    const r = await raw(port, "GET http://x/metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    expect(statusOf(r.data)).toBe(200);
    expect(r.data.toString()).toContain("weir_up_total 1");
  });

  for (const [what, pieces] of badHttpRequests()) {
    it(`survives: ${what}`, async () => {
      const r = await raw(port, pieces);
      // Whatever came back is a complete error answer (or nothing, the connection closed);
      // a pipelined good request before the garbage may have had its 200.
      const statuses = [...r.data.toString("latin1").matchAll(/HTTP\/1\.1 (\d{3}) /g)].map((m) => Number(m[1]));
      for (const s of statuses) expect([200, 400, 404, 405, 413, 414, 431, 501, 505], what).toContain(s);
      await stillServing(what);
    });
  }

  it("survives random bytes and random request-ish lines (fast-check)", async () => {
    const chars = [..."GET HEAD POST /metrics //[]:@?#%00 HTTP/1.1\r\n\0\xff\\"];
    const requestish = fc.string({ unit: fc.constantFrom(...chars), maxLength: 200 });
    const bytes = fc.uint8Array({ maxLength: 2048 }).map((b) => Buffer.from(b));
    await fc.assert(
      fc.asyncProperty(fc.oneof(requestish, bytes), async (input) => {
        await raw(port, input);
        expect(escaped).toEqual([]);
        expect(await scrape()).toBe(200);
      }),
      { numRuns: 150 },
    );
  });
});
