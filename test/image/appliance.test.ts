// The running appliance's view of its image (src/image/appliance.ts) and the
// console words on top of it (src/image/words.ts), with a temp dir standing
// in for the appliance: plain files as slot "devices", the two boot-state
// copies, a config dir and a trusted key. No root, no QEMU.

import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import crypto from "node:crypto";
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, truncateSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { Readable } from "node:stream";
import { ApplianceImage, bootedFrom, type Booted } from "../../src/image/appliance.js";
import { createBundle, generateKeyPair } from "../../src/image/bundle.js";
import { initialState, readState, writeInitialCopies, writeState, type BootState } from "../../src/image/bootstate.js";
import type { ApplianceLayout } from "../../src/image/initramfs.js";
import { factoryReset, imageStatus, imageUpgrade, mgmt, rebootWord } from "../../src/image/words.js";
import { WeirError } from "../../src/errors.js";
import type { Logger } from "../../src/log.js";
import type { CommandContext } from "../../src/console/types.js";

// openPart is the stream upgrade() writes into the slot; `tamper` makes it
// yield other bytes of the same length, as if the bundle changed after it was verified.
const hooks = vi.hoisted(() => ({ tamper: false }));
vi.mock("../../src/image/bundle.js", async (importOriginal) => {
  const real = await importOriginal<typeof import("../../src/image/bundle.js")>();
  return {
    ...real,
    openPart: (file: string, part: { offset: number; size: number }) =>
      hooks.tamper ? Readable.from([Buffer.alloc(part.size, 0x5a)]) : real.openPart(file, part),
  };
});

const MiB = 1024 * 1024;
const ARCH = "x86_64";
const ctx: CommandContext = { source: "config" };
const keys = generateKeyPair();
const otherKeys = generateKeyPair();

let root: string;
let n = 0;
/** The slot image the bundles carry (a few KiB of random bytes) and a bigger one. */
let part: Buffer;
let bigPart: Buffer;
const bundles: Record<"v2" | "v3" | "same" | "down" | "arm" | "otherKey" | "corrupt" | "big", string> = {} as never;

function tempDir(): string {
  const d = path.join(root, `t${n++}`);
  mkdirSync(d);
  return d;
}

interface Appliance {
  dir: string;
  layout: ApplianceLayout;
  runDir: string;
  stateFiles: [string, string];
}

/** A fresh appliance: slot A good with 1.0.0, slot B empty; slot files 64 MiB (sparse) unless slotBBytes says otherwise. */
async function makeAppliance(opts: { slotBBytes?: number } = {}): Promise<Appliance> {
  const dir = tempDir();
  const stateDir = path.join(dir, "efi-weir");
  const configDir = path.join(dir, "config");
  const runDir = path.join(dir, "run");
  for (const d of [stateDir, configDir]) mkdirSync(d);
  // Names /sys/class/block has no entry for, so the slot's size is the file's.
  const slots = { A: path.join(dir, "slotA.img"), B: path.join(dir, "slotB.img") };
  writeFileSync(slots.A, "OLD SLOT A CONTENTS");
  truncateSync(slots.A, 64 * MiB);
  writeFileSync(slots.B, "OLD SLOT B CONTENTS");
  truncateSync(slots.B, opts.slotBBytes ?? 64 * MiB);
  const pub = path.join(dir, "bundle-key.pub");
  writeFileSync(pub, keys.publicPem);
  await writeInitialCopies(stateDir, initialState("1.0.0"));
  return {
    dir, runDir,
    layout: { version: "1.0.0", arch: ARCH, slots, stateDir, configDir, mgmtDev: "eth0", keys: [pub] },
    stateFiles: [path.join(stateDir, "state0.env"), path.join(stateDir, "state1.env")],
  };
}

