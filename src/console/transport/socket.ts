// The control socket: a unix stream socket (default /run/weir/ctl.sock, mode
// 0600, so only root talks to it) carrying the JSON-lines framing of
// framing.ts. `weir ctl` is its client.
//
// At start a socket file left behind by a dead server is removed; if a live
// server answers on the path, start fails with WEIR_ERR_CTL_IN_USE, and a path
// that exists but is not a socket is never removed (WEIR_ERR_CTL_PATH).
//
// The socket is bound under umask 0177 so it is born 0600 (node's net module
// binds synchronously inside listen()), then chmod'ed 0600 again in case the
// umask could not be set (worker threads cannot); connections that arrive
// before that chmod are dropped, so none is ever served from a wider mode.
//
// Limits (each enforced here, or in framing.ts's LineSplitter):
//   - a request frame is at most maxRequestBytes (MAX_REQUEST_BYTES, 64 MiB:
//     a whole large `ipvsadm -R` is one request); a longer one gets an error
//     reply and the connection is closed;
//   - at most maxConnections (32) connections at once; one more gets an
//     error reply and is closed;
//   - a connection idle for idleTimeoutMs (10 minutes: nothing arriving and
//     no request running) is closed, so forgotten clients do not keep their
//     slots; a long request is never cut.
// Bad input (not JSON, wrong types, bytes that are not UTF-8) gets an error
// reply and the connection goes on; nothing a client sends can make an
// exception escape (a failure inside a request's handling closes that
// connection and is logged).

import net from "node:net";
import fs from "node:fs";
import path from "node:path";
import { WeirError } from "../../errors.js";
import { logger, type Logger } from "../../log.js";
import type { Interpreter } from "../types.js";
import { decodeRequest, encodeReply, LineSplitter, MAX_REQUEST_BYTES } from "./framing.js";
import { executeLine, isExit } from "./execute.js";

import { DEFAULT_CTL_PATH } from "./defaults.js";

export { DEFAULT_CTL_PATH };

export interface CtlServerOptions {
  /** Socket path (default DEFAULT_CTL_PATH). Its directory is created (0755) if missing. */
  path?: string;
  interpreter: Interpreter;
  /** Largest request frame in bytes (default MAX_REQUEST_BYTES, 64 MiB). */
  maxRequestBytes?: number;
  /** Connections at once, at most (default 32); one more gets an error reply and is closed. */
  maxConnections?: number;
  /** Close a connection idle this long (nothing arriving, no request running), ms (default 10 minutes). */
  idleTimeoutMs?: number;
  log?: Logger;
}

export interface CtlServer {
  readonly path: string;
  /** Stops listening, ends every connection and removes the socket file. */
  close(): Promise<void>;
}

/** Resolves true when something accepts a connection on path. */
function answers(p: string): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.connect(p);
    s.once("connect", () => { s.destroy(); resolve(true); });
    s.once("error", () => resolve(false));
  });
}

async function clearStale(p: string): Promise<void> {
  let st: fs.Stats;
  try {
    st = fs.lstatSync(p);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === "ENOENT") return;
    throw e;
  }
  if (!st.isSocket()) {
    throw new WeirError("WEIR_ERR_CTL_PATH", `control socket path ${p} exists and is not a socket; not removing it`);
  }
  if (await answers(p)) {
    throw new WeirError("WEIR_ERR_CTL_IN_USE", `another server is answering on control socket ${p} (is weir already running?)`);
  }
  fs.unlinkSync(p);
}

function listenPrivate(server: net.Server, p: string): Promise<void> {
  return new Promise((resolve, reject) => {
    let old: number | undefined;
    try {
      old = process.umask(0o177);
    } catch {
      old = undefined; // worker thread: rely on the chmod below
    }
    const onError = (e: Error) => reject(e);
    server.once("error", onError);
    try {
      server.listen(p, () => {
        server.off("error", onError);
        resolve();
      });
    } finally {
      if (old !== undefined) process.umask(old);
    }
  });
}

