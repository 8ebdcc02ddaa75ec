// The control socket's framing, shared by the server (socket.ts) and the
// `weir ctl` client (ctl.ts): one JSON object per line, both ways.
//
//   request   {"line": "ipvsadm -R", "input": "-A -t 10.0.0.1:80 -s rr\n…"}\n
//   reply     {"ok": true, "text": "line one\nline two"}\n
//
// JSON keeps multi-line reply text and attached input (what `ipvsadm -R`
// reads) inside one frame, since JSON.stringify escapes every newline.
// Requests on one connection are answered in order. A request longer than
// MAX_REQUEST_BYTES gets an error reply and the connection is closed, as the
// rest of that frame can no longer be told from the next one.

import type { Reply } from "../types.js";

/**
 * Largest request frame (JSON text, without its newline) the server accepts:
 * room for a whole `ipvsadm -R` of a large table (10 k services x 10 real
 * servers is about 6 MB), which must arrive as one transaction.
 */
export const MAX_REQUEST_BYTES = 64 * 1024 * 1024;

export interface CtlRequest {
  line: string;
  /** Stream attached to the line (stdin of `weir ctl -- ipvsadm -R`). */
  input?: string;
}

export function encodeRequest(req: CtlRequest): string {
  const o: CtlRequest = { line: req.line };
  if (req.input !== undefined) o.input = req.input;
  return JSON.stringify(o) + "\n";
}

export function encodeReply(r: Reply): string {
  return JSON.stringify({ ok: r.ok, text: r.text }) + "\n";
}

/** Parses one request frame; a string is the error message for a bad one. */
export function decodeRequest(frame: string): CtlRequest | string {
  let v: unknown;
  try {
    v = JSON.parse(frame);
  } catch {
    return "request is not valid JSON";
  }
  if (typeof v !== "object" || v === null || Array.isArray(v)) return "request is not a JSON object";
  const o = v as Record<string, unknown>;
  if (typeof o.line !== "string") return 'request has no string "line"';
  if (o.input !== undefined && typeof o.input !== "string") return 'request "input" is not a string';
  return o.input === undefined ? { line: o.line } : { line: o.line, input: o.input };
}

/** Parses one reply frame; undefined for a malformed one. */
export function decodeReply(frame: string): Reply | undefined {
  try {
    const o = JSON.parse(frame) as Record<string, unknown>;
    if (typeof o !== "object" || o === null || typeof o.ok !== "boolean" || typeof o.text !== "string") return undefined;
    return { ok: o.ok, text: o.text };
  } catch {
    return undefined;
  }
}

/**
 * Splits a byte stream into newline-terminated frames. push() returns the
 * complete frames so far; a partial frame that grows past limit bytes makes
 * push() return "overflow" (the caller gives up on the stream).
 */
export class LineSplitter {
  private parts: Buffer[] = [];
  private size = 0;
  constructor(private readonly limit: number) {}

  push(chunk: Buffer): string[] | "overflow" {
    const frames: string[] = [];
    let start = 0;
    for (;;) {
      const nl = chunk.indexOf(0x0a, start);
      if (nl < 0) break;
      const piece = chunk.subarray(start, nl);
      if (this.size + piece.length > this.limit) return "overflow";
      this.parts.push(piece);
      frames.push(Buffer.concat(this.parts).toString("utf8"));
      this.parts = [];
      this.size = 0;
      start = nl + 1;
    }
    const rest = chunk.subarray(start);
    if (rest.length > 0) {
      if (this.size + rest.length > this.limit) return "overflow";
      this.parts.push(Buffer.from(rest));
      this.size += rest.length;
    }
    return frames;
  }
}
