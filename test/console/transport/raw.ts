// Raw stream clients for the endpoint fuzz tests: bytes go out exactly as
// given (no client-side URL, header or frame normalisation) and whatever
// comes back is collected; plus the WebSocket frames a well-behaved client
// library would never send.

import net from "node:net";
import crypto from "node:crypto";

export interface RawResult {
  data: Buffer;
  /** The server closed (or reset) the connection before the guard ran out. */
  closed: boolean;
}

export interface RawOptions {
  /** Half-close after the last piece (default true), so a server waiting for more sees the end. */
  end?: boolean;
  /** Give up waiting after this long (a liveness guard, not a measurement; default 10 s). */
  guardMs?: number;
  /** Stop once this much has arrived (e.g. a whole HTTP head). */
  until?: (data: Buffer) => boolean;
  /** Source address (TCP only), to look like another client. */
  localAddress?: string;
}

/** Connects to a TCP port on 127.0.0.1 (number) or a unix socket (path), sends the pieces, collects the answer. */
export function raw(target: number | string, pieces: string | Buffer | (string | Buffer)[], o: RawOptions = {}): Promise<RawResult> {
  const list = Array.isArray(pieces) ? pieces : [pieces];
  return new Promise((resolve) => {
    const s = typeof target === "number" ? net.connect({ port: target, host: "127.0.0.1", localAddress: o.localAddress }) : net.connect(target);
    const parts: Buffer[] = [];
    let done = false;
    const finish = (closed: boolean) => {
      if (done) return;
      done = true;
      clearTimeout(guard);
      s.destroy();
      resolve({ data: Buffer.concat(parts), closed });
    };
    const guard = setTimeout(() => finish(false), o.guardMs ?? 10_000);
    s.on("data", (c: Buffer) => {
      parts.push(c);
      if (o.until?.(Buffer.concat(parts))) finish(true);
    });
    s.on("error", () => finish(true));
    s.on("close", () => finish(true));
    s.on("connect", () => {
      for (const p of list) s.write(p);
      if (o.end !== false) s.end();
    });
  });
}

/** The status of the first HTTP response in data, if there is one. */
export function statusOf(data: Buffer): number | undefined {
  const m = /^HTTP\/1\.[01] (\d{3}) /.exec(data.toString("latin1"));
  return m ? Number(m[1]) : undefined;
}

export const headComplete = (d: Buffer) => d.includes("\r\n\r\n");