/** Log calls, by level (also keeps pino's output out of the test run). */
function captureLog(): { log: Logger; calls: { level: string; msg: unknown }[] } {
  const calls: { level: string; msg: unknown }[] = [];
  const at = (level: string) => (_obj: unknown, msg?: unknown) => { calls.push({ level, msg }); };
  const log = { info: at("info"), warn: at("warn"), error: at("error"), debug: at("debug"), trace: at("trace"), fatal: at("fatal") };
  return { log: log as unknown as Logger, calls };
}

/** An instance as `weir run` has it once up: a good slot has passed its health check (markGood), a trial slot not yet. */
function image(a: Appliance, booted: Booted, version = a.layout.version, log = captureLog().log): ApplianceImage {
  const img = new ApplianceImage({ ...a.layout, version }, booted, log, a.runDir);
  img.markedGood = !booted.trial;
  return img;
}

const bootA: Booted = { slot: "A", trial: false };
const trialB: Booted = { slot: "B", trial: true };

/** Every byte the appliance keeps: both state copies and both slots. */
function snapshot(a: Appliance): Buffer[] {
  return [...a.stateFiles, a.layout.slots.A, a.layout.slots.B].map((f) => readFileSync(f));
}

function expectUnchanged(a: Appliance, before: Buffer[]): void {
  const after = snapshot(a);
  const names = ["state0.env", "state1.env", "slot A", "slot B"];
  for (let i = 0; i < before.length; i++) expect(after[i].equals(before[i]), `${names[i]} changed`).toBe(true);
}

async function state(a: Appliance): Promise<BootState> {
  return (await readState(a.layout.stateDir)).current;
}

function slotBegins(file: string, bytes: Buffer): boolean {
  return readFileSync(file).subarray(0, bytes.length).equals(bytes);
}

/** Expects a WeirError with this code (WEIR_ERR_ prefix added) and a message matching pattern. */
async function refused(p: Promise<unknown>, code: string, pattern?: RegExp): Promise<void> {
  const e = await p.then(() => null, (err: unknown) => err);
  expect(e, "expected a refusal").toBeInstanceOf(WeirError);
  expect((e as WeirError).code).toBe(`WEIR_ERR_${code}`);
  if (pattern) expect((e as WeirError).message).toMatch(pattern);
}

async function bundle(name: string, over: { version?: string; arch?: string; privateKeyPem?: string; minFrom?: string; slot?: Buffer } = {}): Promise<string> {
  const d = tempDir();
  const slotFile = path.join(d, "slot.img");
  writeFileSync(slotFile, over.slot ?? part);
  const out = path.join(d, `${name}.weirbundle`);
  await createBundle({
    out, privateKeyPem: over.privateKeyPem ?? keys.privatePem, version: over.version ?? "2.0.0", arch: over.arch ?? ARCH,
    minFrom: over.minFrom ?? "0.1.0", created: 1_700_000_000, parts: [{ name: "slot", file: slotFile }],
  });
  return out;
}

beforeAll(async () => {
  root = mkdtempSync(path.join(tmpdir(), "weir-appliance-"));
  part = crypto.randomBytes(5 * 1024 + 77);
  bigPart = crypto.randomBytes(64 * 1024);
  bundles.v2 = await bundle("v2");
  bundles.v3 = await bundle("v3", { version: "3.0.0" });
  bundles.same = await bundle("same", { version: "1.0.0" });
  bundles.down = await bundle("down", { version: "0.9.0" });
  bundles.arm = await bundle("arm", { arch: "aarch64" });
  bundles.otherKey = await bundle("other", { privateKeyPem: otherKeys.privatePem });
  bundles.big = await bundle("big", { slot: bigPart });
  // The v2 bundle with the last payload byte flipped (the signed header is intact).
  bundles.corrupt = path.join(tempDir(), "corrupt.weirbundle");
  copyFileSync(bundles.v2, bundles.corrupt);
  const bytes = readFileSync(bundles.corrupt);
  bytes[bytes.length - 1] ^= 0xff;
  writeFileSync(bundles.corrupt, bytes);
});

afterAll(() => {
  rmSync(root, { recursive: true, force: true });
});

