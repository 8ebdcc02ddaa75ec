// The image as the running appliance sees it (`weir run --image FILE`): which
// slot booted and whether on trial, the A/B boot state, upgrades into the
// other slot, mark-good after the supervisor's health check, and noticing a
// rollback. State writes go one at a time (bootstate.ts reads, then writes).

import { spawn } from "node:child_process";
import crypto from "node:crypto";
import fs from "node:fs";
import fsp from "node:fs/promises";
import path from "node:path";
import { pipeline } from "node:stream/promises";
import { Writable } from "node:stream";
import { fail } from "../errors.js";
import type { Logger } from "../log.js";
import type { ApplianceLayout } from "./initramfs.js";
import { openPart, verifyBundle } from "./bundle.js";
import { watchdogStatus } from "./watchdog.js";
import { otherSlot, planAfterBoot, planMarkBad, planMarkGood, planUpgrade, readState, writeState, type BootState, type Slot } from "./bootstate.js";

export interface Booted { slot: Slot; trial: boolean }

/** weir.slot= and weir.trial= from the kernel command line (GRUB sets them). */
export function bootedFrom(cmdline: string): Booted {
  const slot = /(?:^|\s)weir\.slot=([AB])(?:\s|$)/.exec(cmdline)?.[1] as Slot | undefined;
  if (!slot) fail("IMAGE_NO_SLOT", "the kernel command line names no weir.slot: not booted from a Weir image");
  return { slot, trial: /(?:^|\s)weir\.trial=1(?:\s|$)/.test(cmdline) };
}

export class ApplianceImage {
  private chain: Promise<unknown> = Promise.resolve();
  /** Set after the health check passes (or on a slot that was already good). */
  markedGood = false;

  constructor(readonly layout: ApplianceLayout, readonly booted: Booted, private readonly log: Logger, private readonly runDir = "/run/weir") {}

  static load(file: string, log: Logger, cmdline = fs.readFileSync("/proc/cmdline", "utf8")): ApplianceImage {
    const layout = JSON.parse(fs.readFileSync(file, "utf8")) as ApplianceLayout;
    return new ApplianceImage(layout, bootedFrom(cmdline), log);
  }

  private serial<T>(fn: () => Promise<T>): Promise<T> {
    const next = this.chain.then(fn, fn);
    this.chain = next.catch(() => undefined);
    return next;
  }

  /** On start: after GRUB fell back from a failed trial, put this slot first and keep the failure for `image status`. */
  afterBoot(): Promise<string | undefined> {
    return this.serial(async () => {
      const { current } = await readState(this.layout.stateDir);
      const next = planAfterBoot(current, this.booted.slot);
      if (!next) return undefined;
      await writeState(this.layout.stateDir, next);
      const note = `upgrade to ${next.failed} failed (never marked good): rolled back to ${current.version[this.booted.slot]} in slot ${this.booted.slot}`;
      this.log.warn({ failed: next.failed }, note);
      return note;
    });
  }

  /** The supervisor's health check passed: a trial slot becomes good (GRUB stops counting). */
  markGood(): Promise<void> {
    return this.serial(async () => {
      const { current } = await readState(this.layout.stateDir);
      // Only a slot on trial is reordered: a good slot's order may already name a pending upgrade.
      if (!current.good[this.booted.slot]) {
        await writeState(this.layout.stateDir, planMarkGood(current, this.booted.slot));
        this.log.info({ slot: this.booted.slot, version: this.layout.version }, "image marked good");
      }
      this.markedGood = true;
      await fsp.mkdir(this.runDir, { recursive: true });
      await fsp.writeFile(path.join(this.runDir, "marked-good"), `${this.booted.slot} ${this.layout.version}\n`);
    });
  }

  /** The health check failed on a trial boot: GRUB is not to try this slot again. */
  markBad(why: string): Promise<void> {
    return this.serial(async () => {
      if (!this.booted.trial) return;
      const { current } = await readState(this.layout.stateDir);
      await writeState(this.layout.stateDir, planMarkBad(current, this.booted.slot));
      this.log.error({ slot: this.booted.slot, why }, "trial image failed its health check");
    });
  }

