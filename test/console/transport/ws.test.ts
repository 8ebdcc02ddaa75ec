// The WebSocket console: authentication (first message, header, query),
// Origin checks, throttling of failures, the session and pre-login caps,
// message size, the line protocol, stats pushes, the static page files, the
// token file, and `weir console`.

import { describe, it, expect, beforeEach, afterEach } from "vitest";
import fs from "node:fs";
import http from "node:http";
import os from "node:os";
import path from "node:path";
import { startWsConsole, parseListenAddress, type WsConsole, type WsConsoleOptions, type StatsSnapshot } from "../../../src/console/transport/ws.js";
import { runConsole } from "../../../src/console/transport/ws-client.js";
import { fakeInterpreter, quietLog, sink, source, type FakeInterpreter } from "./fake.js";
import { open, send, upgradeStatus } from "./wshelp.js";

const TOKEN = "test-token-0123456789abcdefghijkl";
let srv: WsConsole | undefined;
let interp: FakeInterpreter;
let dir: string;

beforeEach(() => {
  interp = fakeInterpreter();
  dir = fs.mkdtempSync(path.join(os.tmpdir(), "weir-ws-"));
});
afterEach(async () => {
  await srv?.close();
  srv = undefined;
  fs.rmSync(dir, { recursive: true, force: true });
});

async function start(o: Partial<WsConsoleOptions> = {}): Promise<WsConsole> {
  srv = await startWsConsole({ interpreter: interp, host: "127.0.0.1", port: 0, token: TOKEN, log: quietLog, ...o });
  return srv;
}

async function login(s: WsConsole) {
  const c = await open(s.wsUrl);
  send(c, { type: "auth", token: TOKEN });
  const hello = await c.next((m) => m.type === "auth");
  return { c, hello };
}

function get(url: string, method = "GET"): Promise<{ status: number; headers: http.IncomingHttpHeaders; body: string }> {
  return new Promise((resolve, reject) => {
    const req = http.request(url, { method, agent: false }, (res) => {
      const parts: Buffer[] = [];
      res.on("data", (c: Buffer) => parts.push(c));
      res.on("end", () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(parts).toString() }));
    });
    req.on("error", reject);
    req.end();
  });
}

/** A raw request line (no URL normalisation on the client side). */
function rawGet(port: number, target: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: "127.0.0.1", port, path: target, agent: false }, (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    });
    req.on("error", reject);
    req.end();
  });
}

describe("WebSocket console: authentication", () => {
  it("accepts the right token in the first message and runs lines in order", async () => {
    const s = await start();
    const { c, hello } = await login(s);
    expect(hello).toEqual({ type: "auth", ok: true, commands: interp.commands() });
    send(c, { type: "line", line: "slow 30", id: 1 });
    send(c, { type: "line", line: "multi", id: 2 });
    send(c, { type: "line", line: "bad x", id: 3 });
    send(c, { type: "line", line: "ipvsadm -R", input: "-A -t 1.2.3.4:80\n-a -t 1.2.3.4:80 -r 5.6.7.8\n", id: 4 });
    const replies = [await c.next(), await c.next(), await c.next(), await c.next()];
    expect(replies).toEqual([
      { type: "reply", id: 1, ok: true, text: "slept 30" },
      { type: "reply", id: 2, ok: true, text: "one\ntwo\nthree" },
      { type: "reply", id: 3, ok: false, text: "error: unknown word 'x' at 1" },
      { type: "reply", id: 4, ok: true, text: "restored 2 rules" },
    ]);
    expect(interp.calls.every((x) => x.ctx.source === "ws")).toBe(true);
    c.ws.close();
    await c.closed;
  });

  it("accepts the right token as a Bearer header or a query parameter", async () => {
    const s = await start();
    const a = await open(s.wsUrl, { headers: { Authorization: `Bearer ${TOKEN}` } });
    expect(await a.next()).toMatchObject({ type: "auth", ok: true });
    const b = await open(`${s.wsUrl}?token=${TOKEN}`);
    expect(await b.next()).toMatchObject({ type: "auth", ok: true });
    send(b, { type: "line", line: "echo hi" });
    expect(await b.next()).toEqual({ type: "reply", ok: true, text: "hi" });
    a.ws.terminate();
    b.ws.terminate();
  });

  it("refuses a wrong or malformed header or query token with HTTP 401", async () => {
    const s = await start();
    expect(await upgradeStatus(s.wsUrl, { headers: { Authorization: `Bearer ${TOKEN}x` } })).toBe(401);
    expect(await upgradeStatus(s.wsUrl, { headers: { Authorization: `Basic ${TOKEN}` } })).toBe(401);
    expect(await upgradeStatus(`${s.wsUrl}?token=nope`)).toBe(401);
    expect(interp.calls).toEqual([]);
  });

  it("closes with 1008 when the first message is not an auth message (missing token)", async () => {
    const s = await start();
    const c = await open(s.wsUrl);
    send(c, { type: "line", line: "echo sneaky" });
    expect(await c.closed).toEqual({ code: 1008, reason: "authentication required" });
    expect(interp.calls).toEqual([]);
  });

  it("closes with 1008 when no auth message comes in time", async () => {
    const s = await start({ authTimeoutMs: 200 });
    const c = await open(s.wsUrl);
    expect(await c.closed).toEqual({ code: 1008, reason: "authentication timeout" });
  });

  it("closes with 1008 on a wrong token in the first message", async () => {
    const s = await start();
    const c = await open(s.wsUrl);
    send(c, { type: "auth", token: TOKEN.slice(0, -1) });
    expect(await c.closed).toEqual({ code: 1008, reason: "invalid token" });
    const d = await open(s.wsUrl);
    send(d, { type: "auth", token: 12345 });
    expect(await d.closed).toEqual({ code: 1008, reason: "authentication required" });
  });
});