describe("bootedFrom", () => {
  it("reads weir.slot and weir.trial from the kernel command line", () => {
    expect(bootedFrom("weir.slot=A")).toEqual({ slot: "A", trial: false });
    expect(bootedFrom("weir.slot=B weir.trial=1")).toEqual({ slot: "B", trial: true });
    expect(bootedFrom("BOOT_IMAGE=/vmlinuz console=ttyS0 weir.slot=B quiet\n")).toEqual({ slot: "B", trial: false });
    expect(bootedFrom("weir.trial=1 root=/dev/ram0 weir.slot=A")).toEqual({ slot: "A", trial: true });
    expect(bootedFrom("weir.slot=A weir.trial=0")).toEqual({ slot: "A", trial: false });
  });

  it("refuses a command line without a slot", () => {
    for (const cmdline of ["", "console=ttyS0 quiet", "weir.trial=1", "weir.slot=C", "weir.slot=", "xweir.slot=A", "weir.slot=AB"]) {
      let e: unknown;
      try {
        bootedFrom(cmdline);
      } catch (err) {
        e = err;
      }
      expect(e, JSON.stringify(cmdline)).toBeInstanceOf(WeirError);
      expect((e as WeirError).code).toBe("WEIR_ERR_IMAGE_NO_SLOT");
    }
  });

  it("load() reads the layout file and takes the slot from the command line", async () => {
    const a = await makeAppliance();
    const file = path.join(a.dir, "layout.json");
    writeFileSync(file, JSON.stringify(a.layout));
    const img = ApplianceImage.load(file, captureLog().log, "console=ttyS0 weir.slot=B weir.trial=1");
    expect(img.booted).toEqual({ slot: "B", trial: true });
    expect(img.layout).toEqual(a.layout);
  });
});

