// The initramfs tree: busybox, the kernel modules the init loads, Node.js,
// ip and nft with their libraries, the Weir build (dist, Wasm, addon and
// production node_modules), the init script and the image's identity
// (version, trusted bundle key, layout). Entries come out sorted by path so
// the archive is the same for the same inputs.

import fs from "node:fs";
import path from "node:path";
import type { CpioEntry } from "./cpio.js";
import { run } from "./exec.js";

export interface ImageIdentity {
  version: string;
  arch: string;
  /** PEM of the public key bundles must be signed with. */
  publicKeyPem: string;
  markGoodTimeoutSeconds: number;
}

export class TreeBuilder {
  private readonly entries = new Map<string, CpioEntry>();

  dir(p: string, mode = 0o755): void {
    const parts = p.split("/").filter(Boolean);
    for (let i = 1; i <= parts.length; i++) {
      const d = parts.slice(0, i).join("/");
      if (!this.entries.has(d)) this.entries.set(d, { type: "dir", path: d, mode: i === parts.length ? mode : 0o755 });
    }
  }

  file(p: string, data: Uint8Array, mode = 0o644): void {
    const rel = p.replace(/^\/+/, "");
    this.dir(path.posix.dirname(rel));
    this.entries.set(rel, { type: "file", path: rel, data, mode });
  }

  /** A host file at the same path, its mode kept (symlinks followed). */
  hostFile(p: string, as = p): void {
    const st = fs.statSync(p);
    this.file(as, fs.readFileSync(p), st.mode & 0o777);
  }

  /** A host directory's files (filter decides by relative path). */
  hostTree(src: string, dest: string, filter: (rel: string) => boolean = () => true): void {
    const walk = (rel: string) => {
      for (const e of fs.readdirSync(path.join(src, rel), { withFileTypes: true })) {
        const r = rel ? `${rel}/${e.name}` : e.name;
        if (e.isDirectory()) walk(r);
        else if ((e.isFile() || e.isSymbolicLink()) && filter(r)) this.hostFile(path.join(src, r), `${dest}/${r}`);
      }
    };
    walk("");
  }

  symlink(p: string, target: string): void {
    const rel = p.replace(/^\/+/, "");
    this.dir(path.posix.dirname(rel));
    this.entries.set(rel, { type: "symlink", path: rel, target });
  }

  chardev(p: string, major: number, minor: number, mode = 0o600): void {
    this.entries.set(p, { type: "chardev", path: p, major, minor, mode });
  }

  /** Entries sorted by path (a directory sorts before what it holds). */
  sorted(): CpioEntry[] {
    return [...this.entries.values()].sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
  }

  get size(): number {
    let n = 0;
    for (const e of this.entries.values()) if (e.type === "file") n += e.data.length;
    return n;
  }
}

/** The Weir build under /opt/weir: what `weir run` needs, nothing for development. */
export async function addWeir(t: TreeBuilder, root: string): Promise<void> {
  const dest = "opt/weir";
  t.hostFile(path.join(root, "package.json"), `${dest}/package.json`);
  t.hostFile(path.join(root, "bin", "weir.js"), `${dest}/bin/weir.js`);
  t.hostTree(path.join(root, "dist"), `${dest}/dist`, (r) => r.endsWith(".js"));
  t.hostFile(path.join(root, "build", "weir.wasm"), `${dest}/build/weir.wasm`);
  t.hostTree(path.join(root, "native"), `${dest}/native`, (r) => !r.includes("/") && (r.endsWith(".node") || r === "index.js" || r === "package.json"));
  t.hostTree(path.join(root, "src", "console", "web"), `${dest}/src/console/web`);
  // Production dependencies only, as npm resolved them.
  const { stdout } = await run("npm", ["ls", "--omit=dev", "--all", "--parseable"], { cwd: root });
  for (const dir of stdout.split("\n").map((l) => l.trim()).filter((l) => l && l !== root)) {
    const rel = path.relative(root, dir);
    if (!rel.startsWith("node_modules")) continue;
    t.hostTree(dir, `${dest}/${rel}`, (r) => !r.startsWith("node_modules/") && !/\.(md|markdown|map|ts)$/i.test(r));
  }
}

/** Busybox (applet links are made by the init at boot), device nodes, the init and the identity files. */
export function addBase(t: TreeBuilder, busybox: string, init: string, id: ImageIdentity, modules: string[]): void {
  for (const d of ["bin", "sbin", "usr/bin", "usr/sbin", "dev", "proc", "sys", "run", "tmp", "root", "config", "boot/efi", "etc/weir"]) t.dir(d);
  t.file("bin/busybox", fs.readFileSync(busybox), 0o755);
  t.chardev("dev/console", 5, 1);
  t.file("init", fs.readFileSync(init), 0o755);
  t.file("etc/weir/version", Buffer.from(`${id.version}\n`));
  t.file("etc/weir/bundle-key.pub", Buffer.from(id.publicKeyPem));
  t.file("etc/weir/modules", Buffer.from(`${modules.join("\n")}\n`));
  t.file("etc/weir/markgood-timeout", Buffer.from(`${id.markGoodTimeoutSeconds}\n`));
  t.file("etc/weir/image.json", Buffer.from(`${JSON.stringify(applianceLayout(id), null, 2)}\n`));
  // weir-script: the user script health checks run as (src/health/policy.ts), never root.
  t.file("etc/passwd", Buffer.from("root:x:0:0:root:/root:/bin/sh\nweir-script:x:990:990:weir health scripts:/nonexistent:/bin/false\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n"));
  t.file("etc/group", Buffer.from("root:x:0:\nweir-script:x:990:\nnogroup:x:65534:\n"));
  // Health scripts live on the config partition (the slot is read-only); the init makes the directory.
  t.symlink("etc/weir/scripts", "/config/scripts");
}

/** Where things are on the appliance's disk: what `weir run --image` reads. */
export interface ApplianceLayout {
  version: string;
  arch: string;
  slots: { A: string; B: string };
  stateDir: string;
  configDir: string;
  /** The management NIC: the kernel's, never attached to the data plane. */
  mgmtDev: string;
  keys: string[];
}

export function applianceLayout(id: ImageIdentity): ApplianceLayout {
  return {
    version: id.version, arch: id.arch,
    slots: { A: "/dev/vda2", B: "/dev/vda3" },
    stateDir: "/boot/efi/weir", configDir: "/config", mgmtDev: "eth0",
    keys: ["/etc/weir/bundle-key.pub"],
  };
}
