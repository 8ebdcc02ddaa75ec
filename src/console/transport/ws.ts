// The WebSocket console: the console language and live statistics over a
// WebSocket at ws(s)://HOST:PORT/ws, and the browser page on the same port
// (static.ts). TLS when a certificate and key are configured.
//
// Authentication: a token (token.ts) in any one of
//   - the first message: {"type":"auth","token":"…"}  (what the browser page does:
//     browsers cannot set headers on a WebSocket, and a query string ends up in logs)
//   - an `Authorization: Bearer TOKEN` header on the upgrade (`weir console`)
//   - a `?token=TOKEN` query on the upgrade (for tools that can do nothing else)
// A wrong header/query token is refused with HTTP 401; a wrong first-message
// token closes the socket with code 1008. An unauthenticated socket that sends
// anything else, or nothing within authTimeoutMs (3 s), is closed with 1008 too.
// Failures are counted per source, an IPv4 address or IPv6 /64, and overall
// (throttle.ts): a locked-out source gets HTTP 429 (Retry-After) at upgrade,
// or close 1008 "too many failed attempts". Origin is checked before
// anything else (origin.ts), HTTP 403.
//
// Connection limits, so that unauthenticated clients cannot lock operators out:
//   - sessions (authenticated sockets) have their own cap, maxConnections;
//     only token holders can fill it (past it: HTTP 503 at upgrade, close
//     1013 after an auth message);
//   - an upgrade carrying the right token (header or query) is a session at
//     once: it never waits in the pre-login pool, so it gets in whatever
//     unauthenticated clients do;
//   - sockets waiting for their auth message (the browser page's way) are at
//     most maxPreLoginPerAddress per source and maxPreLogin in all. A new one
//     is never refused for lack of room: it evicts the oldest waiting socket
//     of its own source if that source is at its cap, else (pool full) the
//     oldest of the source holding the most (close 1013). A flood from a few
//     sources so evicts itself; to push a page's socket out before its auth
//     message arrives (one round trip), an attacker must open sockets from
//     maxPreLogin - 1 other sources within that round trip.
// A handler that throws (a bug) ends that one socket (HTTP 500 or close
// 1011) and is logged; no input makes an exception escape.
//
// Messages, one JSON object per text frame (at most maxPayload bytes, 64 KiB;
// a larger frame closes the socket with 1009):
//   client → server
//     {"type":"auth","token":"…"}
//     {"type":"line","line":"ipvsadm -Ln","input"?:"…","id"?:string|number|boolean|null}
//     {"type":"subscribe","stats":true|false}
//     {"type":"upload","size":N}  then N bytes as binary frames (only when uploads are on: upload.ts;
//                                 a session keeps one upload: a new one removes the previous file)
//   server → client
//     {"type":"auth","ok":true,"commands":["ipvsadm", …]}     once authenticated
//     {"type":"reply","id"?:…,"ok":true|false,"text":"…"}     one per line, in order (the line's id)
//     {"type":"stats","time":ms,"services":[…]}                every statsIntervalMs to subscribers
//     {"type":"error","text":"error: …"}                       a message that made no sense (or a line whose id is not a scalar)
//     {"type":"upload","ready":true} / {"type":"upload","ok":true,"path":P,"bytes":N} / {"type":"upload","ok":false,"text":"error: …"}
// `exit` as a line gets an ok reply, then the socket is closed (1000).

import http from "node:http";
import https from "node:https";
import fs from "node:fs";
import net from "node:net";
import type { Duplex } from "node:stream";
import { WebSocketServer, type WebSocket, type RawData } from "ws";
import { WeirError } from "../../errors.js";
import { intIn, splitHostPort } from "../../keys.js";
import { logger, type Logger } from "../../log.js";
import type { Interpreter } from "../types.js";
import { executeLine, isExit } from "./execute.js";
import { FailureThrottle, sourceKey, type ThrottleOptions } from "./throttle.js";
import { loadOrCreateToken, tokenMatches, validateToken } from "./token.js";
import { originAllowed } from "./origin.js";
import { requestUrl, staticHandler } from "./static.js";
import { UploadStore, type Upload, type UploadOptions } from "./upload.js";