describe("upgrade", () => {
  it("writes the slot part into the other slot and boots it next, on trial", async () => {
    const a = await makeAppliance();
    const slotA = readFileSync(a.layout.slots.A);
    const seq = (await state(a)).seq;
    const r = await image(a, bootA).upgrade(bundles.v2, false);
    expect(r.slot).toBe("B");
    expect(r.version).toBe("2.0.0");

    const b = readFileSync(a.layout.slots.B);
    expect(b.subarray(0, part.length).equals(part)).toBe(true);
    expect(b.length).toBe(64 * MiB);
    expect(b.subarray(part.length).every((x) => x === 0)).toBe(true);
    expect(readFileSync(a.layout.slots.A).equals(slotA)).toBe(true);

    const s = await state(a);
    expect(s.order).toEqual(["B", "A"]);
    expect(s.good).toEqual({ A: true, B: false });
    expect(s.tries).toEqual({ A: 0, B: 3 });
    expect(s.version).toEqual({ A: "1.0.0", B: "2.0.0" });
    expect(s.failed).toBe("");
    // One write to make B unbootable while it is rewritten, one to make it boot next.
    expect(s.seq).toBe(seq + 2);
    expect(r.state).toEqual(s);
  });

  it("leaves the slot unbootable if what it wrote is not what was verified", async () => {
    const a = await makeAppliance();
    hooks.tamper = true;
    try {
      await refused(image(a, bootA).upgrade(bundles.v2, false), "BUNDLE_CORRUPT", /changed while it was written/);
    } finally {
      hooks.tamper = false;
    }
    const s = await state(a);
    expect(s.order).toEqual(["A", "B"]);
    expect(s.good).toEqual({ A: true, B: false });
    expect(s.tries).toEqual({ A: 0, B: 0 });
    expect(s.version).toEqual({ A: "1.0.0", B: "" });
  });

  const refusals: [string, () => string, string, RegExp][] = [
    ["a corrupt bundle", () => bundles.corrupt, "BUNDLE_CORRUPT", /sha256 mismatch/],
    ["a bundle signed by another key", () => bundles.otherKey, "BUNDLE_BAD_SIGNATURE", /another key/],
    ["a downgrade without force", () => bundles.down, "BUNDLE_DOWNGRADE", /0\.9\.0 is older than running 1\.0\.0/],
    ["the running version without force", () => bundles.same, "BUNDLE_SAME_VERSION", /same version/],
    ["a bundle for another architecture", () => bundles.arm, "BUNDLE_WRONG_ARCH", /aarch64/],
    ["a missing file", () => path.join(root, "no-such.weirbundle"), "BUNDLE_UNREADABLE", /no-such/],
  ];
  for (const [what, file, code, pattern] of refusals) {
    it(`refuses ${what} and writes nothing`, async () => {
      const a = await makeAppliance();
      const before = snapshot(a);
      await refused(image(a, bootA).upgrade(file(), false), code, pattern);
      expectUnchanged(a, before);
    });
  }

  it("refuses a slot image bigger than the slot and writes nothing", async () => {
    const a = await makeAppliance({ slotBBytes: 32 * 1024 });
    const before = snapshot(a);
    await refused(image(a, bootA).upgrade(bundles.big, false), "IMAGE_TOO_BIG", new RegExp(`${bigPart.length} bytes does not fit slot B \\(32768 bytes\\)`));
    expectUnchanged(a, before);
    // The small part does fit that slot.
    const r = await image(a, bootA).upgrade(bundles.v2, false);
    expect(r.slot).toBe("B");
    expect(slotBegins(a.layout.slots.B, part)).toBe(true);
  });

  it("installs a downgrade with force", async () => {
    const a = await makeAppliance();
    const r = await image(a, bootA).upgrade(bundles.down, true);
    expect(r).toMatchObject({ slot: "B", version: "0.9.0" });
    expect(slotBegins(a.layout.slots.B, part)).toBe(true);
    const s = await state(a);
    expect(s.version.B).toBe("0.9.0");
    expect(s.order).toEqual(["B", "A"]);
    expect(s.tries.B).toBe(3);
  });

  it("is refused while the booted slot is on trial and not yet good, then allowed once it is marked good", async () => {
    const a = await makeAppliance();
    await image(a, bootA).upgrade(bundles.v2, false);
    const b = image(a, trialB, "2.0.0");
    const before = snapshot(a);
    await refused(b.upgrade(bundles.v3, false), "IMAGE_STARTING", /not passed its health check/);
    expectUnchanged(a, before);

    await b.markGood();
    const r = await b.upgrade(bundles.v3, false);
    expect(r.slot).toBe("A");
    expect(slotBegins(a.layout.slots.A, part)).toBe(true);
    const s = await state(a);
    expect(s.order).toEqual(["A", "B"]);
    expect(s.good).toEqual({ A: false, B: true });
    expect(s.version).toEqual({ A: "3.0.0", B: "2.0.0" });
    expect(s.tries).toEqual({ A: 3, B: 0 });
  });
});

