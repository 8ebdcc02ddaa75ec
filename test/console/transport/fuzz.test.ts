// The WebSocket console (page server, upgrade, frames, messages) and the
// control socket under malformed and random input: each gets a 4xx, a close
// or an error reply, nothing escapes as an exception, and a good request
// still answers after each.

import { describe, it, expect, beforeAll, afterAll } from "vitest";
import fs from "node:fs";
import http from "node:http";
import os from "node:os";
import path from "node:path";
import fc from "fast-check";
import { startWsConsole, type WsConsole } from "../../../src/console/transport/ws.js";
import { startCtlServer, type CtlServer } from "../../../src/console/transport/socket.js";
import { fakeInterpreter, quietLog } from "./fake.js";
import { open, send } from "./wshelp.js";
import { badHttpRequests, frame, headComplete, raw, statusOf, upgradeRequest } from "./raw.js";

const TOKEN = "test-token-0123456789abcdefghijkl";

// Anything that escapes a handler lands here (in `weir run` it would be the
// supervisor's death, or the last-resort log).
const escaped: unknown[] = [];
const record = (e: unknown) => { escaped.push(e); };
let dir: string;

beforeAll(() => {
  process.on("uncaughtException", record);
  process.on("unhandledRejection", record);
  dir = fs.mkdtempSync(path.join(os.tmpdir(), "weir-fuzz-"));
});
afterAll(() => {
  process.off("uncaughtException", record);
  process.off("unhandledRejection", record);
  fs.rmSync(dir, { recursive: true, force: true });
});

function getPage(port: number): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: "127.0.0.1", port, path: "/", agent: false }, (res) => {
      res.resume();
      res.on("end", () => resolve(res.statusCode ?? 0));
    });
    req.on("error", reject);
    req.end();
  });
}

const OPCODES = { cont: 0x0, text: 0x1, binary: 0x2, close: 0x8, ping: 0x9, pong: 0xa };

