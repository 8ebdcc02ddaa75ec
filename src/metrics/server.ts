// The scrape endpoint for `weir run --metrics HOST:PORT`: GET /metrics
// answers the exposition text; other paths 404, other methods 405 (HEAD is
// answered as GET without a body, as HTTP asks of a GET resource), a
// target that is no URL 400. No request can make the handler throw past its
// reply: whatever goes wrong answers 500 (or ends the connection) and is
// logged.

import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { logger, type Logger } from "../log.js";

export const CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8";

export interface MetricsServerOptions {
  log?: Logger;
  /** Called with the HTTP server before it listens (the appliance restricts which connections it keeps). */
  onServer?: (server: Server) => void;
}

export class MetricsServer {
  private readonly server: Server;
  private readonly log: Logger;

  /** render is called once per scrape; a throw answers 500 and is logged. */
  constructor(private readonly render: () => string | Promise<string>, opts: MetricsServerOptions = {}) {
    this.log = opts.log ?? logger("metrics");
    this.server = createServer((req, res) => {
      this.handle(req, res).catch((e: unknown) => {
        this.log.error({ err: e, url: req.url }, "metrics request failed");
        if (!res.headersSent) reply(res, 500, "internal error\n");
        else res.destroy();
      });
    });
    // A scraper that opens a connection and sends nothing must not hold close() up.
    this.server.requestTimeout = 10_000;
    this.server.headersTimeout = 10_000;
    opts.onServer?.(this.server);
  }

  /** Listens on host:port (port 0 picks a free one); resolves with the bound address. */
  listen(host: string, port: number): Promise<{ host: string; port: number }> {
    return new Promise((resolve, reject) => {
      const onError = (e: Error) => reject(e);
      this.server.once("error", onError);
      this.server.listen(port, host, () => {
        this.server.off("error", onError);
        this.server.on("error", (e) => this.log.error({ err: e }, "metrics server error"));
        const a = this.server.address() as AddressInfo;
        this.log.info({ host: a.address, port: a.port }, "serving metrics");
        resolve({ host: a.address, port: a.port });
      });
    });
  }

  /** Stops listening and ends open connections (keep-alive ones too). */
  close(): Promise<void> {
    return new Promise((resolve, reject) => {
      if (!this.server.listening) {
        resolve();
        return;
      }
      this.server.close((e) => (e ? reject(e) : resolve()));
      this.server.closeAllConnections();
    });
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const path = pathOf(req.url);
    if (path === undefined) return reply(res, 400, "bad request\n");
    if (path !== "/metrics") return reply(res, 404, "not found\n");
    if (req.method !== "GET" && req.method !== "HEAD") {
      res.setHeader("Allow", "GET, HEAD");
      return reply(res, 405, "method not allowed\n");
    }
    let body: string;
    try {
      body = await this.render();
    } catch (e) {
      this.log.error({ err: e }, "metrics scrape failed");
      return reply(res, 500, "metrics unavailable\n");
    }
    res.writeHead(200, { "Content-Type": CONTENT_TYPE, "Content-Length": Buffer.byteLength(body) });
    res.end(req.method === "HEAD" ? undefined : body);
  }
}

/**
 * The path of a request target: origin-form ("/p?q"; "//x" is a path, not a
 * host) or absolute-form ("http://h/p"). Anything else, or a target that is
 * no URL ("http://[::1"), is undefined. (The WebSocket console's page server
 * reads targets the same way: static.ts.)
 */
function pathOf(target = "/"): string | undefined {
  try {
    if (target.startsWith("/")) return new URL(`http://x${target}`).pathname;
    const u = new URL(target);
    return u.protocol === "http:" || u.protocol === "https:" ? u.pathname : undefined;
  } catch {
    return undefined;
  }
}

function reply(res: ServerResponse, status: number, text: string): void {
  res.writeHead(status, { "Content-Type": "text/plain; charset=utf-8", "Content-Length": Buffer.byteLength(text) });
  res.end(text);
}