export const WS_PATH = "/ws";
export const MAX_WS_PAYLOAD = 64 * 1024;

/** One real server's live numbers, as the stats panel shows them (rates are per second). */
export interface RealServerStats {
  /** "198.19.0.11:80" */
  address: string;
  /** "Masq" | "Route" | "Tunnel", as ipvsadm prints it. */
  forward?: string;
  weight?: number;
  /** "up" | "down" | "unknown" (health checks), or whatever health reports. */
  health?: string;
  activeConns?: number;
  inactiveConns?: number;
  /** Connections since start. */
  conns?: number;
  cps?: number;
  inPps?: number;
  outPps?: number;
  inBps?: number;
  outBps?: number;
}

export interface ServiceStats {
  /** "TCP  198.18.100.1:80", as ipvsadm -L names it. */
  service: string;
  scheduler?: string;
  conns?: number;
  cps?: number;
  inPps?: number;
  outPps?: number;
  inBps?: number;
  outBps?: number;
  reals: RealServerStats[];
}

export interface StatsSnapshot {
  services: ServiceStats[];
}

export type StatsSource = () => StatsSnapshot | Promise<StatsSnapshot>;

export interface WsConsoleOptions {
  interpreter: Interpreter;
  /** Address to listen on (an IP, a name, or "0.0.0.0"/"::" for all). */
  host: string;
  /** Port; 0 picks a free one (see WsConsole.port). */
  port: number;
  /** The token itself; otherwise tokenFile is read, or made at first start. */
  token?: string;
  /** Token file (default /var/lib/weir/ws-token), mode 0600. */
  tokenFile?: string;
  /** PEM files; both given: HTTPS/WSS. */
  tls?: { certFile: string; keyFile: string };
  /** Browser origins allowed besides the server's own (see origin.ts). */
  allowedOrigins?: string[];
  /** Where the stats pushes come from; no source, no stats. */
  statsSource?: StatsSource;
  /** Stats push period, ms (default 1000). */
  statsIntervalMs?: number;
  /** Time to send the auth message, ms (default 3000). */
  authTimeoutMs?: number;
  /** Largest message, bytes (default 64 KiB). */
  maxPayload?: number;
  /** Authenticated sessions at most (default 64); more get HTTP 503 (or close 1013 after an auth message). */
  maxConnections?: number;
  /** Sockets waiting for their auth message, at most (default 16); a new one evicts an older one. */
  maxPreLogin?: number;
  /** Of those, from one source (IPv4 address, IPv6 /64), at most (default 4). */
  maxPreLoginPerAddress?: number;
  /** Ping period for finding dead peers, ms (default 30 000). */
  heartbeatMs?: number;
  throttle?: ThrottleOptions;
  /** Overrides for the page files (tests). */
  webDir?: string;
  /** Accept file uploads (an update bundle) into this directory. */
  uploads?: UploadOptions;
  xtermDir?: string;
  log?: Logger;
  /** Called with the HTTP(S) server before it listens (the appliance restricts which connections it keeps). */
  onServer?: (server: net.Server) => void;
}

export interface WsConsole {
  readonly host: string;
  readonly port: number;
  readonly secure: boolean;
  readonly token: string;
  /** The page: http(s)://HOST:PORT/ */
  readonly url: string;
  /** The socket: ws(s)://HOST:PORT/ws */
  readonly wsUrl: string;
  close(): Promise<void>;
}

/**
 * Parses "HOST:PORT", "[v6]:PORT" (the --ws and --metrics arguments), cut
 * as keys.ts cuts host:port. The port is required; HOST may be a name (the
 * listener resolves it), and empty it is 0.0.0.0.
 */