describe("WebSocket console: Origin", () => {
  it("refuses a foreign Origin with HTTP 403, even with the right token", async () => {
    const s = await start();
    expect(await upgradeStatus(s.wsUrl, { origin: "http://evil.example", headers: { Authorization: `Bearer ${TOKEN}` } })).toBe(403);
    expect(await upgradeStatus(s.wsUrl, { origin: `http://127.0.0.1:${s.port + 1}` })).toBe(403);
    expect(await upgradeStatus(s.wsUrl, { origin: `https://127.0.0.1:${s.port}` })).toBe(403); // wrong scheme for a plain server
    expect(await upgradeStatus(s.wsUrl, { origin: "null" })).toBe(403);
  });

  it("allows the server's own origin, configured origins, and no Origin", async () => {
    const s = await start({ allowedOrigins: ["https://lb.example.net:8443"] });
    expect(await upgradeStatus(s.wsUrl, { origin: `http://127.0.0.1:${s.port}` })).toBe(101);
    expect(await upgradeStatus(s.wsUrl, { origin: "https://LB.example.net:8443" })).toBe(101);
    expect(await upgradeStatus(s.wsUrl)).toBe(101);
  });

  it("refuses a same-host origin whose host is an unknown DNS name (DNS rebinding)", async () => {
    const s = await start();
    const host = `rebind.example:${s.port}`;
    expect(await upgradeStatus(s.wsUrl, { origin: `http://${host}`, headers: { Host: host } })).toBe(403);
    const local = `localhost:${s.port}`;
    expect(await upgradeStatus(s.wsUrl, { origin: `http://${local}`, headers: { Host: local } })).toBe(101);
  });
});

