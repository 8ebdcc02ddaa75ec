// The rules a script check runs under, as keepalived's script_user and
// enable_script_security (always on here):
//   - it runs as an unprivileged user: `health script-user USER [GROUP]`, by
//     default weir-script if that user exists, else nobody (keepalived:
//     keepalived_script); supplementary groups are dropped;
//   - only from the script directory (`health script-dir DIR`, default
//     /etc/weir/scripts): an absolute path there that is there after its
//     symlinks are resolved too;
//   - the real file and every directory above it are owned by root and
//     writable by no one else (group root, and sticky directories such as
//     /tmp, are accepted as keepalived does); no set-user-ID file.
// The path is vetted when the check is added and again before every run,
// and the run executes the vetted real path: as every directory on it is
// root's alone, nobody else can swap the file in between.
// `health script-ws allow` lets the WebSocket console add script checks
// (kept here; command.ts enforces it).
// Not running as root, weir cannot switch users: scripts then run as weir's
// own user (said once in the log), and files owned by it count as safe.

import { realpath, stat } from "node:fs/promises";
import type { Stats } from "node:fs";
import path from "node:path";
import { logger, type Logger } from "../log.js";
import { quoteWord } from "../config/save.js";
import { lookupGroup, lookupUser } from "./users.js";
import { ScriptRefused } from "../errors.js";

export const DEFAULT_SCRIPT_DIR = "/etc/weir/scripts";
/** The default script user: the first of these that exists. */
export const DEFAULT_SCRIPT_USERS = ["weir-script", "nobody"] as const;

export interface ScriptSettings {
  /** null: the default user (DEFAULT_SCRIPT_USERS). */
  user: string | null;
  /** null: the user's own group. */
  group: string | null;
  dir: string;
  /** Whether the WebSocket console may add script checks. */
  ws: boolean;
}

export const SCRIPT_DEFAULTS: ScriptSettings = { user: null, group: null, dir: DEFAULT_SCRIPT_DIR, ws: false };

/** Who a script runs as; null when weir is not root (it runs as weir's own user). */
export interface ScriptIdentity { user: string; uid: number; gid: number }

const refuse = (msg: string): never => { throw new ScriptRefused(msg); };
const errCode = (e: unknown) => (e as NodeJS.ErrnoException).code ?? (e as Error).message;

export interface ScriptPolicyOptions {
  settings?: Partial<ScriptSettings>;
  passwdFile?: string;
  groupFile?: string;
  /** The process's uid (tests); default process.getuid(). */
  uid?: number;
  log?: Logger;
}

export class ScriptPolicy {
  settings: ScriptSettings;
  private readonly passwdFile: string;
  private readonly groupFile: string;
  /** weir's own uid. */
  readonly selfUid: number;
  private readonly log: Logger;
  private saidNotRoot = false;

  constructor(opts: ScriptPolicyOptions = {}) {
    this.settings = { ...SCRIPT_DEFAULTS, ...opts.settings };
    this.passwdFile = opts.passwdFile ?? "/etc/passwd";
    this.groupFile = opts.groupFile ?? "/etc/group";
    this.selfUid = opts.uid ?? process.getuid?.() ?? 0;
    this.log = opts.log ?? logger("health");
  }

  /** Whether scripts can be run as another user (weir is root). */
  get canSwitchUser(): boolean { return this.selfUid === 0; }

  /**
   * The real path to run for `command`, or ScriptRefused saying why not:
   * not absolute, not in the script directory (before or after resolving
   * symlinks), missing, not a regular file, set-user-ID, or a part of its
   * path writable by someone other than root.
   */
  async vet(command: string, dir = this.settings.dir): Promise<string> {
    const what = `script ${quoteWord(command)}`;
    if (!path.isAbsolute(command)) refuse(`${what}: not an absolute path`);
    if (!inside(path.normalize(command), path.normalize(dir))) refuse(`${what}: not in the script directory ${dir} (health script-dir)`);
    const realDir = await this.vetDir(dir);
    let real: string;
    try {
      real = await realpath(command);
    } catch (e) {
      return refuse(`${what}: ${errCode(e) === "ENOENT" ? "no such file" : errCode(e)}`);
    }
    if (!inside(real, realDir)) refuse(`${what}: resolves to ${real}, outside the script directory ${dir}`);
    const st = await stat(real);
    if (!st.isFile()) refuse(`${what}: not a regular file`);
    if (st.mode & 0o6000) refuse(`${what}: set-user-ID or set-group-ID`);
    const bad = await this.unsafePart(real, st);
    if (bad) refuse(`${what}: ${bad} (a script and the directories above it must be writable only by root)`);
    return real;
  }

