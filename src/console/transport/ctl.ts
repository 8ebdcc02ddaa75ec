// `weir ctl`: the control socket's client. The CLI parses its arguments,
// makes the line with ctlLine() and calls runCtl(), then exits with the code
// it returns:
//   0  every reply was ok
//   1  an error reply (its text, "error: …", goes to stderr)
//   2  the appliance could not be reached (the message says why)
//
// With a line it sends that one line; `ipvsadm -R` (or --restore) also
// carries stdin as the line's input when stdin is not a terminal, so
// `weir ctl -- ipvsadm -R < rules` works as ipvsadm does. Without a line it
// sends each line of stdin in turn (blank lines and `#` comments skipped),
// stopping at `exit`, and exits 1 if any of them failed.

import net from "node:net";
import readline from "node:readline";
import type { Reply } from "../types.js";
import { decodeReply, encodeRequest, LineSplitter, MAX_REQUEST_BYTES, type CtlRequest } from "./framing.js";
import { DEFAULT_CTL_PATH } from "./defaults.js";
import { isExit } from "./execute.js";

export const EXIT_OK = 0;
export const EXIT_ERROR_REPLY = 1;
export const EXIT_UNREACHABLE = 2;

export interface RunCtlOptions {
  /** Control socket path (default /run/weir/ctl.sock). */
  socketPath?: string;
  /** The console line (the CLI makes it from the words after `--` with ctlLine). Absent: read lines from stdin. */
  line?: string;
  stdin?: NodeJS.ReadableStream & { isTTY?: boolean };
  stdout?: NodeJS.WritableStream;
  stderr?: NodeJS.WritableStream;
}

/** Joins words back into one console line, quoting those the shell had unquoted. */
function joinWords(words: string[]): string {
  return words.map((w) => (w === "" || /[\s'"\\#]/.test(w) ? `"${w.replace(/(["\\])/g, "\\$1")}"` : w)).join(" ");
}

/**
 * The console line from the words after `--`: given word by word
 * (`-- ipvsadm -L -n`, each word quoted again as the shell unquoted it) or as
 * one argument (`-- "ipvsadm -L -n"`, as birdc and `vtysh -c` take a line,
 * and scripts holding one in a variable pass it), sent then as written. A
 * lone argument with blanks in it can only be a whole line: no word of the
 * console language stands alone with a blank inside. Undefined for no words.
 */
export function ctlLine(words: string[]): string | undefined {
  if (words.length === 0) return undefined;
  if (words.length === 1 && /\s/.test(words[0])) return words[0];
  return joinWords(words);
}

/** Raised when the socket cannot be reached or drops before replying. */
class Unreachable extends Error {}

function reason(e: NodeJS.ErrnoException): string {
  switch (e.code) {
    case "ENOENT": return "no such socket (is 'weir run' running?)";
    case "ECONNREFUSED": return "connection refused (no server is listening; is 'weir run' running?)";
    case "EACCES": case "EPERM": return "permission denied (the control socket is root's)";
    case "ENOTSOCK": return "not a socket";
    default: return e.message;
  }
}

/** One connection to the control socket; requests are answered in order. */
class CtlConnection {
  private readonly pending: { resolve: (r: Reply) => void; reject: (e: Error) => void }[] = [];
  private failure: Error | undefined;

  private constructor(private readonly sock: net.Socket) {
    const splitter = new LineSplitter(Number.MAX_SAFE_INTEGER);
    sock.on("data", (chunk: Buffer) => {
      const frames = splitter.push(chunk);
      if (frames === "overflow") return;
      for (const f of frames) {
        const r = decodeReply(f);
        const p = this.pending.shift();
        if (!p) continue;
        if (r) p.resolve(r);
        else p.reject(new Unreachable("malformed reply from the appliance"));
      }
    });
    const fail = (e: Error) => {
      this.failure ??= e;
      for (const p of this.pending.splice(0)) p.reject(this.failure);
    };
    sock.on("error", (e: NodeJS.ErrnoException) => fail(new Unreachable(reason(e))));
    sock.on("close", () => fail(new Unreachable("the appliance closed the connection")));
  }

  static open(p: string): Promise<CtlConnection> {
    return new Promise((resolve, reject) => {
      const sock = net.connect(p);
      sock.once("error", (e: NodeJS.ErrnoException) => reject(new Unreachable(reason(e))));
      sock.once("connect", () => {
        sock.removeAllListeners("error");
        resolve(new CtlConnection(sock));
      });
    });
  }

  request(req: CtlRequest): Promise<Reply> {
    if (this.failure) return Promise.reject(this.failure);
    return new Promise((resolve, reject) => {
      this.pending.push({ resolve, reject });
      this.sock.write(encodeRequest(req));
    });
  }

  close(): void {
    this.sock.destroy();
  }
}

function isRestore(line: string): boolean {
  const words = line.trim().split(/\s+/);
  return words[0] === "ipvsadm" && words.some((w) => w === "-R" || w === "--restore");
}

async function readAll(stream: NodeJS.ReadableStream): Promise<string> {
  const parts: Buffer[] = [];
  for await (const chunk of stream) parts.push(typeof chunk === "string" ? Buffer.from(chunk) : (chunk as Buffer));
  return Buffer.concat(parts).toString("utf8");
}

export async function runCtl(opts: RunCtlOptions = {}): Promise<number> {
  const socketPath = opts.socketPath ?? DEFAULT_CTL_PATH;
  const stdin = opts.stdin ?? process.stdin;
  const stdout = opts.stdout ?? process.stdout;
  const stderr = opts.stderr ?? process.stderr;

  const print = (r: Reply) => {
    if (r.text !== "") (r.ok ? stdout : stderr).write(r.text + "\n");
  };

  let conn: CtlConnection | undefined;
  try {
    conn = await CtlConnection.open(socketPath);
    if (opts.line !== undefined) {
      const req: CtlRequest = { line: opts.line };
      if (isRestore(opts.line) && stdin.isTTY !== true) req.input = await readAll(stdin);
      if (Buffer.byteLength(encodeRequest(req)) - 1 > MAX_REQUEST_BYTES) {
        stderr.write(`error: request larger than ${MAX_REQUEST_BYTES} bytes (split the input)\n`);
        return EXIT_ERROR_REPLY;
      }
      const r = await conn.request(req);
      print(r);
      return r.ok ? EXIT_OK : EXIT_ERROR_REPLY;
    }
    let failed = false;
    const rl = readline.createInterface({ input: stdin, crlfDelay: Infinity, terminal: false });
    for await (const raw of rl) {
      const line = raw.trim();
      if (line === "" || line.startsWith("#")) continue;
      if (isExit(line)) break;
      const r = await conn.request({ line });
      print(r);
      if (!r.ok) failed = true;
    }
    rl.close();
    return failed ? EXIT_ERROR_REPLY : EXIT_OK;
  } catch (e) {
    if (e instanceof Unreachable) {
      stderr.write(`weir ctl: cannot reach the appliance at ${socketPath}: ${e.message}\n`);
      return EXIT_UNREACHABLE;
    }
    throw e;
  } finally {
    conn?.close();
  }
}
