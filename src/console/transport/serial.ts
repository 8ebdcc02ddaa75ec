// The serial console: the console language on a terminal, with a `weir> `
// prompt, line editing, history and tab completion (node:readline, words
// from interpreter.commands()).
//
// Two places it runs:
// - process.stdin/stdout when stdin is a TTY (`weir run` in a terminal): one
//   session; `exit` or Ctrl-D ends it (the appliance keeps running), and
//   Ctrl-C raises SIGINT on the process, so `weir run` shuts down as usual.
// - a tty device such as /dev/ttyS0 (the VM's serial port): opened read/write
//   with O_NOCTTY (it never becomes our controlling terminal, so a hangup
//   sends no SIGHUP) and served like a getty: `exit` or Ctrl-D ends the
//   session and a fresh one starts with the banner and an empty history;
//   Ctrl-C clears the line being typed. Anything typed ahead after `exit`
//   is dropped with the old session.
// With a console password set (password.ts; `console-password set`), each
// session starts with a login: three tries, the input not echoed, a pause
// after each wrong one, then the session starts over.
//   No stty is needed: the fd is wrapped in tty.ReadStream/WriteStream and
//   readline puts it into raw mode through libuv (no echo, no canonical line
//   discipline, no signal characters, output still maps \n to \r\n) and
//   restores it when a session ends. Speed and framing stay as the kernel set
//   them (console=ttyS0,115200 on the kernel command line); set them
//   beforehand with `stty -F /dev/ttyS0 115200` if a port needs another.
//
// Tests pass their own input and output streams instead.

import fs from "node:fs";
import tty from "node:tty";
import readline from "node:readline";
import { WeirError } from "../../errors.js";
import { logger, type Logger } from "../../log.js";
import type { Interpreter } from "../types.js";
import { executeLine, isExit } from "./execute.js";
import { asker, passwordLogin, type Ask } from "./ask.js";

export const PROMPT = "weir> ";

export interface SerialConsoleOptions {
  interpreter: Interpreter;
  /** A tty device (e.g. /dev/ttyS0); absent: process.stdin/stdout. */
  device?: string;
  /** Streams to use instead (tests); with them, sessions repeat as on a device unless once is set. */
  input?: NodeJS.ReadableStream;
  output?: NodeJS.WritableStream;
  /** Treat the streams as a terminal (escape sequences, raw mode). Default: true for ttys. */
  terminal?: boolean;
  /** One session only (the default for process.stdin). */
  once?: boolean;
  /** Shown at the start of each session. */
  banner?: string | (() => string);
  prompt?: string;
  log?: Logger;
  /** The console password's hash now (read each session), or undefined: no login. */
  passwordHash?: () => string | undefined;
  /** Pause after a wrong password (default 2 s). */
  loginDelayMs?: number;
}


export interface SerialConsole {
  /** Resolves when the console has stopped (its one session ended, or close()). */
  readonly closed: Promise<void>;
  close(): Promise<void>;
}

/** The banner: what this is, and where the WebSocket console is when there is one. */
/**
 * The greeting. The token itself is never shown (a serial line is often
 * logged by the hypervisor): only where it is kept.
 */
export function consoleBanner(o: { url?: string; tokenFile?: string; fingerprint?: string; notices?: string[] } = {}): string {
  const lines = ["Weir load balancer. Type 'help' for commands, 'exit' to end the session."];
  if (o.url) lines.push(`WebSocket console: ${o.url}${o.tokenFile ? `  token in ${o.tokenFile}` : ""}`);
  if (o.url && o.fingerprint) lines.push(`TLS certificate SHA-256 fingerprint: ${o.fingerprint}`);
  for (const n of o.notices ?? []) lines.push(`notice: ${n}`);
  return lines.join("\n");
}

/** readline completer over whole-line prefixes of the interpreter's words ("ip link show", "ipvsadm"). */
export function makeCompleter(commands: () => string[]): (line: string) => [string[], string] {
  return (line: string) => {
    let words: string[];
    try {
      words = commands();
    } catch {
      words = [];
    }
    const hits = words.filter((w) => w.startsWith(line));
    return [hits, line];
  };
}

function openDevice(device: string): { input: tty.ReadStream; output: tty.WriteStream } {
  const fd = fs.openSync(device, fs.constants.O_RDWR | fs.constants.O_NOCTTY);
  if (!tty.isatty(fd)) {
    fs.closeSync(fd);
    throw new WeirError("WEIR_ERR_SERIAL", `${device} is not a terminal device`);
  }
  const input = new tty.ReadStream(fd);
  const output = new tty.WriteStream(fd);
  return { input, output };
}