/** Malformed or hostile HTTP requests every HTTP endpoint must survive (a 4xx or a closed connection). */
export function badHttpRequests(): [string, (string | Buffer)[]][] {
  const req = (line: string, headers = "Host: x\r\n") => `${line}\r\n${headers}Connection: close\r\n\r\n`;
  return [
    ["GET //", [req("GET // HTTP/1.1")]],
    ["GET ///metrics", [req("GET ///metrics HTTP/1.1")]],
    ["GET // without Host", [req("GET // HTTP/1.1", "")]],
    ["unterminated IPv6 host", [req("GET http://[::1 HTTP/1.1")]],
    ["absolute form, bad port", [req("GET http://x:99999/metrics HTTP/1.1")]],
    ["absolute form, other scheme", [req("GET ftp://x/metrics HTTP/1.1")]],
    ["scheme-relative", [req("GET //evil.example/metrics HTTP/1.1")]],
    ["percent escapes", [req("GET /%zz%%%00%2e%2e%2f HTTP/1.1")]],
    ["lone percent", [req("GET /% HTTP/1.1")]],
    ["backslashes", [req("GET \\\\x\\metrics HTTP/1.1")]],
    ["asterisk form", [req("OPTIONS * HTTP/1.1")]],
    ["authority form", [req("CONNECT 127.0.0.1:1 HTTP/1.1")]],
    ["null byte in target", [Buffer.from("GET /met\0rics HTTP/1.1\r\nHost: x\r\n\r\n", "latin1")]],
    ["null byte in header", [Buffer.from("GET /metrics HTTP/1.1\r\nHost: x\0y\r\n\r\n", "latin1")]],
    ["invalid method", [req("G@T /metrics HTTP/1.1")]],
    ["unknown method", [req("BREW /metrics HTTP/1.1")]],
    ["lower-case method", [req("get /metrics HTTP/1.1")]],
    ["HTTP/0.9", ["GET /metrics\r\n"]],
    ["HTTP/2 preface", ["PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"]],
    ["HTTP/9.9", [req("GET /metrics HTTP/9.9")]],
    ["no version", [req("GET /metrics")]],
    ["huge header", [req("GET /metrics HTTP/1.1", `Host: x\r\nX-Big: ${"a".repeat(100_000)}\r\n`)]],
    ["many headers", [req("GET /metrics HTTP/1.1", `Host: x\r\n${"X-A: b\r\n".repeat(5000)}`)]],
    ["huge target", [req(`GET /${"m".repeat(100_000)} HTTP/1.1`)]],
    ["header without colon", [req("GET /metrics HTTP/1.1", "Host: x\r\nnonsense\r\n")]],
    ["obs-fold header", [req("GET /metrics HTTP/1.1", "Host: x\r\nX-A: b\r\n c\r\n")]],
    ["bare LF", ["GET /metrics HTTP/1.1\nHost: x\n\n"]],
    ["two Content-Length", [req("POST /metrics HTTP/1.1", "Host: x\r\nContent-Length: 1\r\nContent-Length: 2\r\n")]],
    ["negative Content-Length", [req("POST /metrics HTTP/1.1", "Host: x\r\nContent-Length: -1\r\n")]],
    ["bad chunked body", ["POST /metrics HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nxx\r\n0\r\n\r\n"]],
    ["smuggling: CL and TE", ["POST /metrics HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\nGET // HTTP/1.1\r\n\r\n"]],
    ["pipelined garbage", [req("GET /metrics HTTP/1.1").replace("Connection: close\r\n", "") + "\x16\x03\x01garbage\r\n\r\n"]],
    ["pipelined bad targets", [req("GET // HTTP/1.1").replace("Connection: close\r\n", "") + req("GET http://[ HTTP/1.1")]],
    ["TLS ClientHello", [Buffer.from("16030100a5010000a10303" + "00".repeat(160), "hex")]],
    ["random binary", [crypto.randomBytes(4096)]],
    ["half-sent request line", ["GET /met"]],
    ["half-sent headers", ["GET /metrics HTTP/1.1\r\nHost: x\r\nX-A: "]],
    ["CRLF only", ["\r\n\r\n\r\n"]],
    ["invalid upgrade: h2c", [req("GET /metrics HTTP/1.1", "Host: x\r\nUpgrade: h2c\r\nConnection: Upgrade\r\n")]],
    ["invalid upgrade: empty", [req("GET // HTTP/1.1", "Host: x\r\nUpgrade: \r\nConnection: Upgrade\r\n")]],
    ["websocket upgrade to //", [req("GET // HTTP/1.1", "Host: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n")]],
  ];
}

/** A WebSocket upgrade request, raw; override or drop (undefined) any header. */
export function upgradeRequest(target = "/ws", headers: Record<string, string | undefined> = {}, method = "GET"): string {
  const h: Record<string, string | undefined> = {
    Host: "127.0.0.1",
    Upgrade: "websocket",
    Connection: "Upgrade",
    "Sec-WebSocket-Version": "13",
    "Sec-WebSocket-Key": crypto.randomBytes(16).toString("base64"),
    ...headers,
  };
  const lines = Object.entries(h).filter(([, v]) => v !== undefined).map(([k, v]) => `${k}: ${v}`);
  return `${method} ${target} HTTP/1.1\r\n${lines.join("\r\n")}\r\n\r\n`;
}

export interface FrameOptions {
  fin?: boolean;
  rsv?: number;
  /** Mask the payload (clients must); false sends it bare. */
  mask?: boolean;
  /** Claimed length, when it should not match the payload. */
  length?: number | bigint;
}

/** One WebSocket frame, built by hand so that it can break the rules. */
export function frame(opcode: number, payload: Buffer | string = Buffer.alloc(0), o: FrameOptions = {}): Buffer {
  const body = Buffer.isBuffer(payload) ? payload : Buffer.from(payload);
  const len = o.length ?? body.length;
  const masked = o.mask !== false;
  const head: number[] = [((o.fin === false ? 0 : 1) << 7) | ((o.rsv ?? 0) << 4) | (opcode & 0x0f)];
  let ext = Buffer.alloc(0);
  if (typeof len === "bigint" || len > 0xffff) {
    head.push((masked ? 0x80 : 0) | 127);
    ext = Buffer.alloc(8);
    ext.writeBigUInt64BE(BigInt(len));
  } else if (len > 125) {
    head.push((masked ? 0x80 : 0) | 126);
    ext = Buffer.alloc(2);
    ext.writeUInt16BE(len);
  } else {
    head.push((masked ? 0x80 : 0) | len);
  }
  if (!masked) return Buffer.concat([Buffer.from(head), ext, body]);
  const key = crypto.randomBytes(4);
  const out = Buffer.from(body);
  for (let i = 0; i < out.length; i++) out[i] ^= key[i & 3];
  return Buffer.concat([Buffer.from(head), ext, key, out]);
}
