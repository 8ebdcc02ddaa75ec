// `weir image …`: build, keygen, boot (CONTRACTS.md), and upgrade a running
// appliance over its WebSocket console.

import fs from "node:fs";
import path from "node:path";
import type { Command } from "commander";
import { projectRoot } from "./recipe.js";
import { KEY_FILE, writeKeyPair } from "./bundle.js";

/** Where `weir image build` keeps its signing key unless --key names one (not in git). */
export const DEFAULT_KEY_DIR = path.join(projectRoot, ".weir", "keys");

export function addImageCommands(program: Command): void {
  const image = program.command("image").description("appliance images: build, sign, boot in QEMU, upgrade");

  image.command("build")
    .description("build a bootable disk image (GPT: ESP, slots A/B, config) and a signed update bundle")
    .option("--out <dir>", "output directory", "out/image")
    .option("--version <v>", "image version (default: package.json)")
    .option("--min-from <v>", "oldest version the bundle may upgrade from", "0.0.0")
    .option("--key <file>", "ed25519 signing key (PEM); default .weir/keys/weir-bundle.key, made when missing")
    .option("--cache <dir>", "where Debian packages are kept between builds")
    .option("--no-disk", "only the update bundle")
    .option("--fault <what>", "test only: 'dataplane' builds an image whose data plane cannot load")
    .action(async (o) => {
      if (o.fault !== undefined && o.fault !== "dataplane") throw new Error(`--fault knows only 'dataplane', not '${o.fault}'`);
      let keyFile: string = o.key;
      if (!keyFile) {
        keyFile = path.join(DEFAULT_KEY_DIR, KEY_FILE);
        if (!fs.existsSync(keyFile)) {
          await writeKeyPair(DEFAULT_KEY_DIR);
          process.stderr.write(`made a new signing key ${keyFile}: images built with it accept only bundles it signs, so keep it\n`);
        }
      }
      const { buildImage } = await import("./build.js");
      const r = await buildImage({ out: o.out, version: o.version, minFrom: o.minFrom, keyFile, cacheDir: o.cache, disk: o.disk, fault: o.fault });
      process.stdout.write(`${r.report}\n`);
    });

  image.command("keygen")
    .description("make an ed25519 key pair for signing update bundles")
    .option("--out <dir>", "directory for weir-bundle.key (0600) and weir-bundle.pub", DEFAULT_KEY_DIR)
    .action(async (o) => {
      const k = await writeKeyPair(o.out);
      process.stdout.write(`private key ${k.keyFile}\npublic key  ${k.pubFile}\n`);
    });

  image.command("upgrade")
    .description("upload a signed bundle to a running appliance over its WebSocket console and install it (it reboots into it)")
    .argument("<bundle>", "bundle from weir image build")
    .requiredOption("--url <url>", "the appliance's WebSocket console, wss://HOST:PORT")
    .option("--token <token>", "console token (discouraged: other users see it in ps; use --token-file or $WEIR_TOKEN)")
    .option("--token-file <file>", "read the console token from this file (default: $WEIR_TOKEN)")
    .option("--fingerprint <sha256>", "pin the appliance's TLS certificate: its SHA-256 fingerprint (image status, the serial banner)")
    .option("--force", "allow a downgrade or reinstalling the running version")
    .action(async (bundle: string, o) => {
      const { uploadAndUpgrade } = await import("./upgrade-client.js");
      process.exitCode = await uploadAndUpgrade({ url: o.url, token: o.token, tokenFile: o.tokenFile, fingerprint: o.fingerprint, bundle, force: o.force === true });
    });

  image.command("boot")
    .description("boot an image as a QEMU VM: first --nic is management, the others data links")
    .argument("<disk>", "disk image from weir image build")
    .option("--serial <where>", "stdio or unix:PATH", "stdio")
    .option("--nic <netns:ifname>", "a tap named IFNAME placed in namespace NETNS (repeat)", (v: string, acc: string[]) => [...acc, v], [] as string[])
    .option("--accel <a>", "tcg or kvm", "tcg")
    .option("--memory <MiB>", "guest memory", "1536")
    .action(async (disk: string, o) => {
      const { bootVm, parseNic } = await import("./boot.js");
      if (o.accel !== "tcg" && o.accel !== "kvm") throw new Error(`--accel is tcg or kvm, not '${o.accel}'`);
      const vm = await bootVm({ disk, serial: o.serial, nics: (o.nic as string[]).map(parseNic), accel: o.accel, memoryMiB: Number(o.memory) });
      const stop = () => { void vm.stop(); };
      process.once("SIGINT", stop);
      process.once("SIGTERM", stop);
      process.exitCode = await vm.exited;
    });
}