export function parseListenAddress(s: string): { host: string; port: number } {
  const hp = splitHostPort(s);
  const port = intIn(hp?.port, 0, 65535);
  if (!hp || port === null || (s.startsWith("[") ? hp.host === "" : /[[\]]/.test(hp.host))) {
    throw new WeirError("WEIR_ERR_ADDRESS", `'${s}' is not HOST:PORT (e.g. 0.0.0.0:8443 or [::]:8443)`);
  }
  return { host: hp.host === "" ? "0.0.0.0" : hp.host, port };
}

function hostForUrl(host: string): string {
  return net.isIPv6(host) ? `[${host}]` : host;
}

function remoteAddress(sock: { remoteAddress?: string }): string {
  const a = sock.remoteAddress ?? "unknown";
  return a.startsWith("::ffff:") && net.isIPv4(a.slice(7)) ? a.slice(7) : a;
}

function refuse(socket: Duplex, status: number, extra: Record<string, string> = {}): void {
  if (!socket.writable) {
    socket.destroy();
    return;
  }
  const lines = [`HTTP/1.1 ${status} ${http.STATUS_CODES[status] ?? ""}`, "Connection: close", "Content-Length: 0"];
  for (const [k, v] of Object.entries(extra)) lines.push(`${k}: ${v}`);
  socket.end(lines.join("\r\n") + "\r\n\r\n");
  setTimeout(() => socket.destroy(), 1000).unref();
}

interface Client {
  ws: WebSocket;
  addr: string;
  /** Its source for the pre-login caps (sourceKey). */
  key: string;
  /** Arrival order, for evicting the oldest. */
  seq: number;
  authed: boolean;
  /** Waiting for its auth message, in the pre-login pool. */
  preLogin: boolean;
  subscribed: boolean;
  alive: boolean;
  chain: Promise<void>;
  authTimer?: NodeJS.Timeout;
  /** This session's upload, in progress or finished (removed at close, or by the next upload). */
  upload?: Upload;
}

/** What a line's id may be: a JSON scalar, echoed in its reply (a nested one could be too deep to write back). */
function scalar(v: unknown): boolean {
  return v === undefined || v === null || typeof v === "string" || typeof v === "number" || typeof v === "boolean";
}