describe("WebSocket console under malformed input", () => {
  let srv: WsConsole;
  let uploadDir: string;

  beforeAll(async () => {
    uploadDir = path.join(dir, "uploads");
    srv = await startWsConsole({
      interpreter: fakeInterpreter(), host: "127.0.0.1", port: 0, token: TOKEN, log: quietLog,
      // Wide pre-login limits: the fuzz cases come fast from one address.
      maxPreLogin: 1000, maxPreLoginPerAddress: 1000, throttle: { maxFailures: 1e9, globalMaxFailures: 1e9 },
      uploads: { dir: uploadDir, maxBytes: 1 << 20, totalBytes: 4 << 20, allowMemoryFs: true },
    });
  });
  afterAll(async () => {
    await srv.close();
  });

  /** The page answers, and a header-token session runs a line. */
  async function stillServing(what: string): Promise<void> {
    expect(escaped, what).toEqual([]);
    expect(await getPage(srv.port), what).toBe(200);
    const c = await open(srv.wsUrl, { headers: { Authorization: `Bearer ${TOKEN}` } });
    await c.next((m) => m.type === "auth");
    send(c, { type: "line", line: "echo alive" });
    expect(await c.next((m) => m.type === "reply"), what).toEqual({ type: "reply", ok: true, text: "alive" });
    c.ws.terminate();
  }

  describe("HTTP requests to the page server", () => {
    for (const [what, pieces] of badHttpRequests()) {
      it(`survives: ${what}`, async () => {
        const r = await raw(srv.port, pieces);
        const statuses = [...r.data.toString("latin1").matchAll(/HTTP\/1\.1 (\d{3}) /g)].map((m) => Number(m[1]));
        for (const s of statuses) expect([200, 400, 404, 405, 413, 414, 426, 431, 501, 505], what).toContain(s);
        await stillServing(what);
      });
    }

    it("answers GET // and an unterminated IPv6 target with 404 or 400", async () => {
      for (const target of ["//", "http://[::1", "http://[", "//evil.example/"]) {
        const r = await raw(srv.port, `GET ${target} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`, { until: headComplete });
        expect([target, statusOf(r.data)]).toSatisfy(([, s]: [string, number]) => s === 400 || s === 404);
      }
      await stillServing("GET //");
    });
  });

  describe("upgrade requests", () => {
    const key = (n: number) => Buffer.alloc(n, 7).toString("base64");
    const cases: [string, string][] = [
      ["no key", upgradeRequest("/ws", { "Sec-WebSocket-Key": undefined })],
      ["short key", upgradeRequest("/ws", { "Sec-WebSocket-Key": key(15) })],
      ["key not base64", upgradeRequest("/ws", { "Sec-WebSocket-Key": "!!!!!!!!!!!!!!!!!!!!!!==" })],
      ["empty key", upgradeRequest("/ws", { "Sec-WebSocket-Key": "" })],
      ["two keys", upgradeRequest("/ws", { "Sec-WebSocket-Key": `${key(16)}, ${key(16)}` })],
      ["no version", upgradeRequest("/ws", { "Sec-WebSocket-Version": undefined })],
      ["version 8", upgradeRequest("/ws", { "Sec-WebSocket-Version": "8" })],
      ["version garbage", upgradeRequest("/ws", { "Sec-WebSocket-Version": "13, 13, x" })],
      ["Upgrade: h2c", upgradeRequest("/ws", { Upgrade: "h2c" })],
      ["Upgrade without Connection", upgradeRequest("/ws", { Connection: undefined })],
      ["POST upgrade", upgradeRequest("/ws", {}, "POST")],
      ["target //", upgradeRequest("//")],
      ["target http://[::1", upgradeRequest("http://[::1")],
      ["target http://[::1]:x/ws", upgradeRequest("http://[::1]:x/ws")],
      ["absolute-form target", upgradeRequest("http://127.0.0.1/ws")],
      ["percent garbage query", upgradeRequest("/ws?token=%ZZ%&%")],
      ["empty query token", upgradeRequest("/ws?token=")],
      ["two query tokens", upgradeRequest(`/ws?token=x&token=${TOKEN}`)],
      ["empty Bearer", upgradeRequest("/ws", { Authorization: "Bearer " })],
      ["huge Bearer", upgradeRequest("/ws", { Authorization: `Bearer ${"t".repeat(12_000)}` })],
      ["Bearer with spaces", upgradeRequest("/ws", { Authorization: `Bearer  ${TOKEN} x` })],
      ["Authorization garbage", upgradeRequest("/ws", { Authorization: "\x7f\x80\xff" })],
      ["Origin unparsable", upgradeRequest("/ws", { Origin: "http://[" })],
      ["Origin null", upgradeRequest("/ws", { Origin: "null" })],
      ["Origin javascript:", upgradeRequest("/ws", { Origin: "javascript:alert(1)" })],
      ["no Host", upgradeRequest("/ws", { Host: undefined })],
      ["Host garbage", upgradeRequest("/ws", { Host: "[:::" })],
      ["Host and Origin mismatch", upgradeRequest("/ws", { Host: "127.0.0.1:1", Origin: "http://127.0.0.1:1" })],
      ["bad extension offer", upgradeRequest("/ws", { "Sec-WebSocket-Extensions": "permessage-deflate; client_max_window_bits=99; x=\"" })],
      ["bad protocol list", upgradeRequest("/ws", { "Sec-WebSocket-Protocol": ",, ,a b,\"" })],
      ["upgrade with a body", upgradeRequest("/ws", { "Content-Length": "5" }) + "hello"],
    ];
    for (const [what, req] of cases) {
      it(`survives: ${what}`, async () => {
        const r = await raw(srv.port, req, { guardMs: 5000 });
        const s = statusOf(r.data);
        if (s !== undefined) expect([101, 400, 401, 403, 404, 405, 426, 429, 431, 503], what).toContain(s);
        await stillServing(what);
      });
    }

    it("refuses an upgrade on // and on an unterminated IPv6 target with a 4xx", async () => {
      for (const target of ["//", "http://[::1"]) {
        const r = await raw(srv.port, upgradeRequest(target), { end: false, until: headComplete });
        expect([target, statusOf(r.data)]).toSatisfy(([, s]: [string, number]) => s === 400 || s === 404);
      }
      await stillServing("upgrade //");
    });
  });

  describe("frames after the upgrade", () => {
    const textOf = (s: string) => frame(OPCODES.text, s);
    const deep = (n: number) => "[".repeat(n) + "]".repeat(n);
    const frames: [string, Buffer[]][] = [
      ["reserved opcode 3", [frame(0x3, "x")]],
      ["reserved control opcode 0xb", [frame(0xb, "x")]],
      ["unmasked text frame", [frame(OPCODES.text, "{}", { mask: false })]],
      ["RSV bits without an extension", [frame(OPCODES.text, "{}", { rsv: 7 })]],
      ["64-bit length with the top bit set", [frame(OPCODES.text, "x", { length: 1n << 63n })]],
      ["length past 2^53", [frame(OPCODES.binary, "x", { length: 2n ** 60n })]],
      ["length past maxPayload", [frame(OPCODES.text, "x", { length: 10 * 1024 * 1024 })]],
      ["control frame over 125 bytes", [frame(OPCODES.ping, Buffer.alloc(200))]],
      ["fragmented ping", [frame(OPCODES.ping, "x", { fin: false })]],
      ["continuation with nothing to continue", [frame(OPCODES.cont, "x")]],
      ["new data frame inside a fragmented one", [frame(OPCODES.text, "{", { fin: false }), frame(OPCODES.binary, "x")]],
      ["invalid UTF-8 text", [frame(OPCODES.text, Buffer.from([0x7b, 0xff, 0xfe, 0x7d]))]],
      ["invalid UTF-8 split over fragments", [frame(OPCODES.text, Buffer.from([0xe2, 0x82]), { fin: false }), frame(OPCODES.cont, Buffer.from([0x28]))]],
      ["close with code 999", [frame(OPCODES.close, Buffer.from([0x03, 0xe7]))]],
      ["close with a 1-byte payload", [frame(OPCODES.close, Buffer.from([0x03]))]],
      ["close with an invalid UTF-8 reason", [frame(OPCODES.close, Buffer.from([0x03, 0xe8, 0xff]))]],
      ["truncated frame header", [Buffer.from([0x81, 0xfe, 0x00])]],
      ["truncated payload", [frame(OPCODES.text, "{\"type\":\"auth\"}").subarray(0, 8)]],
      ["unsolicited pong", [frame(OPCODES.pong, "x")]],
      ["text that is not JSON", [textOf("not json")]],
      ["JSON array", [textOf("[1,2,3]")]],
      ["JSON null", [textOf("null")]],
      ["JSON number", [textOf("42")]],
      ["deep JSON", [textOf(deep(30_000))]],
      ["auth with an object token", [textOf('{"type":"auth","token":{"a":1}}')]],
      ["auth without token", [textOf('{"type":"auth"}')]],
      ["auth with a huge token", [textOf(JSON.stringify({ type: "auth", token: "x".repeat(60_000) }))]],
      ["auth with a NUL token", [textOf(JSON.stringify({ type: "auth", token: `${TOKEN}\0` }))]],
      ["__proto__ message", [textOf('{"__proto__":{"type":"auth","token":"x"}}')]],
      ["binary before auth", [frame(OPCODES.binary, Buffer.alloc(100))]],
      ["random bytes", [Buffer.from("8f3c1a22b9e0ff0011", "hex")]],
    ];
    const afterAuth: [string, Buffer[]][] = [
      ["line with a deeply nested id", [textOf(`{"type":"line","line":"echo x","id":${deep(30_000)}}`)]],
      ["line with a deeply nested id and a bad line", [textOf(`{"type":"line","line":5,"id":${deep(30_000)}}`)]],
      ["unknown type that is deep", [textOf(`{"type":${deep(30_000)}}`)]],
      ["line that is an array", [textOf('{"type":"line","line":["echo","x"]}')]],
      ["line with numeric input", [textOf('{"type":"line","line":"input","input":5}')]],
      ["line with a NUL", [textOf(JSON.stringify({ type: "line", line: "echo a\0b" }))]],
      ["subscribe with junk", [textOf('{"type":"subscribe","stats":{"x":[1]}}')]],
      ["type is an object", [textOf('{"type":{"toString":1}}')]],
      ["type constructor", [textOf('{"type":"constructor"}')]],
      ["upload with a string size", [textOf('{"type":"upload","size":"1e9"}')]],
      ["upload with size -1", [textOf('{"type":"upload","size":-1}')]],
      ["upload with size 1e300", [textOf('{"type":"upload","size":1e300}')]],
      ["upload past the limit", [textOf('{"type":"upload","size":1e12}')]],
      ["upload then too many bytes", [textOf('{"type":"upload","size":4}'), frame(OPCODES.binary, Buffer.alloc(10))]],
      ["upload then text in between", [textOf('{"type":"upload","size":4}'), textOf("{}"), frame(OPCODES.binary, Buffer.alloc(4))]],
      ["binary with no upload", [frame(OPCODES.binary, Buffer.alloc(100))]],
      ["not JSON", [textOf("\u0000\u0001")]],
    ];

    /** Upgrades on a raw socket (optionally with the token), then sends the frames. */
    function afterUpgrade(frames: Buffer[], authed: boolean) {
      const req = upgradeRequest("/ws", authed ? { Authorization: `Bearer ${TOKEN}` } : {});
      return raw(srv.port, [req, ...frames], { guardMs: 5000 });
    }

    for (const [what, fs_] of frames) {
      it(`survives before login: ${what}`, async () => {
        await afterUpgrade(fs_, false);
        await stillServing(what);
      });
    }
    for (const [what, fs_] of [...frames, ...afterAuth]) {
      it(`survives after login: ${what}`, async () => {
        await afterUpgrade(fs_, true);
        await stillServing(what);
      });
    }

    it("answers a deeply nested id with an error message and keeps the session", async () => {
      const c = await open(srv.wsUrl, { headers: { Authorization: `Bearer ${TOKEN}` } });
      await c.next((m) => m.type === "auth");
      c.ws.send(`{"type":"line","line":"echo x","id":${deep(30_000)}}`);
      expect(await c.next()).toMatchObject({ type: "error" });
      send(c, { type: "line", line: "echo still here", id: 7 });
      expect(await c.next()).toEqual({ type: "reply", id: 7, ok: true, text: "still here" });
      c.ws.terminate();
      expect(escaped).toEqual([]);
    });
  });

  it("survives random bytes at the HTTP server and after an upgrade (fast-check)", async () => {
    const chars = [..."GET /ws //[]:@?#%00 HTTP/1.1\r\nUpgrade: websocket\0\xff\\"];
    const requestish = fc.string({ unit: fc.constantFrom(...chars), maxLength: 200 });
    const bytes = fc.uint8Array({ maxLength: 2048 }).map((b) => Buffer.from(b));
    await fc.assert(
      fc.asyncProperty(fc.oneof(requestish, bytes), fc.boolean(), fc.boolean(), async (input, upgrade, authed) => {
        const pre = upgrade ? [upgradeRequest("/ws", authed ? { Authorization: `Bearer ${TOKEN}` } : {})] : [];
        await raw(srv.port, [...pre, input], { guardMs: 5000 });
        expect(escaped).toEqual([]);
      }),
      { numRuns: 150 },
    );
    await stillServing("random bytes");
  });

  it("survives random JSON messages before and after login (fast-check)", async () => {
    const message = fc.oneof(
      fc.json(),
      fc.record({ type: fc.constantFrom("auth", "line", "subscribe", "upload", "x"), token: fc.anything(), line: fc.anything(), input: fc.anything(), id: fc.anything(), size: fc.anything(), stats: fc.anything() }, { requiredKeys: ["type"] }).map((o) => JSON.stringify(o) ?? "null"),
    );
    await fc.assert(
      fc.asyncProperty(fc.array(message, { minLength: 1, maxLength: 5 }), fc.boolean(), async (msgs, authed) => {
        await raw(srv.port, [upgradeRequest("/ws", authed ? { Authorization: `Bearer ${TOKEN}` } : {}), ...msgs.map((m) => frame(OPCODES.text, m))], { guardMs: 5000 });
        expect(escaped).toEqual([]);
      }),
      { numRuns: 100 },
    );
    await stillServing("random messages");
  });
});