export function startSerialConsole(opts: SerialConsoleOptions): SerialConsole {
  const log = opts.log ?? logger("console.serial");
  const prompt = opts.prompt ?? PROMPT;
  const banner = () => (typeof opts.banner === "function" ? opts.banner() : opts.banner ?? consoleBanner());
  const completer = makeCompleter(() => opts.interpreter.commands());

  let input: NodeJS.ReadableStream;
  let output: NodeJS.WritableStream;
  let ownStreams = false;
  let once: boolean;
  if (opts.input && opts.output) {
    input = opts.input;
    output = opts.output;
    once = opts.once ?? false;
  } else if (opts.device) {
    ({ input, output } = openDevice(opts.device));
    ownStreams = true;
    once = opts.once ?? false;
  } else {
    if (!process.stdin.isTTY) throw new WeirError("WEIR_ERR_SERIAL", "stdin is not a terminal");
    input = process.stdin;
    output = process.stdout;
    once = opts.once ?? true;
  }
  const terminal = opts.terminal ?? (input as { isTTY?: boolean }).isTTY === true;
  // On process stdin, Ctrl-C means "stop weir run"; on a device it clears the line.
  const ctrlCSignals = !opts.device && !opts.input;

  let stopping = false;
  let current: readline.Interface | undefined;

  async function session(): Promise<"exit" | "eof"> {
    output.write(banner() + "\n");
    const rl = readline.createInterface({ input, output, terminal, prompt, completer, historySize: 200, crlfDelay: Infinity });
    current = rl;
    // Lines are taken from here on (typed-ahead ones included); a pending question takes its own line first.
    const lines = rl[Symbol.asyncIterator]();
    rl.on("SIGINT", () => {
      if (ctrlCSignals) {
        process.kill(process.pid, "SIGINT");
        return;
      }
      output.write("^C\n");
      rl.write(null, { ctrl: true, name: "u" });
      rl.prompt();
    });
    let gone = false;
    rl.once("close", () => { gone = true; });
    const ask = asker(rl, output);
    if (!(await login(ask))) {
      rl.close();
      current = undefined;
      return gone ? "eof" : "exit";
    }
    let ended: "exit" | "eof" = "eof";
    rl.prompt();
    for await (const raw of { [Symbol.asyncIterator]: () => lines }) {
      const line = raw.trim();
      if (isExit(line)) {
        ended = "exit";
        break;
      }
      if (line !== "") {
        const r = await executeLine(opts.interpreter, line, { source: "serial", ask }, log);
        if (stopping) break;
        if (r.text !== "") output.write(r.text + "\n");
      }
      rl.prompt();
    }
    rl.close();
    current = undefined;
    return ended;
  }

  /** True when no password is set, or the operator gave it (ask.ts's passwordLogin). */
  async function login(ask: Ask): Promise<boolean> {
    const hash = opts.passwordHash?.();
    if (hash === undefined) return true;
    return passwordLogin(ask, hash, {
      output, delayMs: opts.loginDelayMs, stopped: () => stopping,
      onWrong: () => log.warn({ device: opts.device }, "serial console: wrong password"),
    });
  }

  let inputGone = false;
  const onInputError = (e: Error) => {
    inputGone = true;
    log.warn({ err: e.message, device: opts.device }, "serial console input error");
  };
  const onInputEnd = () => { inputGone = true; };
  const watch = () => {
    inputGone = false;
    input.on("error", onInputError);
    input.once("end", onInputEnd);
  };
  watch();

  function reopen(): void {
    (input as tty.ReadStream).destroy();
    (output as tty.WriteStream).destroy();
    ({ input, output } = openDevice(opts.device!));
    watch();
  }

  const closed = (async () => {
    try {
      for (;;) {
        const how = await session();
        if (stopping || once) break;
        if (how === "eof" && inputGone) {
          // The stream ended. A device is reopened after a pause (a hangup
          // or an I/O error); given streams have nothing more to read.
          if (!ownStreams) break;
          await new Promise((r) => setTimeout(r, 1000));
          if (stopping) break;
          reopen();
          continue;
        }
        output.write("\n"); // `exit` or Ctrl-D: a fresh session, as a getty would
      }
    } catch (e) {
      log.error({ err: e }, "serial console failed");
    } finally {
      input.off("error", onInputError);
      input.off("end", onInputEnd);
      if (ownStreams) {
        (input as tty.ReadStream).destroy();
        (output as tty.WriteStream).destroy();
      }
    }
  })();

  return {
    closed,
    async close(): Promise<void> {
      stopping = true;
      current?.close();
      await closed;
    },
  };
}
