// The browser console's files, served by the WebSocket console's HTTP(S)
// server. Only a fixed list of files is served, read once at start, so no
// request path ever reaches the file system (no traversal, no listing):
//   /             src/console/web/index.html
//   /console.js   src/console/web/console.js
//   /console.css  src/console/web/console.css
//   /assets/xterm.js, /assets/xterm.css   from the @xterm/xterm package
// A request target is read as origin-form ("//x" is a path, not a host) or
// absolute-form (requestUrl); one that is no URL gets 400, and a handler
// that throws answers 500 rather than letting the exception out.
// Every response carries a strict Content-Security-Policy: scripts only from
// this server (no inline script, no eval), no frames, no forms, no plugins.
// style-src allows 'unsafe-inline' because xterm.js's DOM renderer writes
// its colours and cell sizes into <style> elements it creates; scripts stay
// strictly 'self'.

import fs from "node:fs";
import path from "node:path";
import type http from "node:http";
import { createRequire } from "node:module";
import { fileURLToPath } from "node:url";
import type { Logger } from "../../log.js";

const here = path.dirname(fileURLToPath(import.meta.url));

/** src/console/web, found from src/ (tests) and from dist/ (the built CLI) alike. */
export function defaultWebDir(): string {
  const candidates = [path.resolve(here, "../web"), path.resolve(here, "../../../src/console/web")];
  return candidates.find((d) => fs.existsSync(path.join(d, "index.html"))) ?? candidates[0];
}

/** The @xterm/xterm package directory, or undefined when it is not installed. */
export function xtermDir(): string | undefined {
  try {
    return path.dirname(createRequire(import.meta.url).resolve("@xterm/xterm/package.json"));
  } catch {
    return undefined;
  }
}

interface StaticFile {
  body: Buffer;
  type: string;
  cache: string;
}

const HOST_RE = /^[A-Za-z0-9.\-]+(:\d{1,5})?$|^\[[0-9A-Fa-f:.]+\](:\d{1,5})?$/;

/** The CSP for a response; the WebSocket endpoint is named explicitly for browsers whose 'self' does not cover ws:/wss:. */
export function contentSecurityPolicy(hostHeader: string | undefined, secure: boolean): string {
  const ws = hostHeader && HOST_RE.test(hostHeader) ? ` ${secure ? "wss" : "ws"}://${hostHeader}` : "";
  return [
    "default-src 'none'",
    "script-src 'self'",
    "style-src 'self' 'unsafe-inline'",
    `connect-src 'self'${ws}`,
    "img-src 'self' data:",
    "font-src 'self'",
    "base-uri 'none'",
    "form-action 'none'",
    "frame-ancestors 'none'",
  ].join("; ");
}

/**
 * A request target as a URL: origin-form ("/p?q"; "//x" is the path "//x",
 * not a host) or absolute-form ("http://h/p"). Anything else, or a target
 * that is no URL ("http://[::1"), is undefined.
 */
export function requestUrl(target = "/"): URL | undefined {
  try {
    if (target.startsWith("/")) return new URL(`http://h${target}`);
    const u = new URL(target);
    return u.protocol === "http:" || u.protocol === "https:" ? u : undefined;
  } catch {
    return undefined;
  }
}

export const requestPath = (target?: string): string | undefined => requestUrl(target)?.pathname;

export interface StaticOptions {
  webDir?: string;
  /** Directory of @xterm/xterm (default: resolved from node_modules). */
  xtermDir?: string;
  secure: boolean;
  log: Logger;
}

export function staticHandler(o: StaticOptions): (req: http.IncomingMessage, res: http.ServerResponse) => void {
  const web = o.webDir ?? defaultWebDir();
  const xterm = o.xtermDir ?? xtermDir();
  const files = new Map<string, StaticFile>();
  const add = (route: string, file: string, type: string, cache: string) => {
    try {
      files.set(route, { body: fs.readFileSync(file), type, cache });
    } catch (e) {
      o.log.warn({ file, err: (e as Error).message }, "console page file missing; not served");
    }
  };
  add("/", path.join(web, "index.html"), "text/html; charset=utf-8", "no-store");
  add("/console.js", path.join(web, "console.js"), "text/javascript; charset=utf-8", "no-cache");
  add("/console.css", path.join(web, "console.css"), "text/css; charset=utf-8", "no-cache");
  if (xterm) {
    add("/assets/xterm.js", path.join(xterm, "lib", "xterm.js"), "text/javascript; charset=utf-8", "max-age=3600");
    add("/assets/xterm.css", path.join(xterm, "css", "xterm.css"), "text/css; charset=utf-8", "max-age=3600");
  } else {
    o.log.warn("@xterm/xterm is not installed; the browser console has no terminal");
  }

  const serve = (req: http.IncomingMessage, res: http.ServerResponse): void => {
    const headers: Record<string, string> = {
      "Content-Security-Policy": contentSecurityPolicy(req.headers.host, o.secure),
      "X-Content-Type-Options": "nosniff",
      "X-Frame-Options": "DENY",
      "Referrer-Policy": "no-referrer",
      "Cross-Origin-Opener-Policy": "same-origin",
      "Cross-Origin-Resource-Policy": "same-origin",
    };
    const text = (status: number, body: string, extra: Record<string, string> = {}) => {
      res.writeHead(status, { ...headers, "Content-Type": "text/plain; charset=utf-8", "Cache-Control": "no-store", ...extra });
      res.end(body);
    };
    if (req.method !== "GET" && req.method !== "HEAD") return text(405, "method not allowed\n", { Allow: "GET, HEAD" });
    const pathname = requestPath(req.url);
    if (pathname === undefined) return text(400, "bad request\n");
    const f = files.get(pathname);
    if (!f) return text(404, "not found\n");
    res.writeHead(200, { ...headers, "Content-Type": f.type, "Content-Length": String(f.body.length), "Cache-Control": f.cache });
    res.end(req.method === "HEAD" ? undefined : f.body);
  };
  return (req, res) => {
    try {
      serve(req, res);
    } catch (e) {
      o.log.error({ err: e, url: req.url }, "console page request failed");
      if (!res.headersSent) {
        res.writeHead(500, { "Content-Type": "text/plain; charset=utf-8" });
        res.end("internal error\n");
      } else {
        res.destroy();
      }
    }
  };
}