  /** The script directory's real path, or ScriptRefused when it is missing or unsafe. */
  async vetDir(dir: string): Promise<string> {
    const what = `script directory ${quoteWord(dir)}`;
    if (!path.isAbsolute(dir)) refuse(`${what}: not an absolute path`);
    let real: string;
    try {
      real = await realpath(dir);
    } catch (e) {
      return refuse(`${what}: ${errCode(e) === "ENOENT" ? "no such directory" : errCode(e)}`);
    }
    const st = await stat(real);
    if (!st.isDirectory()) refuse(`${what}: not a directory`);
    const bad = await this.unsafePart(real, st);
    if (bad) refuse(`${what}: ${bad} (it and the directories above it must be writable only by root)`);
    return real;
  }

  /**
   * Who the next run is as (resolved now, from /etc/passwd), or null when
   * weir is not root; ScriptRefused when the user or group does not exist.
   */
  async identity(settings: Pick<ScriptSettings, "user" | "group"> = this.settings): Promise<ScriptIdentity | null> {
    if (!this.canSwitchUser) {
      if (!this.saidNotRoot) {
        this.saidNotRoot = true;
        this.log.warn({ uid: this.selfUid }, "not running as root: script checks run as weir's own user, not the script user");
      }
      return null;
    }
    let u;
    if (settings.user !== null) {
      u = await lookupUser(settings.user, this.passwdFile);
      if (!u) refuse(`script user ${JSON.stringify(settings.user)}: no such user`);
    } else {
      for (const name of DEFAULT_SCRIPT_USERS) if ((u = await lookupUser(name, this.passwdFile))) break;
      if (!u) refuse(`no script user: neither ${DEFAULT_SCRIPT_USERS.join(" nor ")} exists (health script-user USER)`);
    }
    let gid = u!.gid;
    if (settings.group !== null) {
      const g = await lookupGroup(settings.group, this.groupFile);
      if (!g) refuse(`script group ${JSON.stringify(settings.group)}: no such group`);
      gid = g!.gid;
    }
    return { user: u!.name, uid: u!.uid, gid };
  }

  /** The `health script-…` lines that rebuild the settings (only those not at their default). */
  runningConfig(): string[] {
    const s = this.settings;
    const out: string[] = [];
    if (s.user !== null) out.push(`health script-user ${[s.user, ...(s.group !== null ? [s.group] : [])].map(quoteWord).join(" ")}`);
    if (s.dir !== DEFAULT_SCRIPT_DIR) out.push(`health script-dir ${quoteWord(s.dir)}`);
    if (s.ws) out.push("health script-ws allow");
    return out;
  }

  /** Why `file` (or a directory above it) may be changed by someone other than root; null when it may not. */
  private async unsafePart(file: string, st: Stats): Promise<string | null> {
    for (let p = file, s = st; ; ) {
      const why = this.unsafe(s);
      if (why) return `${p} is ${why}`;
      const up = path.dirname(p);
      if (up === p) return null;
      p = up;
      s = await stat(p);
    }
  }

  private unsafe(s: Stats): string | null {
    if (s.uid !== 0 && s.uid !== this.selfUid) return `owned by uid ${s.uid}`;
    // In a sticky directory others may add entries but not replace root's.
    if (s.isDirectory() && s.mode & 0o1000) return null;
    if (s.mode & 0o002) return "writable by others";
    if (s.mode & 0o020 && s.gid !== 0) return `writable by group ${s.gid}`;
    return null;
  }
}

/** Whether `p` is strictly inside directory `dir` (both normalized, absolute). */
function inside(p: string, dir: string): boolean {
  const d = dir.endsWith("/") ? dir : `${dir}/`;
  return p.startsWith(d) && p.length > d.length;
}