describe("markGood / markBad", () => {
  it("an image that has not passed its health check refuses upgrades; markGood on a good slot keeps a pending upgrade's order", async () => {
    const a = await makeAppliance();
    const starting = new ApplianceImage(a.layout, bootA, captureLog().log, a.runDir);
    const before = snapshot(a);
    await refused(starting.upgrade(bundles.v2, false), "IMAGE_STARTING", /not passed its health check/);
    expectUnchanged(a, before);
    // Another console upgrades before this instance's markGood runs: the order B A must survive it.
    await image(a, bootA).upgrade(bundles.v2, false);
    await starting.markGood();
    const s = await state(a);
    expect(s.order).toEqual(["B", "A"]);
    expect(s.tries.B).toBe(3);
  });

  it("markGood on a trial boot of the new slot makes it good and first, and says so", async () => {
    const a = await makeAppliance();
    await image(a, bootA).upgrade(bundles.v2, false);
    const { log, calls } = captureLog();
    const b = image(a, trialB, "2.0.0", log);
    expect(await b.status()).toMatch(/^running 2\.0\.0 \(x86_64\) from slot B on trial\n/);
    expect(b.markedGood).toBe(false);
    const marker = path.join(a.runDir, "marked-good");
    expect(existsSync(marker)).toBe(false);

    await b.markGood();
    const s = await state(a);
    expect(s.good).toEqual({ A: true, B: true });
    expect(s.tries).toEqual({ A: 0, B: 0 });
    expect(s.order).toEqual(["B", "A"]);
    expect(b.markedGood).toBe(true);
    expect(readFileSync(marker, "utf8")).toBe("B 2.0.0\n");
    expect(calls.some((c) => c.level === "info" && c.msg === "image marked good")).toBe(true);

    const text = await b.status();
    expect(text).toContain("running 2.0.0 (x86_64) from slot B");
    expect(text).not.toContain("on trial");
    expect(text).toMatch(/^B\s+2\.0\.0\s+good\s+active, boots next$/m);
    expect(text).toMatch(/^A\s+1\.0\.0\s+good\s*$/m);
    expect(text).toContain("boot order B A");
    expect(text).toContain("last upgrade failed: none");

    // Again: the state is already right, so nothing is written.
    const before = snapshot(a);
    await b.markGood();
    expectUnchanged(a, before);
  });

  it("markGood on a good slot that boots first writes no state, only the marker", async () => {
    const a = await makeAppliance();
    const before = snapshot(a);
    const img = image(a, bootA);
    await img.markGood();
    expectUnchanged(a, before);
    expect(readFileSync(path.join(a.runDir, "marked-good"), "utf8")).toBe("A 1.0.0\n");
    expect(img.markedGood).toBe(true);
  });

  it("markBad on a trial boot takes the slot's remaining tries", async () => {
    const a = await makeAppliance();
    await image(a, bootA).upgrade(bundles.v2, false);
    const { log, calls } = captureLog();
    await image(a, trialB, "2.0.0", log).markBad("health check failed");
    const s = await state(a);
    expect(s.tries).toEqual({ A: 0, B: 0 });
    expect(s.good).toEqual({ A: true, B: false });
    expect(s.version.B).toBe("2.0.0");
    expect(calls.filter((c) => c.level === "error")).toHaveLength(1);

    // GRUB then falls back to A, which notices the failure.
    const note = await image(a, bootA).afterBoot();
    expect(note).toContain("B 2.0.0");
    expect((await state(a)).failed).toBe("B 2.0.0");
  });

  it("markBad on a boot that is not a trial writes nothing", async () => {
    const a = await makeAppliance();
    await image(a, bootA).upgrade(bundles.v2, false);
    const before = snapshot(a);
    const { log, calls } = captureLog();
    await image(a, bootA, "1.0.0", log).markBad("health check failed");
    expectUnchanged(a, before);
    expect(calls).toHaveLength(0);
    expect((await state(a)).tries.B).toBe(3);
  });
});

describe("rollback (afterBoot)", () => {
  it("records the failed trial after GRUB fell back, once", async () => {
    const a = await makeAppliance();
    await image(a, bootA).upgrade(bundles.v2, false);
    // GRUB's three failed boots of B: its tries counter reaches 0.
    const cur = await state(a);
    await writeState(a.layout.stateDir, { ...cur, tries: { ...cur.tries, B: 0 } });

    const { log, calls } = captureLog();
    const img = image(a, bootA, "1.0.0", log);
    const note = await img.afterBoot();
    expect(note).toBeDefined();
    expect(note).toContain("B 2.0.0");
    expect(note).toContain("rolled back to 1.0.0 in slot A");
    expect(calls.filter((c) => c.level === "warn").map((c) => c.msg)).toEqual([note]);

    const s = await state(a);
    expect(s.order).toEqual(["A", "B"]);
    expect(s.failed).toBe("B 2.0.0");
    expect(s.good).toEqual({ A: true, B: false });
    expect(s.tries).toEqual({ A: 0, B: 0 });

    const text = await img.status();
    expect(text).toContain("running 1.0.0 (x86_64) from slot A");
    expect(text).toContain("last upgrade failed: B 2.0.0");
    expect(text).toMatch(/^B\s+2\.0\.0\s+failed\s*$/m);
    expect(text).toMatch(/^A\s+1\.0\.0\s+good\s+active, boots next$/m);

    const before = snapshot(a);
    expect(await img.afterBoot()).toBeUndefined();
    expect(await image(a, bootA).afterBoot()).toBeUndefined();
    expectUnchanged(a, before);
  });

  it("does nothing on an ordinary boot or while the trial still has tries", async () => {
    const a = await makeAppliance();
    let before = snapshot(a);
    expect(await image(a, bootA).afterBoot()).toBeUndefined();
    expectUnchanged(a, before);

    await image(a, bootA).upgrade(bundles.v2, false);
    before = snapshot(a);
    expect(await image(a, trialB, "2.0.0").afterBoot()).toBeUndefined();
    expect(await image(a, bootA).afterBoot()).toBeUndefined();
    expectUnchanged(a, before);
  });
});