describe("WebSocket console: throttling", () => {
  it("locks an address out after 5 failures in a minute (HTTP 429, then 1008), and lets it back later", async () => {
    let now = 1_000_000;
    const s = await start({ throttle: { now: () => now } });
    for (let i = 0; i < 4; i++) {
      const c = await open(s.wsUrl);
      send(c, { type: "auth", token: "wrong-token-wrong-token" });
      expect((await c.closed).reason).toBe("invalid token");
    }
    const fifth = await open(s.wsUrl);
    send(fifth, { type: "auth", token: "wrong-token-wrong-token" });
    expect(await fifth.closed).toEqual({ code: 1008, reason: "too many failed attempts" });

    // Locked: refused at upgrade, right token or not, header or message.
    let err: { status?: number; headers?: http.IncomingHttpHeaders } = {};
    await open(s.wsUrl, { headers: { Authorization: `Bearer ${TOKEN}` } }).catch((e) => (err = e));
    expect(err.status).toBe(429);
    expect(Number(err.headers?.["retry-after"])).toBeGreaterThan(0);
    expect(await upgradeStatus(s.wsUrl)).toBe(429);

    // A minute later it may try again; failing 5 more times locks it out for twice as long.
    now += 61_000;
    for (let i = 0; i < 5; i++) expect(await upgradeStatus(s.wsUrl, { headers: { Authorization: "Bearer wrong-token-wrong-token" } })).toBe(i < 4 ? 401 : 429);
    now += 61_000;
    expect(await upgradeStatus(s.wsUrl)).toBe(429);
    now += 60_000;
    // The right token works then, and clears the record.
    const { c, hello } = await login(s);
    expect(hello).toMatchObject({ ok: true });
    c.ws.terminate();
    for (let i = 0; i < 4; i++) expect(await upgradeStatus(`${s.wsUrl}?token=wrong-token-wrong-token`)).toBe(401);
    expect(await upgradeStatus(s.wsUrl)).toBe(101);
  });

  it("past the overall failure rate, one failure locks its source, while a valid token from a clean source still gets in", async () => {
    const now = 1_000_000; // the clock stands still: every failure is within the window
    const s = await start({ throttle: { now: () => now, globalMaxFailures: 3 } });
    const wrong = { Authorization: "Bearer wrong-token-wrong-token" };
    for (const n of [2, 3, 4]) expect(await upgradeStatus(s.wsUrl, { localAddress: `127.0.0.${n}`, headers: wrong })).toBe(401);
    // The fourth failure overall raises the alarm: its source is locked at once.
    expect(await upgradeStatus(s.wsUrl, { localAddress: "127.0.0.5", headers: wrong })).toBe(429);
    expect(await upgradeStatus(s.wsUrl, { localAddress: "127.0.0.5", headers: { Authorization: `Bearer ${TOKEN}` } })).toBe(429);
    // A first-message failure too.
    const c = await open(s.wsUrl, { localAddress: "127.0.0.6" });
    send(c, { type: "auth", token: "wrong-token-wrong-token" });
    expect(await c.closed).toEqual({ code: 1008, reason: "too many failed attempts" });
    // A source that has not failed logs in, by header and by message.
    expect(await upgradeStatus(s.wsUrl, { localAddress: "127.0.0.7", headers: { Authorization: `Bearer ${TOKEN}` } })).toBe(101);
    const ok = await open(s.wsUrl, { localAddress: "127.0.0.8" });
    send(ok, { type: "auth", token: TOKEN });
    expect(await ok.next()).toMatchObject({ type: "auth", ok: true });
    ok.ws.terminate();
    // The sources that failed before the alarm are not locked, only counted.
    expect(await upgradeStatus(s.wsUrl, { localAddress: "127.0.0.2", headers: { Authorization: `Bearer ${TOKEN}` } })).toBe(101);
  });

  it("counts failures per address and forgets old ones", async () => {
    let now = 0;
    const s = await start({ throttle: { now: () => now } });
    for (let i = 0; i < 4; i++) expect(await upgradeStatus(s.wsUrl, { headers: { Authorization: "Bearer wrong-token-wrong-token" } })).toBe(401);
    now += 60_001; // the window has moved on: these four no longer count
    for (let i = 0; i < 4; i++) expect(await upgradeStatus(s.wsUrl, { headers: { Authorization: "Bearer wrong-token-wrong-token" } })).toBe(401);
    expect(await upgradeStatus(s.wsUrl, { headers: { Authorization: `Bearer ${TOKEN}` } })).toBe(101);
  });
});

