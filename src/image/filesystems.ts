// Filesystem images made from staging directories, without loop mounts:
// ext2/ext4 with `mke2fs -d`, FAT with `mkfs.vfat -C` and mtools' mcopy.
// Fixed UUIDs, hash seeds and E2FSPROGS_FAKE_TIME make them reproducible.

import fs from "node:fs";
import path from "node:path";
import { run } from "./exec.js";

/** Sets every mtime/atime under dir (and dir) to epoch seconds: mke2fs -d and mcopy -m copy them. */
export function clampTimes(dir: string, epoch: number): void {
  const walk = (p: string) => {
    if (fs.lstatSync(p).isDirectory()) for (const e of fs.readdirSync(p)) walk(path.join(p, e));
    fs.lutimesSync(p, epoch, epoch);
  };
  walk(dir);
}

/** Size of the files under dir, in bytes. */
export function treeBytes(dir: string): number {
  let n = 0;
  const walk = (p: string) => {
    const st = fs.lstatSync(p);
    if (st.isDirectory()) for (const e of fs.readdirSync(p)) walk(path.join(p, e));
    else n += st.size;
  };
  walk(dir);
  return n;
}

export interface ExtOptions {
  out: string;
  from: string;
  sizeMiB: number;
  label: string;
  /** Fixed filesystem UUID (and hash seed). */
  uuid: string;
  type: "ext2" | "ext4";
  epoch: number;
}

export async function makeExt(o: ExtOptions): Promise<void> {
  fs.rmSync(o.out, { force: true });
  clampTimes(o.from, o.epoch);
  await run("mke2fs", [
    "-q", "-F", "-t", o.type, "-L", o.label, "-U", o.uuid, "-E", `hash_seed=${o.uuid},root_owner=0:0`,
    "-b", "4096", "-m", "0", "-d", o.from, o.out, `${o.sizeMiB}M`,
  ], { env: { ...process.env, E2FSPROGS_FAKE_TIME: String(o.epoch) } });
  // mke2fs -d copies each file's ctime, which utimes cannot set: pin it too.
  const cmds = [...treePaths(o.from)].map((p) => `set_inode_field ${p} ctime @${o.epoch}`);
  if (cmds.length) await run("debugfs", ["-w", "-f", "-", o.out], { input: `${cmds.join("\n")}\n` });
}

/** "/a", "/a/b", … for everything under dir (as paths inside the filesystem). */
function* treePaths(dir: string, rel = ""): Generator<string> {
  for (const e of fs.readdirSync(path.join(dir, rel), { withFileTypes: true })) {
    const r = `${rel}/${e.name}`;
    yield r;
    if (e.isDirectory()) yield* treePaths(dir, r);
  }
}

export interface FatOptions {
  out: string;
  from: string;
  sizeMiB: number;
  label: string;
  epoch: number;
}

/** A FAT image holding the tree under from (directories made with mmd, files copied with mcopy -m). */
export async function makeFat(o: FatOptions): Promise<void> {
  fs.rmSync(o.out, { force: true });
  clampTimes(o.from, o.epoch);
  await run("mkfs.vfat", ["-C", "--invariant", "-n", o.label, o.out, String(o.sizeMiB * 1024)]);
  const env = { ...process.env, MTOOLS_SKIP_CHECK: "1", SOURCE_DATE_EPOCH: String(o.epoch) };
  const walk = async (rel: string) => {
    for (const e of fs.readdirSync(path.join(o.from, rel), { withFileTypes: true }).sort((a, b) => (a.name < b.name ? -1 : 1))) {
      const r = rel ? `${rel}/${e.name}` : e.name;
      if (e.isDirectory()) {
        await run("mmd", ["-i", o.out, `::/${r}`], { env });
        await walk(r);
      } else {
        await run("mcopy", ["-m", "-i", o.out, path.join(o.from, r), `::/${r}`], { env });
      }
    }
  };
  await walk("");
}
