// Debian packages for the image, fetched with `apt-get download` into a cache
// and unpacked with `dpkg-deb -x` (no root filesystem, no chroot). A
// metapackage (linux-image-cloud-amd64) is followed to the package it names.

import fs from "node:fs";
import path from "node:path";
import { run } from "./exec.js";

export interface Unpacked { name: string; version: string; dir: string }

async function candidate(pkg: string): Promise<{ version: string; depends: string[] }> {
  const { stdout } = await run("apt-cache", ["show", "--no-all-versions", pkg]);
  const field = (f: string) => stdout.match(new RegExp(`^${f}: (.*)$`, "m"))?.[1] ?? "";
  const version = field("Version");
  if (!version) throw new Error(`apt-cache has no version of ${pkg} (run apt-get update)`);
  return { version, depends: field("Depends").split(",").map((d) => d.trim().split(/\s/)[0]).filter(Boolean) };
}

/** Fetches (when not cached) and unpacks pkg; for a linux-image metapackage, the kernel package it depends on. */
export async function unpackPackage(cacheDir: string, pkg: string): Promise<Unpacked> {
  let c = await candidate(pkg);
  if (pkg.startsWith("linux-image-") && !c.depends.length) throw new Error(`${pkg} names no kernel package`);
  if (pkg.startsWith("linux-image-") && c.depends[0].startsWith("linux-image-")) {
    pkg = c.depends[0];
    c = await candidate(pkg);
  }
  const debs = path.join(cacheDir, "debs");
  fs.mkdirSync(debs, { recursive: true });
  const safeVersion = c.version.replace(/:/g, "%3a");
  const debFile = path.join(debs, `${pkg}_${safeVersion}_amd64.deb`);
  if (!fs.existsSync(debFile)) await run("apt-get", ["download", `${pkg}=${c.version}`], { cwd: debs });
  if (!fs.existsSync(debFile)) throw new Error(`apt-get download ${pkg} did not leave ${debFile}`);
  const dir = path.join(cacheDir, "unpacked", `${pkg}_${safeVersion}`);
  if (!fs.existsSync(path.join(dir, ".done"))) {
    fs.rmSync(dir, { recursive: true, force: true });
    fs.mkdirSync(dir, { recursive: true });
    await run("dpkg-deb", ["-x", debFile, dir]);
    fs.writeFileSync(path.join(dir, ".done"), "");
  }
  return { name: pkg, version: c.version, dir };
}