  async status(): Promise<string> {
    const { current: s } = await readState(this.layout.stateDir);
    const row = (slot: Slot) => {
      const v = s.version[slot] || "(empty)";
      const state = s.good[slot] ? "good" : s.tries[slot] > 0 ? `trial, ${s.tries[slot]} boot(s) left` : s.version[slot] ? "failed" : "-";
      const flags = [slot === this.booted.slot ? "active" : "", s.order[0] === slot ? "boots next" : ""].filter(Boolean).join(", ");
      return `${slot}     ${v.padEnd(16)} ${state.padEnd(24)} ${flags}`;
    };
    return [
      `running ${this.layout.version} (${this.layout.arch}) from slot ${this.booted.slot}${this.booted.trial && !this.markedGood ? " on trial" : ""}`,
      `slot  version          state                    `.trimEnd(),
      row("A"), row("B"),
      `boot order ${s.order.join(" ")}, state seq ${s.seq}`,
      s.failed ? `last upgrade failed: ${s.failed} (rolled back)` : "last upgrade failed: none",
      `watchdog ${watchdogStatus()}`,
    ].join("\n");
  }

  /**
   * Checks the bundle (signature, hashes, version, architecture), writes its
   * slot image into the other slot, re-hashing what it writes, and makes that
   * slot the one GRUB tries next. Nothing is written if the bundle is refused.
   */
  upgrade(file: string, force: boolean): Promise<{ slot: Slot; version: string; state: BootState }> {
    return this.serial(async () => {
      if (!this.markedGood) fail("IMAGE_STARTING", "this image has not passed its health check yet (still starting, or on trial): upgrade once it is up");
      const keys = this.layout.keys.map((k) => fs.readFileSync(k, "utf8"));
      const b = await verifyBundle(file, { publicKeyPems: keys, running: { version: this.layout.version, arch: this.layout.arch }, force });
      const part = b.parts.find((p) => p.name === "slot");
      if (!part) fail("BUNDLE_MALFORMED", `${file}: no slot part`);
      const { current } = await readState(this.layout.stateDir);
      const target = otherSlot(this.booted.slot);
      const device = this.layout.slots[target];
      const room = partitionBytes(device);
      if (part.size > room) fail("IMAGE_TOO_BIG", `${file}: slot image of ${part.size} bytes does not fit slot ${target} (${room} bytes)`);
      // The target slot is no longer bootable while it is rewritten.
      const next = planUpgrade(current, target, b.manifest.version);
      const unbootable = planMarkBad(current, target);
      await writeState(this.layout.stateDir, { ...unbootable, version: { ...unbootable.version, [target]: "" } });
      const digest = await writeDevice(openPart(file, part), device);
      if (digest !== part.sha256) fail("BUNDLE_CORRUPT", `${file}: changed while it was written (slot ${target} left unbootable)`);
      const state = await writeState(this.layout.stateDir, next);
      this.log.info({ slot: target, version: b.manifest.version }, "upgrade written");
      return { slot: target, version: b.manifest.version, state };
    });
  }

  /** Asks init's config check to clear the configuration at the next boot. */
  async factoryReset(): Promise<void> {
    await fsp.writeFile(path.join(this.layout.configDir, ".factory-reset"), "");
  }
}

function partitionBytes(device: string): number {
  const name = path.basename(device);
  try {
    return Number(fs.readFileSync(`/sys/class/block/${name}/size`, "utf8").trim()) * 512;
  } catch {
    return fs.statSync(device).size;
  }
}

/** Streams into the device, fsyncs it, and returns the sha256 of what was written. */
async function writeDevice(src: NodeJS.ReadableStream, device: string): Promise<string> {
  const h = crypto.createHash("sha256");
  const fh = await fsp.open(device, "r+");
  let pos = 0;
  try {
    await pipeline(src, new Writable({
      async write(chunk: Buffer, _enc, cb) {
        try {
          h.update(chunk);
          await fh.write(chunk, 0, chunk.length, pos);
          pos += chunk.length;
          cb();
        } catch (e) { cb(e as Error); }
      },
    }));
    await fh.sync();
  } finally {
    await fh.close();
  }
  return h.digest("hex");
}

/** sync, then reboot through busybox (the appliance's init is busybox sh). */
export function rebootSoon(ms = 500): void {
  setTimeout(() => {
    const c = spawn("sh", ["-c", "sync; reboot -f"], { stdio: "ignore", detached: true });
    c.unref();
  }, ms).unref();
}