describe("WebSocket console: messages", () => {
  it("closes with 1009 on a message over 64 KiB, before or after auth", async () => {
    const s = await start();
    const a = await open(s.wsUrl);
    a.ws.send("x".repeat(64 * 1024 + 1));
    expect((await a.closed).code).toBe(1009);
    const { c } = await login(s);
    send(c, { type: "line", line: "input", input: "y".repeat(60 * 1024) });
    expect(((await c.next()).text as string).length).toBe(60 * 1024);
    send(c, { type: "line", line: "input", input: "y".repeat(64 * 1024) });
    expect((await c.closed).code).toBe(1009);
  });

  it("answers nonsense with an error and keeps the session", async () => {
    const s = await start();
    const { c } = await login(s);
    c.ws.send("{not json");
    expect(await c.next()).toEqual({ type: "error", text: "error: message is not a JSON object" });
    send(c, { type: "frobnicate" });
    expect(await c.next()).toEqual({ type: "error", text: 'error: unknown message type "frobnicate"' });
    send(c, { type: "line", line: 42, id: "q" });
    expect(await c.next()).toMatchObject({ type: "reply", id: "q", ok: false });
    send(c, { type: "line", line: "echo still here" });
    expect(await c.next()).toEqual({ type: "reply", ok: true, text: "still here" });
    c.ws.terminate();
  });

  it("closes the session after `exit`", async () => {
    const s = await start();
    const { c } = await login(s);
    send(c, { type: "line", line: "exit", id: 9 });
    expect(await c.next()).toEqual({ type: "reply", id: 9, ok: true, text: "" });
    expect(await c.closed).toEqual({ code: 1000, reason: "exit" });
  });

  it("caps sessions at maxConnections: a token upgrade past it gets HTTP 503, an auth message close 1013", async () => {
    const s = await start({ maxConnections: 1 });
    const { c } = await login(s);
    expect(await upgradeStatus(s.wsUrl, { headers: { Authorization: `Bearer ${TOKEN}` } })).toBe(503);
    const late = await open(s.wsUrl); // waiting to log in is not a session: let in
    send(late, { type: "auth", token: TOKEN });
    expect(await late.closed).toEqual({ code: 1013, reason: "too many sessions" });
    c.ws.close();
    await c.closed;
    await new Promise((r) => setTimeout(r, 20));
    expect(await upgradeStatus(s.wsUrl, { headers: { Authorization: `Bearer ${TOKEN}` } })).toBe(101);
  });
});

describe("WebSocket console: unauthenticated sockets cannot lock operators out", () => {
  /** Opens an unauthenticated socket from a given loopback address. */
  const from = (s: WsConsole, n: number) => open(s.wsUrl, { localAddress: `127.0.0.${n}` });
  const closedWith = async (o: Awaited<ReturnType<typeof open>>) => (await o.closed).code;

  it("a valid token gets in while sockets from several sources fill the pre-login slots", async () => {
    const s = await start({ maxPreLogin: 4, maxPreLoginPerAddress: 2 });
    const idle = [];
    for (const n of [2, 2, 3, 3, 4, 4]) idle.push(await from(s, n));
    // Pool of 4: the fifth and sixth evicted the oldest socket of the source holding the most.
    expect(await closedWith(idle[0])).toBe(1013);
    expect(await closedWith(idle[2])).toBe(1013);
    // A token at upgrade (header or query) is a session at once, whatever waits to log in.
    const a = await open(s.wsUrl, { localAddress: "127.0.0.5", headers: { Authorization: `Bearer ${TOKEN}` } });
    expect(await a.next()).toMatchObject({ type: "auth", ok: true });
    const b = await open(`${s.wsUrl}?token=${TOKEN}`, { localAddress: "127.0.0.5" });
    expect(await b.next()).toMatchObject({ type: "auth", ok: true });
    // The browser's way (auth message) gets a slot too: it evicts an older waiting socket.
    const page = await from(s, 6);
    send(page, { type: "auth", token: TOKEN });
    expect(await page.next()).toMatchObject({ type: "auth", ok: true });
    send(page, { type: "line", line: "echo in" });
    expect(await page.next()).toEqual({ type: "reply", ok: true, text: "in" });
    expect(await closedWith(idle[4])).toBe(1013);
    // The sockets still waiting may log in as well.
    for (const o of [idle[1], idle[3], idle[5]]) {
      send(o, { type: "auth", token: TOKEN });
      expect(await o.next()).toMatchObject({ type: "auth", ok: true });
    }
    for (const o of [a, b, page, ...idle]) o.ws.terminate();
  });

  it("a source at its pre-login cap evicts its own oldest socket, not others'", async () => {
    const s = await start({ maxPreLogin: 10, maxPreLoginPerAddress: 2 });
    const other = await from(s, 3);
    const mine = [await from(s, 2), await from(s, 2), await from(s, 2)];
    expect(await mine[0].closed).toEqual({ code: 1013, reason: "too many unauthenticated connections" });
    for (const o of [other, mine[1], mine[2]]) {
      send(o, { type: "auth", token: TOKEN });
      expect(await o.next()).toMatchObject({ type: "auth", ok: true });
      o.ws.terminate();
    }
  });

  it("a flood of sockets from one source never takes a slot from another source's socket", async () => {
    const s = await start({ maxPreLogin: 4, maxPreLoginPerAddress: 3 });
    const page = await from(s, 7);
    const flood = [];
    for (let i = 0; i < 12; i++) flood.push(await from(s, 2));
    send(page, { type: "auth", token: TOKEN });
    expect(await page.next()).toMatchObject({ type: "auth", ok: true });
    for (const o of flood.slice(0, 9)) expect(await closedWith(o)).toBe(1013);
    for (const o of [page, ...flood]) o.ws.terminate();
  });
});

