// Config files: the console lines to replay, blank lines and # comments
// allowed. The core words (ip, iptables, ipvsadm) of the whole file are
// staged into one draft and committed as one change; other words run after
// it, in order. The first error stops the load and puts everything back.

import { readFile } from "node:fs/promises";
import type { ConfigModel } from "../config/model.js";
import { WeirError } from "../config/errors.js";
import type { Registry, CommandHandler } from "./registry.js";
import { tokenize } from "./tokenize.js";

export type LoadResult =
  | { ok: true; lines: number }
  | { ok: false; file: string; line: number; message: string; /** The whole line to print: "FILE:LINE: error: …" */ text: string };

class LineError extends Error {
  constructor(readonly line: number, message: string) { super(message); }
}

const failed = (file: string, line: number, message: string): LoadResult => ({
  ok: false, file, line, message, text: `${file}${line ? `:${line}` : ""}: error: ${message}`,
});

export async function loadConfigFile(reg: Registry, model: ConfigModel, file: string): Promise<LoadResult> {
  let text: string;
  try {
    text = await readFile(file, "utf8");
  } catch (e) {
    return failed(file, 0, `cannot read: ${(e as Error).message}`);
  }
  return loadConfigText(reg, model, text, file);
}

export async function loadConfigText(reg: Registry, model: ConfigModel, text: string, file: string): Promise<LoadResult> {
  const before = model.state;
  const later: { line: number; handler: CommandHandler; args: string[]; text: string }[] = [];
  let count = 0;
  try {
    await model.change((d) => {
      text.split(/\r?\n/).forEach((raw, i) => {
        const n = i + 1;
        try {
          const tokens = tokenize(raw);
          if (tokens.length === 0) return;
          count++;
          const found = reg.resolve(tokens);
          if (!found) throw new LineError(n, `unknown command '${tokens[0]}'`);
          if (found.handler.stage) found.handler.stage(found.args, d);
          else later.push({ line: n, handler: found.handler, args: found.args, text: raw });
        } catch (e) {
          if (e instanceof LineError) throw e;
          if (e instanceof WeirError) throw new LineError(n, e.message);
          throw e;
        }
      });
    });
  } catch (e) {
    if (e instanceof LineError) return failed(file, e.line, e.message);
    if (e instanceof WeirError) return failed(file, 0, e.message);
    throw e;
  }
  // Words of other modules, after the core configuration they refer to.
  const undo: (() => void | Promise<void>)[] = [];
  for (const l of later) {
    if (l.handler.checkpoint) undo.push(l.handler.checkpoint());
    let message: string | undefined;
    try {
      const r = await l.handler.execute(l.args, { source: "config" });
      if (!r.ok) message = r.text.replace(/^error: /, "");
    } catch (e) {
      message = (e as Error).message;
    }
    if (message !== undefined) {
      for (const u of undo.reverse()) await u();
      await model.replace(before);
      return failed(file, l.line, message);
    }
  }
  return { ok: true, lines: count };
}