describe("control socket under malformed input", () => {
  let ctl: CtlServer;
  let sock: string;

  beforeAll(async () => {
    sock = path.join(dir, "ctl.sock");
    ctl = await startCtlServer({ path: sock, interpreter: fakeInterpreter(), log: quietLog });
  });
  afterAll(async () => {
    await ctl.close();
  });

  async function stillServing(what: string): Promise<void> {
    expect(escaped, what).toEqual([]);
    const r = await raw(sock, '{"line":"echo alive"}\n');
    expect(r.data.toString(), what).toBe('{"ok":true,"text":"alive"}\n');
  }

  const deep = (n: number) => "[".repeat(n) + "]".repeat(n);
  const cases: [string, (string | Buffer)[]][] = [
    ["not JSON", ["hello\n"]],
    ["HTTP request", ["GET // HTTP/1.1\r\nHost: x\r\n\r\n"]],
    ["null bytes", [Buffer.from([0, 0, 0, 0x0a, 0])]],
    ["invalid UTF-8", [Buffer.from([0x7b, 0xff, 0xfe, 0x7d, 0x0a])]],
    ["JSON array", ["[1,2]\n"]],
    ["JSON string", ['"line"\n']],
    ["wrong-typed line", ['{"line":{"a":1}}\n']],
    ["wrong-typed input", ['{"line":"input","input":[1]}\n']],
    ["deep JSON", [deep(100_000) + "\n"]],
    ["deep input", [`{"line":"input","input":${deep(100_000)}}\n`]],
    ["__proto__", ['{"__proto__":{"line":"echo x"}}\n']],
    ["half-sent request", ['{"line":"echo']],
    ["pipelined garbage", ['{"line":"echo a"}\n\x00\x01\n{"line":\n{"line":"echo b"}\n']],
    ["CR line ends", ['{"line":"echo a"}\r\n']],
    ["random binary", [Buffer.from("ff00ee11dd22cc33bb44aa55", "hex")]],
    ["one byte at a time", [...'{"line":"echo split"}\n'].map((ch) => ch)],
  ];
  for (const [what, pieces] of cases) {
    it(`survives: ${what}`, async () => {
      const r = await raw(sock, pieces);
      for (const line of r.data.toString().split("\n").filter((l) => l !== "")) {
        expect(JSON.parse(line), what).toMatchObject({ ok: expect.any(Boolean), text: expect.any(String) });
      }
      await stillServing(what);
    });
  }

  it("survives random bytes (fast-check)", async () => {
    const bytes = fc.uint8Array({ maxLength: 4096 }).map((b) => Buffer.from(b));
    const lines = fc.array(fc.json(), { maxLength: 5 }).map((l) => l.join("\n") + "\n");
    await fc.assert(
      fc.asyncProperty(fc.oneof(bytes, lines), async (input) => {
        await raw(sock, input);
        expect(escaped).toEqual([]);
      }),
      { numRuns: 150 },
    );
    await stillServing("random bytes");
  });
});