describe("status", () => {
  it("shows both slots on a fresh image", async () => {
    const a = await makeAppliance();
    const text = await image(a, bootA).status();
    expect(text).toMatch(/^running 1\.0\.0 \(x86_64\) from slot A\n/);
    expect(text).toMatch(/^A\s+1\.0\.0\s+good\s+active, boots next$/m);
    expect(text).toMatch(/^B\s+\(empty\)\s+-\s*$/m);
    expect(text).toContain("boot order A B, state seq 1");
  });

  it("shows a pending trial with its boots left", async () => {
    const a = await makeAppliance();
    await image(a, bootA).upgrade(bundles.v2, false);
    const text = await image(a, bootA).status();
    expect(text).toMatch(/^B\s+2\.0\.0\s+trial, 3 boot\(s\) left\s+boots next$/m);
    expect(text).toMatch(/^A\s+1\.0\.0\s+good\s+active$/m);
  });
});

describe("console words", () => {
  it("image upgrade: ok, then reboots once", async () => {
    const a = await makeAppliance();
    const reboot = vi.fn();
    const r = await imageUpgrade(image(a, bootA), reboot).execute([bundles.v2], ctx);
    expect(r.ok).toBe(true);
    expect(r.text).toContain("2.0.0 written to slot B");
    expect(r.text).toContain("else slot A comes back");
    expect(reboot).toHaveBeenCalledTimes(1);
    expect(slotBegins(a.layout.slots.B, part)).toBe(true);
    expect((await state(a)).order).toEqual(["B", "A"]);
  });

  it("image upgrade PATH force installs a downgrade", async () => {
    const a = await makeAppliance();
    const reboot = vi.fn();
    const r = await imageUpgrade(image(a, bootA), reboot).execute([bundles.down, "force"], ctx);
    expect(r.ok).toBe(true);
    expect(reboot).toHaveBeenCalledTimes(1);
    expect((await state(a)).version.B).toBe("0.9.0");
  });

  it("image upgrade: a refusal is an error reply and no reboot", async () => {
    const a = await makeAppliance();
    const reboot = vi.fn();
    const word = imageUpgrade(image(a, bootA), reboot);
    const before = snapshot(a);
    for (const [file, pattern] of [[bundles.corrupt, /corrupt/], [bundles.down, /downgrade/], [bundles.otherKey, /another key/]] as const) {
      const r = await word.execute([file], ctx);
      expect(r.ok).toBe(false);
      expect(r.text).toMatch(/^error: /);
      expect(r.text).toMatch(pattern);
      expect(r.text).not.toContain("\n");
    }
    expect(reboot).not.toHaveBeenCalled();
    expectUnchanged(a, before);
  });

  it("image upgrade: bad arguments are error replies and touch nothing", async () => {
    const a = await makeAppliance();
    const reboot = vi.fn();
    const word = imageUpgrade(image(a, bootA), reboot);
    const before = snapshot(a);
    const none = await word.execute([], ctx);
    expect(none).toEqual({ ok: false, text: "error: image upgrade needs the bundle's path" });
    const extra = await word.execute([bundles.v2, "frob"], ctx);
    expect(extra.ok).toBe(false);
    expect(extra.text).toMatch(/^error: unexpected argument 'frob'/);
    const twice = await word.execute([bundles.v2, "force", "force"], ctx);
    expect(twice.ok).toBe(false);
    expect(reboot).not.toHaveBeenCalled();
    expectUnchanged(a, before);
  });

  it("image status", async () => {
    const a = await makeAppliance();
    const word = imageStatus(image(a, bootA));
    const r = await word.execute([], ctx);
    expect(r.ok).toBe(true);
    expect(r.text).toContain("running 1.0.0 (x86_64) from slot A");
    expect(r.text).toContain("boot order A B");
    expect(await word.execute(["x"], ctx)).toEqual({ ok: false, text: "error: unexpected argument 'x'" });
  });

  it("factory-reset needs 'confirm'; then marks the config dir and reboots", async () => {
    const a = await makeAppliance();
    const reboot = vi.fn();
    const word = factoryReset(image(a, bootA), reboot);
    const flag = path.join(a.layout.configDir, ".factory-reset");
    for (const args of [[], ["yes"], ["confirm", "now"]]) {
      const r = await word.execute(args, ctx);
      expect(r.ok).toBe(false);
      expect(r.text).toMatch(/^error: .*factory-reset confirm/);
    }
    expect(existsSync(flag)).toBe(false);
    expect(reboot).not.toHaveBeenCalled();

    const r = await word.execute(["confirm"], ctx);
    expect(r.ok).toBe(true);
    expect(existsSync(flag)).toBe(true);
    expect(reboot).toHaveBeenCalledTimes(1);
  });

  it("reboot", async () => {
    const reboot = vi.fn();
    const word = rebootWord(reboot);
    expect((await word.execute(["now"], ctx)).ok).toBe(false);
    expect(reboot).not.toHaveBeenCalled();
    expect(await word.execute([], ctx)).toEqual({ ok: true, text: "rebooting" });
    expect(reboot).toHaveBeenCalledTimes(1);
  });
});