describe("WebSocket console: stats", () => {
  it("pushes stats every interval to authenticated subscribers only", async () => {
    let calls = 0;
    const statsSource = (): StatsSnapshot => {
      calls++;
      return {
        services: [{ service: "TCP  198.18.100.1:80", scheduler: "rr", conns: calls, cps: 1.5, reals: [
          { address: "198.19.0.11:80", forward: "Masq", weight: 1, health: "up", activeConns: calls, inactiveConns: 0, cps: 0.5 },
        ] }],
      };
    };
    const s = await start({ statsSource, statsIntervalMs: 50 });
    const sub = await login(s);
    const other = await login(s);
    const anon = await open(s.wsUrl);
    expect(calls).toBe(0); // no subscriber, no work
    send(sub.c, { type: "subscribe", stats: true });
    const first = await sub.c.next((m) => m.type === "stats");
    const second = await sub.c.next((m) => m.type === "stats");
    expect(first).toMatchObject({ type: "stats", services: [{ service: "TCP  198.18.100.1:80", reals: [{ address: "198.19.0.11:80", health: "up" }] }] });
    expect(typeof first.time).toBe("number");
    const n1 = (first.services as { conns: number }[])[0].conns;
    const n2 = (second.services as { conns: number }[])[0].conns;
    expect(n2).toBeGreaterThan(n1);
    expect(other.c.messages.filter((m) => m.type === "stats")).toEqual([]);
    expect(anon.messages).toEqual([]);
    // Unsubscribing stops the pushes and the polling.
    send(sub.c, { type: "subscribe", stats: false });
    await new Promise((r) => setTimeout(r, 60));
    const after = calls;
    await new Promise((r) => setTimeout(r, 150));
    expect(calls).toBe(after);
    for (const x of [sub.c, other.c, anon]) x.ws.terminate();
  });
});

describe("WebSocket console: page files", () => {
  it("serves the page with a strict CSP and security headers", async () => {
    const s = await start();
    const r = await get(s.url);
    expect(r.status).toBe(200);
    expect(r.headers["content-type"]).toBe("text/html; charset=utf-8");
    const csp = r.headers["content-security-policy"] as string;
    expect(csp).toContain("default-src 'none'");
    expect(csp).toContain("script-src 'self'");
    expect(csp).not.toMatch(/script-src[^;]*unsafe/);
    expect(csp).toContain("frame-ancestors 'none'");
    expect(csp).toContain(`connect-src 'self' ws://127.0.0.1:${s.port}`);
    expect(r.headers["x-content-type-options"]).toBe("nosniff");
    expect(r.body).toContain('src="/assets/xterm.js"');
    expect(r.body).toContain('href="/assets/xterm.css"');
    expect((await get(`${s.url}console.js`)).status).toBe(200);
    expect((await get(`${s.url}console.css`)).headers["content-type"]).toBe("text/css; charset=utf-8");
    expect((await get(s.url, "HEAD")).body).toBe("");
    expect((await get(s.url, "POST")).status).toBe(405);
  });

  it("serves xterm from node_modules under /assets", async () => {
    const s = await start();
    const js = await get(`${s.url}assets/xterm.js`);
    expect(js.status).toBe(200);
    expect(js.headers["content-type"]).toBe("text/javascript; charset=utf-8");
    expect(js.body.length).toBeGreaterThan(10_000);
    expect((await get(`${s.url}assets/xterm.css`)).status).toBe(200);
  });

  it("serves nothing else: no traversal, no listing", async () => {
    const s = await start();
    for (const p of [
      "/../package.json", "/assets/../../package.json", "/%2e%2e/package.json", "/assets/%2e%2e%2f%2e%2e%2fpackage.json",
      "/assets/", "/assets", "/index.html", "/web/index.html", "/..%2fpackage.json", "//etc/passwd", "/assets/xterm.js/../../../package.json",
      "/node_modules/@xterm/xterm/package.json", "/console.js%00.html",
    ]) {
      expect([p, await rawGet(s.port, p)]).toEqual([p, 404]);
    }
  });

  it("refuses upgrades on other paths", async () => {
    const s = await start();
    expect(await upgradeStatus(`ws://127.0.0.1:${s.port}/other`)).toBe(404);
  });
});

