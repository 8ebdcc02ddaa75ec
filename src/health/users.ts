// Users and groups for script checks, read from /etc/passwd and /etc/group
// each time (Node has no getpwnam), so a user added later is seen. A name
// may also be a number (a uid or gid without an entry).

import { readFile } from "node:fs/promises";

export interface UserEntry { name: string; uid: number; gid: number }
export interface GroupEntry { name: string; gid: number }

/** What a user or group name may look like (useradd's rules, or a number). */
export const ACCOUNT_NAME = /^(?:[A-Za-z_][A-Za-z0-9_.-]{0,31}\$?|\d{1,10})$/;

const MAX_ID = 0xfffffffe; // (uid_t)-1 means "unchanged"

async function entries(file: string): Promise<string[][]> {
  let text: string;
  try {
    text = await readFile(file, "utf8");
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === "ENOENT") return [];
    throw e;
  }
  return text.split("\n").filter((l) => l && !l.startsWith("#")).map((l) => l.split(":"));
}

const numeric = (name: string) => /^\d+$/.test(name) && Number(name) <= MAX_ID;

/** The user called `name` (or with that uid, when a number); undefined when there is none. */
export async function lookupUser(name: string, file = "/etc/passwd"): Promise<UserEntry | undefined> {
  const all = await entries(file);
  const byName = all.find((f) => f[0] === name && f.length >= 4);
  const f = byName ?? (numeric(name) ? all.find((e) => e[2] === String(Number(name)) && e.length >= 4) : undefined);
  if (f) return { name: f[0], uid: Number(f[2]), gid: Number(f[3]) };
  if (numeric(name)) return { name, uid: Number(name), gid: Number(name) };
  return undefined;
}

/** The group called `name` (or with that gid, when a number); undefined when there is none. */
export async function lookupGroup(name: string, file = "/etc/group"): Promise<GroupEntry | undefined> {
  const all = await entries(file);
  const f = all.find((e) => e[0] === name && e.length >= 3);
  if (f) return { name: f[0], gid: Number(f[2]) };
  if (numeric(name)) return { name, gid: Number(name) };
  return undefined;
}