export async function startWsConsole(opts: WsConsoleOptions): Promise<WsConsole> {
  const log = opts.log ?? logger("console.ws");
  if (!Number.isInteger(opts.port) || opts.port < 0 || opts.port > 65535) {
    throw new WeirError("WEIR_ERR_ADDRESS", `WebSocket console port ${opts.port} is not 0-65535`);
  }
  const token = opts.token !== undefined ? validateToken(opts.token) : loadOrCreateToken(opts.tokenFile);
  const secure = opts.tls !== undefined;
  const statsIntervalMs = opts.statsIntervalMs ?? 1000;
  const authTimeoutMs = opts.authTimeoutMs ?? 3000;
  const maxConnections = opts.maxConnections ?? 64;
  const maxPreLogin = opts.maxPreLogin ?? 16;
  const maxPreLoginPerAddress = opts.maxPreLoginPerAddress ?? 4;
  const uploads = opts.uploads ? new UploadStore(opts.uploads) : undefined;
  const heartbeatMs = opts.heartbeatMs ?? 30_000;
  const throttle = new FailureThrottle(opts.throttle);
  const interpreter = opts.interpreter;
  const policy = { secure, listenHost: opts.host, allowedOrigins: opts.allowedOrigins };

  const onRequest = staticHandler({ webDir: opts.webDir, xtermDir: opts.xtermDir, secure, log });
  const server: http.Server = secure
    ? https.createServer({ cert: fs.readFileSync(opts.tls!.certFile), key: fs.readFileSync(opts.tls!.keyFile) }, onRequest)
    : http.createServer(onRequest);
  server.headersTimeout = 10_000;
  server.requestTimeout = 30_000;
  opts.onServer?.(server);

  const wss = new WebSocketServer({ noServer: true, maxPayload: opts.maxPayload ?? MAX_WS_PAYLOAD });
  const clients = new Set<Client>();
  /** The pre-login pool by source, oldest first. */
  const preLogin = new Map<string, Client[]>();
  let preLoginCount = 0;
  let seq = 0;
  const sessions = () => [...clients].filter((c) => c.authed).length;

  // --- stats pushes: one statsSource() call per tick, shared by all subscribers.
  let statsTimer: NodeJS.Timeout | undefined;
  let statsBusy = false;
  const subscribers = () => [...clients].filter((c) => c.authed && c.subscribed);
  function updateStatsTimer(): void {
    const want = opts.statsSource !== undefined && subscribers().length > 0;
    if (want && !statsTimer) {
      statsTimer = setInterval(pushStats, statsIntervalMs);
      pushStats();
    } else if (!want && statsTimer) {
      clearInterval(statsTimer);
      statsTimer = undefined;
    }
  }
  async function pushStats(): Promise<void> {
    if (statsBusy || !opts.statsSource) return;
    statsBusy = true;
    try {
      const snap = await opts.statsSource();
      const msg = JSON.stringify({ type: "stats", time: Date.now(), services: snap.services });
      for (const c of subscribers()) {
        // A client that cannot keep up misses pushes rather than piling them up here.
        if (c.ws.readyState === c.ws.OPEN && c.ws.bufferedAmount < 1024 * 1024) c.ws.send(msg);
      }
    } catch (e) {
      log.warn({ err: e }, "stats source failed");
    } finally {
      statsBusy = false;
    }
  }

  // --- heartbeat: terminate peers that stop answering pings.
  const heartbeat = setInterval(() => {
    for (const c of clients) {
      if (!c.alive) {
        c.ws.terminate();
        continue;
      }
      c.alive = false;
      c.ws.ping();
    }
  }, heartbeatMs);
  heartbeat.unref();

  server.on("upgrade", (req: http.IncomingMessage, socket: Duplex, head: Buffer) => {
    socket.on("error", () => socket.destroy());
    try {
      onUpgrade(req, socket, head);
    } catch (e) {
      log.error({ err: e, url: req.url }, "WebSocket console: upgrade failed");
      refuse(socket, 500);
    }
  });

  function onUpgrade(req: http.IncomingMessage, socket: Duplex, head: Buffer): void {
    const addr = remoteAddress(req.socket);
    const url = requestUrl(req.url);
    if (url === undefined) return refuse(socket, 400);
    if (url.pathname !== WS_PATH) return refuse(socket, 404);
    if (!originAllowed(req.headers.origin, req.headers.host, policy)) {
      log.warn({ addr, origin: req.headers.origin }, "WebSocket console: origin refused");
      return refuse(socket, 403);
    }
    const wait = throttle.blockedFor(addr);
    if (wait > 0) {
      log.warn({ addr }, "WebSocket console: address locked out after failed logins");
      return refuse(socket, 429, { "Retry-After": String(Math.ceil(wait / 1000)) });
    }
    const auth = req.headers.authorization;
    let given: string | undefined;
    if (auth !== undefined) given = /^Bearer +(\S+) *$/i.exec(auth)?.[1] ?? "";
    else if (url.searchParams.has("token")) given = url.searchParams.get("token") ?? "";
    if (given !== undefined) {
      if (!tokenMatches(given, token)) {
        const locked = throttle.fail(addr);
        log.warn({ addr, alarm: throttle.alarmed }, "WebSocket console: wrong token");
        return locked > 0 ? refuse(socket, 429, { "Retry-After": String(Math.ceil(locked / 1000)) }) : refuse(socket, 401);
      }
      if (sessions() >= maxConnections) return refuse(socket, 503);
      throttle.succeed(addr);
    }
    wss.handleUpgrade(req, socket, head, (ws) => {
      try {
        onConnection(ws, addr, given !== undefined);
      } catch (e) {
        log.error({ err: e, addr }, "WebSocket console: connection setup failed");
        ws.terminate();
      }
    });
  }

  /** Closes a socket that is not a session; one that does not answer the close is cut a second later. */
  function closeUnauthenticated(c: Client, code: number, reason: string): void {
    leavePreLogin(c);
    c.ws.close(code, reason);
    setTimeout(() => c.ws.terminate(), 1000).unref();
  }

  /** Takes c into the pre-login pool, evicting an older socket if there is no room (see the opening comment). */
  function admitPreLogin(c: Client): void {
    let victim: Client | undefined;
    const own = preLogin.get(c.key);
    if (own && own.length >= maxPreLoginPerAddress) {
      victim = own[0];
    } else if (preLoginCount >= maxPreLogin) {
      // The oldest socket of the source holding the most (ties: the oldest of them).
      let worst: Client[] = [];
      for (const list of preLogin.values()) {
        if (list.length > worst.length || (list.length === worst.length && list[0].seq < worst[0].seq)) worst = list;
      }
      victim = worst[0];
    }
    if (victim) {
      log.debug({ addr: victim.addr }, "WebSocket console: pre-login slots full; closing the oldest unauthenticated socket");
      closeUnauthenticated(victim, 1013, "too many unauthenticated connections");
    }
    preLogin.set(c.key, [...(preLogin.get(c.key) ?? []), c]);
    preLoginCount++;
    c.preLogin = true;
    c.authTimer = setTimeout(() => closeUnauthenticated(c, 1008, "authentication timeout"), authTimeoutMs);
  }

  function leavePreLogin(c: Client): void {
    clearTimeout(c.authTimer);
    if (!c.preLogin) return;
    c.preLogin = false;
    preLoginCount--;
    const rest = (preLogin.get(c.key) ?? []).filter((x) => x !== c);
    if (rest.length > 0) preLogin.set(c.key, rest);
    else preLogin.delete(c.key);
  }

  function send(c: Client, msg: object): void {
    if (c.ws.readyState !== c.ws.OPEN) return;
    let text: string;
    try {
      text = JSON.stringify(msg);
    } catch (e) {
      log.error({ err: e }, "WebSocket console: reply not serialisable");
      text = JSON.stringify({ type: "error", text: "error: internal error (see the appliance log)" });
    }
    c.ws.send(text);
  }

  function authenticated(c: Client): void {
    leavePreLogin(c);
    c.authed = true;
    log.info({ addr: c.addr }, "WebSocket console: session opened");
    send(c, { type: "auth", ok: true, commands: interpreter.commands() });
  }

  function onConnection(ws: WebSocket, addr: string, authed: boolean): void {
    const c: Client = { ws, addr, key: sourceKey(addr), seq: seq++, authed: false, preLogin: false, subscribed: false, alive: true, chain: Promise.resolve() };
    clients.add(c);
    ws.on("pong", () => { c.alive = true; });
    ws.on("error", (e) => log.debug({ addr, err: e.message }, "WebSocket console: socket error"));
    ws.on("close", () => {
      leavePreLogin(c);
      clients.delete(c);
      c.upload?.remove();
      updateStatsTimer();
    });
    if (authed) authenticated(c);
    else admitPreLogin(c);
    ws.on("message", (data: RawData, isBinary: boolean) => {
      try {
        onMessage(c, data, isBinary);
      } catch (e) {
        log.error({ err: e, addr }, "WebSocket console: message handler failed");
        c.ws.close(1011, "internal error");
      }
    });
  }

  function onMessage(c: Client, data: RawData, isBinary: boolean): void {
    if (c.ws.readyState !== c.ws.OPEN || (!c.authed && !c.preLogin)) return; // closing (evicted, timed out)
    if (isBinary) {
      const u = c.upload;
      if (!c.authed || !u || u.complete) {
        c.ws.close(1003, "text messages only");
        return;
      }
      try {
        u.write(Buffer.isBuffer(data) ? data : Buffer.concat(data as Buffer[]));
      } catch (e) {
        c.upload = undefined;
        send(c, { type: "upload", ok: false, text: `error: ${(e as Error).message}` });
        return;
      }
      if (u.complete) send(c, { type: "upload", ok: true, path: u.path, bytes: u.size });
      return;
    }
    let msg: Record<string, unknown> | undefined;
    try {
      const v: unknown = JSON.parse(data.toString());
      if (typeof v === "object" && v !== null && !Array.isArray(v)) msg = v as Record<string, unknown>;
    } catch {
      msg = undefined;
    }
    if (!c.authed) {
      if (msg?.type !== "auth" || typeof msg.token !== "string") {
        closeUnauthenticated(c, 1008, "authentication required");
        return;
      }
      if (throttle.blockedFor(c.addr) > 0) {
        closeUnauthenticated(c, 1008, "too many failed attempts");
        return;
      }
      if (!tokenMatches(msg.token, token)) {
        const locked = throttle.fail(c.addr);
        log.warn({ addr: c.addr, alarm: throttle.alarmed }, "WebSocket console: wrong token");
        closeUnauthenticated(c, 1008, locked > 0 ? "too many failed attempts" : "invalid token");
        return;
      }
      if (sessions() >= maxConnections) {
        closeUnauthenticated(c, 1013, "too many sessions");
        return;
      }
      throttle.succeed(c.addr);
      authenticated(c);
      return;
    }
    if (msg === undefined) {
      send(c, { type: "error", text: "error: message is not a JSON object" });
      return;
    }
    switch (msg.type) {
      case "line": {
        const { line, input, id } = msg;
        if (!scalar(id)) {
          send(c, { type: "error", text: 'error: a line\'s "id" must be a string, a number, true, false or null' });
          return;
        }
        if (typeof line !== "string" || (input !== undefined && typeof input !== "string")) {
          send(c, { type: "reply", id, ok: false, text: 'error: a line message needs a string "line" (and a string "input" if any)' });
          return;
        }
        c.chain = c.chain.then(async () => {
          if (isExit(line)) {
            send(c, { type: "reply", id, ok: true, text: "" });
            c.ws.close(1000, "exit");
            return;
          }
          const r = await executeLine(interpreter, line, { source: "ws", input: input as string | undefined }, log);
          send(c, { type: "reply", id, ok: r.ok, text: r.text });
        }).catch((e) => {
          log.error({ err: e, addr: c.addr }, "WebSocket console: line handling failed");
          c.ws.close(1011, "internal error");
        });
        return;
      }
      case "upload":
        if (!uploads) {
          send(c, { type: "upload", ok: false, text: "error: this console does not take uploads" });
          return;
        }
        try {
          c.upload?.remove(); // one upload per session: the previous file goes (and its bytes back to the quota)
          c.upload = uploads.open(msg.size);
          send(c, { type: "upload", ready: true });
        } catch (e) {
          c.upload = undefined;
          send(c, { type: "upload", ok: false, text: `error: ${(e as Error).message}` });
        }
        return;
      case "subscribe":
        c.subscribed = msg.stats !== false;
        updateStatsTimer();
        return;
      case "auth":
        send(c, { type: "auth", ok: true, commands: interpreter.commands() });
        return;
      default:
        send(c, { type: "error", text: `error: unknown message type ${typeof msg.type === "string" ? JSON.stringify(msg.type) : "(not a string)"}` });
    }
  }

  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(opts.port, opts.host, () => {
      server.off("error", reject);
      resolve();
    });
  });
  const port = (server.address() as net.AddressInfo).port;
  const base = `${hostForUrl(opts.host)}:${port}`;
  const url = `${secure ? "https" : "http"}://${base}/`;
  const wsUrl = `${secure ? "wss" : "ws"}://${base}${WS_PATH}`;
  log.info({ url }, "WebSocket console listening");

  let closing: Promise<void> | undefined;
  return {
    host: opts.host,
    port,
    secure,
    token,
    url,
    wsUrl,
    close(): Promise<void> {
      closing ??= new Promise<void>((resolve) => {
        clearInterval(heartbeat);
        if (statsTimer) clearInterval(statsTimer);
        statsTimer = undefined;
        for (const c of clients) {
          clearTimeout(c.authTimer);
          c.ws.terminate();
        }
        clients.clear();
        wss.close();
        server.close(() => resolve());
        server.closeAllConnections();
      });
      return closing;
    },
  };
}