describe("WebSocket console: token file", () => {
  it("makes a 32-byte base64url token at first start, mode 0600, and reuses it", async () => {
    const file = path.join(dir, "lib", "ws-token");
    const s = await startWsConsole({ interpreter: interp, host: "127.0.0.1", port: 0, tokenFile: file, log: quietLog });
    const token = s.token;
    await s.close();
    expect(token).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(Buffer.from(token, "base64url").length).toBe(32);
    expect(fs.statSync(file).mode & 0o777).toBe(0o600);
    expect(fs.readFileSync(file, "utf8").trim()).toBe(token);
    fs.chmodSync(file, 0o644);
    srv = await startWsConsole({ interpreter: interp, host: "127.0.0.1", port: 0, tokenFile: file, log: quietLog });
    expect(srv.token).toBe(token);
    expect(fs.statSync(file).mode & 0o777).toBe(0o600);
  });

  it("refuses a token that is too short", async () => {
    await expect(startWsConsole({ interpreter: interp, host: "127.0.0.1", port: 0, token: "short", log: quietLog })).rejects.toMatchObject({ code: "WEIR_ERR_TOKEN" });
  });
});

describe("parseListenAddress", () => {
  it("parses HOST:PORT forms and refuses others", () => {
    expect(parseListenAddress("127.0.0.1:8443")).toEqual({ host: "127.0.0.1", port: 8443 });
    expect(parseListenAddress("[::1]:80")).toEqual({ host: "::1", port: 80 });
    expect(parseListenAddress(":9000")).toEqual({ host: "0.0.0.0", port: 9000 });
    expect(parseListenAddress("lb.example:1")).toEqual({ host: "lb.example", port: 1 });
    expect(parseListenAddress("[::]:0")).toEqual({ host: "::", port: 0 });
    for (const bad of ["8443", "::1:80", "host:70000", "host:", "host:x", "[::1]", "[]:80", "[::1:80", "[::1]x:80", "a]:80", "a[b:80"]) {
      expect(() => parseListenAddress(bad), bad).toThrow(/HOST:PORT/);
    }
  });
});

describe("weir console (runConsole)", () => {
  async function run(o: { url?: string; token?: string; input: string }) {
    const stdout = sink();
    const stderr = sink();
    const code = await runConsole({ url: o.url, token: o.token, stdin: source(o.input), stdout, stderr });
    return { code, out: stdout.text(), err: stderr.text() };
  }

  it("sends each line and prints the replies; exit 0 at EOF", async () => {
    const s = await start();
    const r = await run({ url: `ws://127.0.0.1:${s.port}`, token: TOKEN, input: "echo one\nmulti\n" });
    expect(r).toEqual({ code: 0, out: "one\none\ntwo\nthree\n", err: "" });
  });

  it("stops at `exit`; exit 1 when a piped line failed", async () => {
    const s = await start();
    const r = await run({ url: s.wsUrl, token: TOKEN, input: "bad z\nexit\necho never\n" });
    expect(r).toEqual({ code: 1, out: "", err: "error: unknown word 'z' at 1\n" });
    expect(interp.calls.map((c) => c.line)).toEqual(["bad z"]);
  });

  it("exits 1 with a message when the token is refused", async () => {
    const s = await start();
    const r = await run({ url: s.wsUrl, token: "not-the-token-at-all", input: "echo x\n" });
    expect(r.code).toBe(1);
    expect(r.err).toBe("weir console: the token was refused\n");
  });

  it("exits 2 when nothing listens", async () => {
    const s = await start();
    const url = s.wsUrl;
    await s.close();
    srv = undefined;
    const r = await run({ url, token: TOKEN, input: "" });
    expect(r.code).toBe(2);
    expect(r.err).toContain("cannot reach");
  });
});
