// Config files: the console lines to replay, blank lines and # comments
// allowed. The core words (ip, iptables, ipvsadm) of the whole file are
// staged into one draft and committed as one change; other words run after
// it, in order. The first error stops the load and puts everything back.
//
// At boot (loadBootConfig) a file that does not load must not brick the
// appliance: the error (FILE:LINE) is reported, the file is kept as
// FILE.failed, and the last copy that did load at boot (FILE.good, written
// after each successful boot load) is loaded instead, or nothing; the
// appliance then runs on its consoles, and `show config-status` says so.

import { readFile, stat } from "node:fs/promises";
import type { ConfigModel } from "../config/model.js";
import { WeirError } from "../errors.js";
import { atomicWrite } from "../config/save.js";
import type { Logger } from "../log.js";
import type { Registry, CommandHandler } from "./registry.js";
import { tokenize } from "./tokenize.js";
import { ok } from "./types.js";

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
  // Each handler's checkpoint is taken once, before its first line.
  const undos = new Map<CommandHandler, () => void | Promise<void>>();
  for (const l of later) {
    if (l.handler.checkpoint && !undos.has(l.handler)) undos.set(l.handler, l.handler.checkpoint());
    let message: string | undefined;
    try {
      const r = await l.handler.execute(l.args, { source: "config" });
      if (!r.ok) message = r.text.replace(/^error: /, "");
    } catch (e) {
      message = (e as Error).message;
    }
    if (message !== undefined) {
      for (const u of [...undos.values()].reverse()) await u();
      await model.replace(before);
      return failed(file, l.line, message);
    }
  }
  return { ok: true, lines: count };
}

/** How the config file fared at boot: for the log, the serial banner and `show config-status`. */
export interface BootConfig {
  file: string;
  /** What runs: the file, its last good copy, or nothing (neither loaded). */
  running: "file" | "good" | "empty";
  /** Lines applied from what runs. */
  lines: number;
  /** Why the file did not load (FILE:LINE and the message). */
  failed?: Extract<LoadResult, { ok: false }>;
  /** Why the last good copy did not load either, when there was one. */
  goodFailed?: Extract<LoadResult, { ok: false }>;
  /** Where the file as it was is kept, when it did not load. */
  keptAs?: string;
}

export const goodCopy = (file: string) => `${file}.good`;
export const failedCopy = (file: string) => `${file}.failed`;

/**
 * Loads the config file at boot. Loaded: it becomes the last good copy.
 * Not loaded: the error is logged, the file is kept as FILE.failed and the
 * last good copy is loaded instead (or nothing). Never throws for a bad file.
 */
export async function loadBootConfig(reg: Registry, model: ConfigModel, file: string, log: Logger): Promise<BootConfig> {
  const good = goodCopy(file);
  let text: string | undefined;
  let r: LoadResult;
  try {
    text = await readFile(file, "utf8");
    r = await guarded(reg, model, text, file);
  } catch (e) {
    r = failed(file, 0, `cannot read: ${(e as Error).message}`);
  }
  const mode = await stat(file).then((s) => s.mode & 0o777, () => 0o600);
  if (r.ok) {
    // Rewritten only when it changed (the config partition is flash).
    if ((await readFile(good, "utf8").catch(() => undefined)) !== text) {
      await atomicWrite(good, text!, mode).catch((err) => log.warn({ err, file: good }, "could not keep the last good config"));
    }
    return { file, running: "file", lines: r.lines };
  }
  log.error({ config: file, line: r.line }, r.message);
  const out: BootConfig = { file, running: "empty", lines: 0, failed: r };
  if (text !== undefined) {
    await atomicWrite(failedCopy(file), text, mode).then(
      () => { out.keptAs = failedCopy(file); },
      (err) => log.warn({ err, file: failedCopy(file) }, "could not keep the config that failed"),
    );
  }
  const g = await readFile(good, "utf8").then((t) => guarded(reg, model, t, good), (e: NodeJS.ErrnoException) =>
    e.code === "ENOENT" ? undefined : failed(good, 0, `cannot read: ${e.message}`));
  if (g?.ok) {
    log.warn({ config: good, lines: g.lines }, "running the last good configuration");
    return { ...out, running: "good", lines: g.lines };
  }
  if (g) {
    log.error({ config: good, line: g.line }, g.message);
    out.goodFailed = g;
  }
  log.warn({ config: file }, "running with an empty configuration");
  return out;
}

/** loadConfigText, with a fault of weir's own reported as the file's failure rather than thrown. */
async function guarded(reg: Registry, model: ConfigModel, text: string, file: string): Promise<LoadResult> {
  try {
    return await loadConfigText(reg, model, text, file);
  } catch (e) {
    return failed(file, 0, `internal error: ${(e as Error).message ?? String(e)}`);
  }
}

/** One line for the serial console's banner when the file did not load; undefined when it did. */
export function bootConfigNotice(b: BootConfig): string | undefined {
  if (!b.failed) return undefined;
  const instead = b.running === "good" ? `running the last good config ${goodCopy(b.file)}` : "running with an empty configuration";
  return `${b.failed.text}; ${instead} (show config-status)`;
}

/** `show config-status`: how the config file fared at boot, and what `save` will do. */
export function showConfigStatus(file: string | undefined, boot: BootConfig | undefined): CommandHandler {
  return {
    help: "show config-status — whether the config file loaded at boot, and what runs instead when it did not",
    async execute() {
      if (!file) return ok("no config file (start with --config FILE): save has nowhere to write");
      if (!boot) return ok(`config ${file}: there was none at boot; save writes it`);
      if (!boot.failed) return ok(`config ${file}: loaded at boot (${boot.lines} lines)`);
      const lines = [
        `config ${file}: did not load at boot`,
        `  ${boot.failed.text}`,
        boot.running === "good"
          ? `  running its last good copy ${goodCopy(file)} (${boot.lines} lines)`
          : `  running with an empty configuration${boot.goodFailed ? ` (the last good copy did not load either: ${boot.goodFailed.text})` : " (there is no last good copy)"}`,
        boot.keptAs ? `  the file as it was is kept in ${boot.keptAs}` : "",
        `  save writes the running configuration over ${file}`,
      ];
      return ok(lines.filter(Boolean).join("\n"));
    },
  };
}
