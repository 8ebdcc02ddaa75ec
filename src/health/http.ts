// HTTP_GET: GET a path on the real server; up when the status matches and,
// when a digest is given, the MD5 of the body matches too (keepalived's
// `digest`, as genhash prints it). One connection per run (no agent, no
// keep-alive), destroyed on every path.

import http from "node:http";
import { createHash } from "node:crypto";
import { runWithDeadline, errorText, type RunOptions } from "./deadline.js";
import type { CheckResult } from "./types.js";
import { hostPort } from "../keys.js";

/** Bodies longer than this fail a digest check rather than filling memory. */
export const MAX_DIGEST_BODY = 1 << 20;

export interface HttpCheckOptions extends RunOptions {
  host: string;
  port: number;
  bind?: string;
  path: string;
  /** Expected status code. */
  status: number;
  /** Expected MD5 of the body, hex (any case). */
  digest?: string;
  /** Host header; default "host:port". */
  hostHeader?: string;
}

export function checkHttp(opts: HttpCheckOptions): Promise<CheckResult> {
  return runWithDeadline(opts, (finish) => {
    const defaultHost = hostPort(opts.host, opts.port);
    const req = http.request({
      host: opts.host,
      port: opts.port,
      localAddress: opts.bind,
      method: "GET",
      path: opts.path,
      agent: false,
      headers: { Host: opts.hostHeader ?? defaultHost, "User-Agent": "weir-health", Connection: "close" },
    });
    req.on("error", (e) => finish({ ok: false, error: errorText(e) }));
    req.on("response", (res) => {
      res.on("error", (e) => finish({ ok: false, error: errorText(e) }));
      if (res.statusCode !== opts.status) {
        finish({ ok: false, error: `HTTP status ${res.statusCode}, expected ${opts.status}` });
        return;
      }
      if (!opts.digest) { finish({ ok: true }); return; }
      const want = opts.digest.toLowerCase();
      const md5 = createHash("md5");
      let length = 0;
      res.on("data", (chunk: Buffer) => {
        length += chunk.length;
        if (length > MAX_DIGEST_BODY) finish({ ok: false, error: `body longer than ${MAX_DIGEST_BODY} bytes` });
        else md5.update(chunk);
      });
      res.on("end", () => {
        const got = md5.digest("hex");
        finish(got === want ? { ok: true } : { ok: false, error: `body digest ${got}, expected ${want}` });
      });
      res.on("aborted", () => finish({ ok: false, error: "response aborted" }));
    });
    req.end();
    return () => {
      req.removeAllListeners("response");
      req.on("error", () => {});
      req.destroy();
    };
  });
}
