// `weir console`: an interactive console over the WebSocket console (ws.ts).
// The CLI calls runConsole() and exits with what it returns:
//   0  the session ended (`exit`, EOF, or Ctrl-D); with stdin not a terminal,
//      0 only if every line got an ok reply
//   1  refused (token, origin, lockout) or the connection dropped, or an error
//      reply when reading lines from a pipe
//   2  the server could not be reached
// The token comes from --token (discouraged: visible in `ps`), else
// --token-file FILE, else $WEIR_TOKEN, else the token file (on the appliance
// itself root can read /var/lib/weir/ws-token): token.ts's clientToken. It is
// sent in an Authorization header. With --fingerprint (wss:// only) the TLS
// connection is made first and the server's certificate checked against the
// pin (pin.ts) before the request, and so the token, leaves this machine.

import readline from "node:readline";
import WebSocket from "ws";
import type { Reply } from "../types.js";
import { clientToken } from "./token.js";
import { PinError, pinnedWsOptions } from "./pin.js";
import { WS_PATH } from "./ws.js";
import { isExit } from "./execute.js";

import { DEFAULT_CONSOLE_URL } from "./defaults.js";
export { DEFAULT_CONSOLE_URL };

export interface RunConsoleOptions {
  /** ws://HOST:PORT or wss://HOST:PORT (the /ws path is added when missing). */
  url?: string;
  /** --token: works, but other users see it in `ps`; prefer tokenFile or $WEIR_TOKEN. */
  token?: string;
  /** --token-file: read when no token is given (an unreadable one is an error). */
  tokenFile?: string;
  /** The server certificate's SHA-256 fingerprint to pin (wss:// only): checked before the token is sent. */
  fingerprint?: string;
  /** Extra CA certificate(s) (PEM) to trust for wss: (a self-signed appliance). */
  ca?: string | Buffer;
  stdin?: NodeJS.ReadableStream & { isTTY?: boolean };
  stdout?: NodeJS.WritableStream;
  stderr?: NodeJS.WritableStream;
  prompt?: string;
}

/** Turns --url into the socket URL. */
export function consoleSocketUrl(url: string): string {
  const u = new URL(url.includes("://") ? url : `ws://${url}`);
  if (u.protocol === "http:") u.protocol = "ws:";
  if (u.protocol === "https:") u.protocol = "wss:";
  if (u.protocol !== "ws:" && u.protocol !== "wss:") throw new Error(`'${url}' is not a ws:// or wss:// URL`);
  if (u.pathname === "/" || u.pathname === "") u.pathname = WS_PATH;
  return u.toString();
}

/** Words of `commands` that complete what is typed so far (whole-line prefixes). */
export function completions(commands: readonly string[], line: string): [string[], string] {
  const hits = commands.filter((c) => c.startsWith(line));
  return [hits.length ? hits : [], line];
}

