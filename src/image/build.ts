// `weir image build`: a bootable GPT disk (ESP with GRUB, slots A and B,
// config) and a signed update bundle of the slot, from Debian packages, the
// host's Node.js and this build of Weir. Same inputs and SOURCE_DATE_EPOCH →
// same bytes. Steps and their sizes are reported as they go.

import crypto from "node:crypto";
import { execFileSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { cpioArchive } from "./cpio.js";
import { unpackPackage, type Unpacked } from "./debs.js";
import { withLibraries } from "./hostbin.js";
import { addBase, addWeir, TreeBuilder } from "./initramfs.js";
import { builtinModules, indexModules, moduleLoadOrder } from "./modinfo.js";
import { imageDir, loadRecipe, projectRoot } from "./recipe.js";
import { run } from "./exec.js";
import { makeExt, makeFat, treeBytes } from "./filesystems.js";
import { makeDisk } from "./disk.js";
import { makeGrubEfi } from "./grub.js";
import { Progress, mb } from "./progress.js";
import { createBundle } from "./bundle.js";
import { encodeState, initialState } from "./bootstate.js";

export interface BuildOptions {
  out: string;
  version?: string;
  /** Oldest version the bundle may upgrade from. */
  minFrom?: string;
  /** Ed25519 private key (PEM) that signs the bundle; its public half is built in. */
  keyFile: string;
  /** Unix seconds for every timestamp (default SOURCE_DATE_EPOCH, else the last commit's time). */
  epoch?: number;
  cacheDir?: string;
  /** Also make the disk image (a bundle alone is enough for an upgrade). */
  disk?: boolean;
  /** Test only: an image whose data plane cannot load, to exercise rollback. */
  fault?: "dataplane";
  log?: NodeJS.WriteStream;
}

export interface BuildResult {
  version: string;
  disk?: string;
  bundle: string;
  slot: string;
  sha256: { disk?: string; bundle: string };
  report: string;
}

export async function buildImage(o: BuildOptions): Promise<BuildResult> {
  const recipe = loadRecipe();
  const version = o.version ?? JSON.parse(fs.readFileSync(path.join(projectRoot, "package.json"), "utf8")).version;
  const epoch = o.epoch ?? defaultEpoch();
  const cacheDir = o.cacheDir ?? path.join(os.homedir(), ".cache", "weir-image");
  const privateKeyPem = fs.readFileSync(o.keyFile, "utf8");
  const publicKeyPem = crypto.createPublicKey(privateKeyPem).export({ type: "spki", format: "pem" }).toString();
  for (const f of ["dist/cli.js", "build/weir.wasm"]) {
    if (!fs.existsSync(path.join(projectRoot, f))) throw new Error(`${f} missing: run npm ci (or npm run build) first`);
  }
  fs.mkdirSync(o.out, { recursive: true });
  const work = fs.mkdtempSync(path.join(o.out, ".work-"));
  const p = new Progress(o.disk === false ? 6 : 8, o.log);
  try {
    const [kernel, busybox] = await p.run("Debian packages", async () => [
      await unpackPackage(cacheDir, recipe.packages.kernel),
      await unpackPackage(cacheDir, recipe.packages.busybox),
    ], (v: Unpacked[]) => v.map((u) => `${u.name} ${u.version}`).join(", "));
    const kver = fs.readdirSync(path.join(kernel.dir, "lib", "modules"))[0];
    const vmlinuz = path.join(kernel.dir, "boot", `vmlinuz-${kver}`);

    const tree = new TreeBuilder();
    await p.run("initramfs tree", async () => {
      const moduleDir = path.join(kernel.dir, "lib", "modules", kver);
      const index = indexModules(moduleDir);
      const order = moduleLoadOrder(index, builtinModules(moduleDir), recipe.modules);
      for (const m of order) tree.hostFile(index.get(m)!, `lib/modules/${m}.ko`);
      addBase(tree, path.join(busybox.dir, "bin", "busybox"), path.join(imageDir, "init"),
        { version, arch: recipe.arch, publicKeyPem, markGoodTimeoutSeconds: recipe.markGoodTimeoutSeconds }, order);
      for (const b of recipe.hostBinaries) for (const f of await withLibraries(b)) tree.hostFile(f);
      await addWeir(tree, projectRoot);
      if (o.fault === "dataplane") tree.file("opt/weir/build/weir.wasm", Buffer.from("not a wasm module (test fault)\n"));
    }, () => `${mb(tree.size)} in ${tree.sorted().length} entries`);

    const slotDir = path.join(work, "slot");
    fs.mkdirSync(slotDir);
    const initrdBytes = await p.run("initramfs (cpio, zstd)", async () => {
      const cpio = path.join(work, "initrd.cpio");
      fs.writeFileSync(cpio, cpioArchive(tree.sorted(), epoch));
      await run("zstd", ["-q", "-f", "-T0", "-10", "--no-progress", cpio, "-o", path.join(slotDir, "initrd.img")]);
      fs.rmSync(cpio);
      return fs.statSync(path.join(slotDir, "initrd.img")).size;
    }, (n) => mb(n));
    fs.copyFileSync(vmlinuz, path.join(slotDir, "vmlinuz"));
    fs.writeFileSync(path.join(slotDir, "version"), `${version}\n`);

    const slot = path.join(o.out, `weir-${version}.slot.ext2`);
    await p.run("slot filesystem (ext2)", async () => {
      const sizeMiB = Math.ceil((treeBytes(slotDir) * 1.05) / (1 << 20)) + 4;
      if (sizeMiB > recipe.partitionsMiB.slot) throw new Error(`slot content needs ${sizeMiB} MiB, the slot partition has ${recipe.partitionsMiB.slot}`);
      await makeExt({ out: slot, from: slotDir, sizeMiB, label: "weir-slot", uuid: uuidFrom(`slot ${version}`), type: "ext2", epoch });
    }, () => mb(fs.statSync(slot).size));

    const bundle = path.join(o.out, `weir-${version}.bundle`);
    const b = await p.run("signed update bundle", () => createBundle({
      out: bundle, privateKeyPem, version, arch: recipe.arch, minFrom: o.minFrom ?? "0.0.0", created: epoch,
      parts: [{ name: "slot", file: slot }],
    }), (r) => `${mb(r.size)}, sha256 ${r.sha256.slice(0, 16)}…`);

    let disk: string | undefined;
    let diskSha: string | undefined;
    if (o.disk !== false) {
      const espDir = path.join(work, "esp");
      fs.mkdirSync(path.join(espDir, "EFI", "BOOT"), { recursive: true });
      fs.mkdirSync(path.join(espDir, "weir"));
      const esp = path.join(work, "esp.vfat");
      await p.run("EFI system partition (GRUB, boot state)", async () => {
        await makeGrubEfi(path.join(espDir, "EFI", "BOOT", "BOOTX64.EFI"), recipe.grubModules);
        fs.copyFileSync(path.join(imageDir, "grub.cfg"), path.join(espDir, "EFI", "BOOT", "grub.cfg"));
        const state = encodeState(initialState(version));
        for (const c of [0, 1]) fs.writeFileSync(path.join(espDir, "weir", `state${c}.env`), state);
        await makeFat({ out: esp, from: espDir, sizeMiB: recipe.partitionsMiB.esp, label: "WEIR-ESP", epoch });
      });
      disk = path.join(o.out, `weir-${version}.img`);
      const config = path.join(work, "config.ext4");
      await p.run("GPT disk (ESP, slot A, slot B, config)", async () => {
        const empty = path.join(work, "config");
        fs.mkdirSync(empty);
        await makeExt({ out: config, from: empty, sizeMiB: recipe.partitionsMiB.config, label: "weir-config", uuid: uuidFrom(`config ${version}`), type: "ext4", epoch });
        const { esp: espMiB, slot: slotMiB, config: configMiB } = recipe.partitionsMiB;
        await makeDisk(disk!, uuidFrom(`disk ${version}`), [
          { name: "EFI", type: "esp", sizeMiB: espMiB, uuid: uuidFrom(`esp ${version}`), image: esp },
          { name: "weir-A", type: "linux", sizeMiB: slotMiB, uuid: uuidFrom(`A ${version}`), image: slot },
          { name: "weir-B", type: "linux", sizeMiB: slotMiB, uuid: uuidFrom(`B ${version}`) },
          { name: "weir-config", type: "linux", sizeMiB: configMiB, uuid: uuidFrom(`config part ${version}`), image: config },
        ]);
      }, () => mb(fs.statSync(disk!).size));
      diskSha = await p.run("sha256 of the disk", () => sha256File(disk!), (h) => h.slice(0, 16) + "…");
    }
    const report = [
      `Weir ${version} (${recipe.arch}), SOURCE_DATE_EPOCH=${epoch}, built in ${p.elapsed()}`,
      `  kernel     ${kernel.name} ${kernel.version}: ${mb(fs.statSync(vmlinuz).size)}`,
      `  initramfs  ${mb(tree.size)} unpacked, ${mb(initrdBytes)} zstd`,
      `  slot       ${slot}: ${mb(fs.statSync(slot).size)}`,
      `  bundle     ${bundle}: ${mb(b.size)}  sha256 ${b.sha256}`,
      ...(disk ? [`  disk       ${disk}: ${mb(fs.statSync(disk).size)} (sparse)  sha256 ${diskSha}`] : []),
    ].join("\n");
    return { version, disk, bundle, slot, sha256: { disk: diskSha, bundle: b.sha256 }, report };
  } finally {
    fs.rmSync(work, { recursive: true, force: true });
  }
}

/** SOURCE_DATE_EPOCH, else the last commit's time, else 0. */
function defaultEpoch(): number {
  const env = process.env.SOURCE_DATE_EPOCH;
  if (env !== undefined) {
    const n = Number(env);
    if (!Number.isInteger(n) || n < 0) throw new Error(`SOURCE_DATE_EPOCH must be a whole number of seconds, not '${env}'`);
    return n;
  }
  try {
    const t = execFileSync("git", ["log", "-1", "--format=%ct"], { cwd: projectRoot, encoding: "utf8", stdio: ["ignore", "pipe", "ignore"] }).trim();
    return /^\d+$/.test(t) ? Number(t) : 0;
  } catch {
    return 0;
  }
}

/** A stable UUID derived from text (so fixed per version, different between versions). */
export function uuidFrom(text: string): string {
  const h = crypto.createHash("sha256").update(`weir ${text}`).digest("hex");
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-4${h.slice(13, 16)}-8${h.slice(17, 20)}-${h.slice(20, 32)}`;
}

export async function sha256File(file: string): Promise<string> {
  const h = crypto.createHash("sha256");
  for await (const chunk of fs.createReadStream(file, { highWaterMark: 1 << 20 })) h.update(chunk as Buffer);
  return h.digest("hex");
}