describe("mgmt", () => {
  it("mgmt address: flushes, adds, brings the link up, and keeps it in the running config", async () => {
    const apply = vi.fn(async (_args: string[]) => undefined);
    const word = mgmt("eth0", apply);
    expect(word.runningConfig!()).toEqual([]);
    const r = await word.execute(["address", "198.18.5.2/24"], ctx);
    expect(r).toEqual({ ok: true, text: "" });
    expect(apply.mock.calls.map((c) => c[0])).toEqual([
      ["addr", "flush", "dev", "eth0", "scope", "global"],
      ["addr", "add", "198.18.5.2/24", "dev", "eth0"],
      ["link", "set", "eth0", "up"],
    ]);
    expect(word.runningConfig!()).toEqual(["mgmt address 198.18.5.2/24"]);
    expect(await word.execute([], ctx)).toEqual({ ok: true, text: "eth0: address 198.18.5.2/24, gateway none" });
  });

  it("mgmt address: a bad address is an error and changes nothing", async () => {
    const apply = vi.fn(async (_args: string[]) => undefined);
    const word = mgmt("eth0", apply);
    await word.execute(["address", "198.18.5.2/24"], ctx);
    apply.mockClear();
    for (const bad of ["198.18.5.300/24", "198.18.5.2/33", "198.18.5.2", "eth0"]) {
      const r = await word.execute(["address", bad], ctx);
      expect(r.ok, bad).toBe(false);
      expect(r.text).toMatch(/^error: mgmt address /);
    }
    expect(apply).not.toHaveBeenCalled();
    expect(word.runningConfig!()).toEqual(["mgmt address 198.18.5.2/24"]);
  });

  it("mgmt takes only dotted quads, as the rest of the console (no shorthand or hex; a leading zero is decimal, not octal)", async () => {
    const apply = vi.fn(async (_args: string[]) => undefined);
    const word = mgmt("eth0", apply);
    for (const [what, bad] of [["gateway", "198.18.5"], ["address", "10.1/8"], ["gateway", "0xc6.18.5.1"]]) {
      const r = await word.execute([what, bad], ctx);
      expect(r.ok, bad).toBe(false);
    }
    expect(apply).not.toHaveBeenCalled();
    expect((await word.execute(["address", "010.1.5.2/24"], ctx)).ok).toBe(true);
    expect(word.runningConfig!()).toEqual(["mgmt address 10.1.5.2/24"]);
  });

  it("mgmt address: a failed add puts the previous address back", async () => {
    const apply = vi.fn(async (args: string[]) => {
      if (args[1] === "add" && args[2] === "198.18.6.2/24") throw new Error("RTNETLINK answers: boom");
      return undefined;
    });
    const word = mgmt("eth0", apply);
    await word.execute(["address", "198.18.5.2/24"], ctx);
    apply.mockClear();
    await word.execute(["address", "198.18.6.2/24"], ctx);
    expect(apply.mock.calls.map((c) => c[0])).toEqual([
      ["addr", "flush", "dev", "eth0", "scope", "global"],
      ["addr", "add", "198.18.6.2/24", "dev", "eth0"],
      ["addr", "add", "198.18.5.2/24", "dev", "eth0"],
    ]);
  });

  it("mgmt address: a failing ip command is an error reply; the running config keeps the old address", async () => {
    const apply = vi.fn(async (args: string[]) => {
      if (args[1] === "add" && args[2] === "198.18.6.2/24") throw new Error("RTNETLINK answers: boom");
      return undefined;
    });
    const word = mgmt("eth0", apply);
    await word.execute(["address", "198.18.5.2/24"], ctx);
    const r = await word.execute(["address", "198.18.6.2/24"], ctx);
    expect(r.ok).toBe(false);
    expect(r.text).toContain("boom");
    expect(word.runningConfig!()).toEqual(["mgmt address 198.18.5.2/24"]);
  });

  it("mgmt gateway replaces the default route", async () => {
    const apply = vi.fn(async (_args: string[]) => undefined);
    const word = mgmt("eth1", apply);
    expect(await word.execute(["gateway", "198.18.5.1"], ctx)).toEqual({ ok: true, text: "" });
    expect(apply.mock.calls.map((c) => c[0])).toEqual([["route", "replace", "default", "via", "198.18.5.1", "dev", "eth1"]]);
    expect(word.runningConfig!()).toEqual(["mgmt gateway 198.18.5.1"]);
    await word.execute(["address", "198.18.5.2/24"], ctx);
    expect(word.runningConfig!()).toEqual(["mgmt address 198.18.5.2/24", "mgmt gateway 198.18.5.1"]);

    apply.mockClear();
    for (const gw of ["198.18.5.256", "gw", "198.18.5.1/24"]) {
      const bad = await word.execute(["gateway", gw], ctx);
      expect(bad.ok, gw).toBe(false);
      expect(bad.text).toMatch(/^error: mgmt gateway /);
    }
    expect(apply).not.toHaveBeenCalled();
    expect(word.runningConfig!()).toEqual(["mgmt address 198.18.5.2/24", "mgmt gateway 198.18.5.1"]);
  });

  it("other forms are errors", async () => {
    const apply = vi.fn(async (_args: string[]) => undefined);
    const word = mgmt("eth0", apply);
    const frob = await word.execute(["frob", "x"], ctx);
    expect(frob.ok).toBe(false);
    expect(frob.text).toMatch(/^error: .*'frob'/);
    expect((await word.execute(["address"], ctx)).ok).toBe(false);
    expect((await word.execute(["address", "198.18.5.2/24", "extra"], ctx)).ok).toBe(false);
    expect(apply).not.toHaveBeenCalled();
    expect(word.runningConfig!()).toEqual([]);
  });
});
