// What attaching links changed on the host, kept on disk while `weir run`
// runs, so that a run that ended without cleaning up (SIGKILL, a crash, a
// power cut of the process) is cleaned up by the next one in the same
// network namespace: each link put back as its snapshot says, the stale
// nftables tables (whose ingress drop would black-hole the link) deleted.
// One file per run: DIR/NETNS-PID.json, written atomically.

import fs from "node:fs";
import path from "node:path";
import { nft, restore, type LinkSnapshot } from "./host.js";

export const DEFAULT_JOURNAL_DIR = "/run/weir/links";

interface JournalFile {
  pid: number;
  table: string;
  links: Record<string, LinkSnapshot>;
}

/** This process's network namespace, as the inode number of /proc/self/ns/net. */
function netnsId(): string {
  return String(fs.statSync("/proc/self/ns/net").ino);
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === "EPERM";
  }
}

export class HostJournal {
  private readonly data: JournalFile;
  readonly file: string;

  constructor(readonly dir: string, table: string, pid = process.pid) {
    this.file = path.join(dir, `${netnsId()}-${pid}.json`);
    this.data = { pid, table, links: {} };
  }

  record(dev: string, snap: LinkSnapshot): void {
    this.data.links[dev] = snap;
    this.write();
  }

  forget(dev: string): void {
    if (!(dev in this.data.links)) return;
    delete this.data.links[dev];
    this.write();
  }

  /** A clean stop: nothing left to put back. */
  remove(): void {
    fs.rmSync(this.file, { force: true });
  }

  private write(): void {
    fs.mkdirSync(this.dir, { recursive: true, mode: 0o700 });
    const tmp = `${this.file}.tmp`;
    fs.writeFileSync(tmp, JSON.stringify(this.data), { mode: 0o600 });
    fs.renameSync(tmp, this.file);
  }

  /**
   * Puts back what runs that are gone (same namespace, process not alive)
   * left behind; returns one line per run cleaned up.
   */
  static async recover(dir: string, warn: (msg: string) => void): Promise<string[]> {
    let names: string[];
    try {
      names = fs.readdirSync(dir);
    } catch {
      return [];
    }
    const ns = netnsId();
    const done: string[] = [];
    for (const name of names) {
      const m = /^(\d+)-(\d+)\.json$/.exec(name);
      if (!m || m[1] !== ns || alive(Number(m[2]))) continue;
      const file = path.join(dir, name);
      let j: JournalFile;
      try {
        j = JSON.parse(fs.readFileSync(file, "utf8")) as JournalFile;
      } catch (e) {
        warn(`${file}: unreadable journal (${(e as Error).message}); removed`);
        fs.rmSync(file, { force: true });
        continue;
      }
      if (/^[A-Za-z0-9_]+$/.test(j.table)) {
        await nft(`delete table netdev ${j.table}\n`).catch(() => undefined); // gone already, or never made
        await nft(`delete table inet ${j.table}\n`).catch(() => undefined); // its host guard (hostguard.ts)
      }
      const devs = Object.keys(j.links);
      for (const dev of devs) {
        if (!fs.existsSync(`/sys/class/net/${dev}`)) continue;
        await restore(dev, j.links[dev], (msg) => warn(`${dev}: ${msg}`));
      }
      fs.rmSync(file, { force: true });
      done.push(`pid ${j.pid} ended without cleaning up: removed nft table ${j.table}, restored ${devs.length ? devs.join(", ") : "no links"}`);
    }
    return done;
  }
}