export async function runConsole(opts: RunConsoleOptions = {}): Promise<number> {
  const stdin = opts.stdin ?? process.stdin;
  const stdout = opts.stdout ?? process.stdout;
  const stderr = opts.stderr ?? process.stderr;
  let target: string;
  try {
    target = consoleSocketUrl(opts.url ?? DEFAULT_CONSOLE_URL);
  } catch (e) {
    stderr.write(`weir console: ${(e as Error).message}\n`);
    return 2;
  }
  let token: string | undefined;
  try {
    token = clientToken({ token: opts.token, tokenFile: opts.tokenFile });
  } catch (e) {
    stderr.write(`weir console: ${(e as Error).message}\n`);
    return 1;
  }
  if (!token) {
    stderr.write("weir console: no token (give --token-file FILE or set WEIR_TOKEN, or run where the token file is readable)\n");
    return 1;
  }

  let pin: Awaited<ReturnType<typeof pinnedWsOptions>>;
  try {
    pin = await pinnedWsOptions(target, opts.fingerprint);
  } catch (e) {
    stderr.write(`weir console: ${(e as Error).message}\n`);
    return e instanceof PinError && e.unreachable ? 2 : 1;
  }
  const ws = new WebSocket(target, { headers: { Authorization: `Bearer ${token}` }, ca: opts.ca, handshakeTimeout: 10_000, ...pin });
  let commands: string[] = [];
  const pending: ((r: Reply) => void)[] = [];
  let closedBy: string | undefined;

  const opened = await new Promise<number>((settle) => {
    let settled = false;
    const resolve = (n: number) => {
      if (!settled) settle(n);
      settled = true;
    };
    ws.once("unexpected-response", (_req, res) => {
      const why: Record<number, string> = {
        401: "the token was refused",
        403: "refused (origin not allowed)",
        404: "no WebSocket console at that URL",
        429: `too many failed attempts from this address; try again in ${res.headers["retry-after"] ?? "a while"} s`,
        503: "the console is busy (too many connections)",
      };
      stderr.write(`weir console: ${why[res.statusCode ?? 0] ?? `refused (HTTP ${res.statusCode})`}\n`);
      res.resume();
      ws.terminate();
      resolve(1);
    });
    ws.on("error", (e: NodeJS.ErrnoException) => {
      if (settled) return;
      stderr.write(`weir console: cannot reach ${target}: ${e.code ?? e.message}\n`);
      resolve(2);
    });
    ws.once("message", (data) => {
      try {
        const m = JSON.parse(data.toString()) as { type?: string; ok?: boolean; commands?: string[] };
        if (m.type === "auth" && m.ok) {
          commands = Array.isArray(m.commands) ? m.commands.filter((c) => typeof c === "string") : [];
          resolve(0);
          return;
        }
      } catch { /* fall through */ }
      stderr.write("weir console: unexpected first message from the server\n");
      ws.terminate();
      resolve(1);
    });
  });
  if (opened !== 0) return opened;
  ws.removeAllListeners("error");
  ws.on("error", () => { /* reported through close */ });

  ws.on("message", (data) => {
    let m: { type?: string; ok?: boolean; text?: string };
    try {
      m = JSON.parse(data.toString());
    } catch {
      return;
    }
    if (m.type === "reply") pending.shift()?.({ ok: m.ok === true, text: String(m.text ?? "") });
    else if (m.type === "error") stderr.write(String(m.text) + "\n");
  });
  const connectionClosed = new Promise<void>((resolve) => ws.once("close", (code, reason) => {
    closedBy = `${code}${reason.length ? ` ${reason.toString()}` : ""}`;
    for (const p of pending.splice(0)) p({ ok: false, text: "error: connection closed" });
    resolve();
  }));

  const interactive = stdin.isTTY === true;
  const rl = readline.createInterface({
    input: stdin,
    output: interactive ? stdout : undefined,
    terminal: interactive,
    prompt: opts.prompt ?? "weir> ",
    crlfDelay: Infinity,
    completer: (line: string) => completions(commands, line),
  });
  let failed = false;
  let userExit = false;
  const dropped = connectionClosed.then(() => { if (!userExit) rl.close(); });
  if (interactive) {
    stdout.write(`Connected to ${target}. Type 'help' for commands, 'exit' to leave.\n`);
    rl.prompt();
  }
  for await (const raw of rl) {
    const line = raw.trim();
    if (line !== "" && !line.startsWith("#")) {
      if (isExit(line)) { userExit = true; break; }
      if (ws.readyState !== ws.OPEN) break;
      const reply = new Promise<Reply>((resolve) => pending.push(resolve));
      ws.send(JSON.stringify({ type: "line", line }));
      const r = await reply;
      if (r.text !== "") (r.ok ? stdout : stderr).write(r.text + "\n");
      if (!r.ok) failed = true;
    }
    if (interactive && ws.readyState === ws.OPEN) rl.prompt();
  }
  rl.close();
  userExit ||= ws.readyState === ws.OPEN;
  if (userExit) {
    ws.close(1000, "bye");
    await Promise.race([connectionClosed, new Promise((r) => setTimeout(r, 2000).unref())]);
    ws.terminate();
    await dropped;
    return !interactive && failed ? 1 : 0;
  }
  stderr.write(`weir console: connection closed (${closedBy ?? "?"})\n`);
  return 1;
}