export async function startCtlServer(opts: CtlServerOptions): Promise<CtlServer> {
  const socketPath = path.resolve(opts.path ?? DEFAULT_CTL_PATH);
  const limit = opts.maxRequestBytes ?? MAX_REQUEST_BYTES;
  const maxConnections = opts.maxConnections ?? 32;
  const idleTimeoutMs = opts.idleTimeoutMs ?? 10 * 60_000;
  const log = opts.log ?? logger("console.socket");
  const interpreter = opts.interpreter;

  fs.mkdirSync(path.dirname(socketPath), { recursive: true, mode: 0o755 });
  await clearStale(socketPath);

  const conns = new Set<net.Socket>();
  let ready = false;

  // allowHalfOpen: a client may end its side after its last request and
  // still read the replies still being computed.
  const server = net.createServer({ allowHalfOpen: true }, (sock) => {
    if (!ready) {
      sock.destroy();
      return;
    }
    sock.on("error", (e) => log.debug({ err: e }, "control connection error"));
    if (conns.size >= maxConnections) {
      log.warn({ maxConnections }, "control socket: too many connections; one refused");
      sock.end(encodeReply({ ok: false, text: `error: too many control connections (at most ${maxConnections})` }));
      setTimeout(() => sock.destroy(), 2000).unref();
      return;
    }
    conns.add(sock);
    sock.on("close", () => conns.delete(sock));
    serve(sock);
  });

  function serve(sock: net.Socket): void {
    const splitter = new LineSplitter(limit);
    // Requests run one after another so replies come back in order.
    let chain: Promise<void> = Promise.resolve();
    let ending = false;
    let running = 0;
    let idle: NodeJS.Timeout | undefined;
    const rearm = () => {
      clearTimeout(idle);
      idle = running > 0 || sock.destroyed ? undefined : setTimeout(() => {
        log.debug("control connection idle: closed");
        sock.destroy();
      }, idleTimeoutMs);
    };
    sock.on("close", () => clearTimeout(idle));
    rearm();
    /** Queues a step; a step that throws (a bug) ends this connection, never the process. */
    const then = (step: () => void | Promise<void>) => {
      chain = chain.then(step).catch((e) => {
        log.error({ err: e }, "control request failed");
        sock.destroy();
      });
    };
    sock.on("data", (chunk: Buffer) => {
      rearm();
      if (ending) return;
      const frames = splitter.push(chunk);
      if (frames === "overflow") {
        ending = true;
        then(() => {
          sock.end(encodeReply({ ok: false, text: `error: request larger than ${limit} bytes` }));
          // Whatever the client still sends is discarded; give it a moment to read.
          setTimeout(() => sock.destroy(), 2000).unref();
        });
        return;
      }
      for (const frame of frames) {
        if (frame.trim() === "") continue;
        running++;
        rearm();
        then(async () => {
          try {
            await handle(frame);
          } finally {
            running--;
            rearm();
          }
        });
      }
    });
    sock.on("end", () => {
      // The client half-closed: answer what is queued, then close our side.
      then(() => { if (!sock.destroyed) sock.end(); });
    });

    async function handle(frame: string): Promise<void> {
      if (ending || sock.destroyed) return;
      const req = decodeRequest(frame);
      if (typeof req === "string") {
        sock.write(encodeReply({ ok: false, text: `error: ${req}` }));
        return;
      }
      if (isExit(req.line)) {
        ending = true;
        sock.end(encodeReply({ ok: true, text: "" }));
        return;
      }
      const reply = await executeLine(interpreter, req.line, { source: "socket", input: req.input }, log);
      if (!sock.destroyed) sock.write(encodeReply(reply));
    }
  }

  await listenPrivate(server, socketPath);
  try {
    fs.chmodSync(socketPath, 0o600);
  } catch (e) {
    server.close();
    throw e;
  }
  const ino = fs.statSync(socketPath).ino;
  ready = true;
  log.info({ path: socketPath }, "control socket listening");

  let closed: Promise<void> | undefined;
  return {
    path: socketPath,
    close(): Promise<void> {
      closed ??= new Promise<void>((resolve) => {
        server.close(() => resolve());
        for (const c of conns) c.destroy();
      }).then(() => {
        // Remove the file only if it is still ours (node unlinks it on close too).
        try {
          if (fs.lstatSync(socketPath).ino === ino) fs.unlinkSync(socketPath);
        } catch {
          /* already gone */
        }
      });
      return closed;
    },
  };
}
