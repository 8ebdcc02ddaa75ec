import { describe, it, expect, beforeEach, afterEach } from "vitest";
import { mkdtemp, readFile, rm, stat, writeFile, unlink } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import {
  BLOCK_SIZE, crc32, decodeState, encodeState, initialState, isInvalid, otherSlot, planAfterBoot,
  planMarkBad, planMarkGood, planUpgrade, readState, writeInitialCopies, writeState,
  type BootState, type NextState, type Slot,
} from "../../src/image/bootstate.js";
import { WeirError } from "../../src/errors.js";

const sample: BootState = {
  seq: 41,
  order: ["B", "A"],
  good: { A: true, B: false },
  version: { A: "2025.06.1", B: "2025.07.0-rc1+g1a2b3c" },
  tries: { A: 0, B: 2 },
  failed: "B 2025.06.9",
};

function valid(r: ReturnType<typeof decodeState>): BootState {
  if (isInvalid(r)) throw new Error(`unexpectedly invalid: ${r.invalid}`);
  return r;
}

describe("encode/decode", () => {
  it("round-trips", () => {
    for (const s of [sample, initialState("1.0.0"), { ...sample, seq: 0, failed: "", version: { A: "", B: "" } }]) {
      expect(decodeState(encodeState(s))).toEqual(s);
    }
  });

  it("matches the standard CRC-32", () => {
    expect(crc32(Buffer.from("123456789"))).toBe(0xcbf43926);
    expect(crc32(Buffer.alloc(0))).toBe(0);
  });

  it("is one GRUB environment block of exactly 1024 bytes, variables in order", () => {
    const block = encodeState(sample);
    expect(block.length).toBe(BLOCK_SIZE);
    const text = block.toString("latin1");
    const body = text.slice(0, text.lastIndexOf("\n") + 1);
    expect(text.slice(body.length)).toMatch(/^#+$/);
    const lines = body.split("\n").slice(0, -1);
    expect(lines[0]).toBe("# GRUB Environment Block");
    expect(lines.slice(1).map((l) => l.split("=")[0])).toEqual([
      "weir_seq", "weir_order", "weir_A_good", "weir_B_good", "weir_A_version", "weir_B_version",
      "weir_failed", "weir_A_tries", "weir_B_tries", "weir_pad", "weir_check",
    ]);
    expect(lines).toContain("weir_order=B A");
    expect(lines).toContain("weir_failed=B 2025.06.9");
    const crc = crc32(Buffer.from("41|B A|1|0|2025.06.1|2025.07.0-rc1+g1a2b3c|B 2025.06.9")).toString(16).padStart(8, "0");
    expect(lines).toContain(`weir_check=41:${crc}`);
  });

  it("puts weir_check at byte 600 or later, short or long values", () => {
    const long = "9".repeat(64);
    for (const s of [initialState(""), sample, { ...sample, seq: 2 ** 53 - 1, version: { A: long, B: long }, failed: `A ${long}` }]) {
      const text = encodeState(s).toString("latin1");
      expect(text.indexOf("\nweir_check=") + 1).toBeGreaterThanOrEqual(600);
      expect(decodeState(encodeState(s))).toEqual(s);
    }
  });

  it("rejects values GRUB would escape or that would not parse back", () => {
    const bad: Array<Partial<BootState>> = [
      { version: { A: "1.0\\", B: "" } },
      { version: { A: "1.0\n", B: "" } },
      { version: { A: " 1.0", B: "" } },
      { version: { A: "1|0", B: "" } },
      { version: { A: "1".repeat(65), B: "" } },
      { failed: "C 1.0" },
      { failed: "A " },
      { tries: { A: 4, B: 0 } },
      { tries: { A: 0, B: -1 } },
      { tries: { A: 1.5, B: 0 } },
      { seq: -1 },
      { seq: 1.5 },
      { order: ["A", "A"] as unknown as BootState["order"] },
    ];
    for (const b of bad) {
      expect(() => encodeState({ ...sample, ...b }), JSON.stringify(b)).toThrow(WeirError);
    }
  });

  it("rejects blocks of the wrong length, header or variable set", () => {
    const text = encodeState(sample).toString("latin1");
    const same = (from: string, to: string) => {
      const t = text.replace(from, to);
      const withPad = t.length < BLOCK_SIZE ? t + "#".repeat(BLOCK_SIZE - t.length) : t.slice(0, BLOCK_SIZE);
      return decodeState(Buffer.from(withPad, "latin1"));
    };
    expect(decodeState(encodeState(sample).subarray(0, 1023))).toEqual({ invalid: expect.stringMatching(/1023 bytes/) });
    expect(decodeState(Buffer.concat([encodeState(sample), Buffer.from("#")]))).toMatchObject({ invalid: expect.any(String) });
    expect(decodeState(Buffer.alloc(BLOCK_SIZE))).toMatchObject({ invalid: expect.stringMatching(/header/) });
    expect(same("# GRUB", "# grub")).toMatchObject({ invalid: expect.stringMatching(/header/) });
    expect(same("weir_failed=B 2025.06.9\n", "")).toMatchObject({ invalid: expect.stringMatching(/weir_failed/) });
    expect(same("weir_failed=", "weir_unknown=x\nweir_failed=")).toMatchObject({ invalid: expect.stringMatching(/weir_unknown/) });
    expect(same("#".repeat(10), "weir_more=1\n")).toMatchObject({ invalid: expect.stringMatching(/after weir_check/) });
    expect(same("weir_A_tries=0", "weir_A_tries=4")).toMatchObject({ invalid: expect.stringMatching(/weir_A_tries/) });
    expect(same("weir_pad=xx", "weir_pad=x")).toMatchObject({ invalid: expect.stringMatching(/unexpected content|weir_check/) });
  });

  it("any single changed byte makes a copy invalid (except a tries digit changed to another 0-3)", () => {
    for (const s of [sample, initialState("1.0.0")]) {
      const block = encodeState(s);
      const text = block.toString("latin1");
      const triesAt = (slot: Slot) => text.indexOf(`weir_${slot}_tries=`) + `weir_${slot}_tries=`.length;
      const tries = new Map<number, Slot>([[triesAt("A"), "A"], [triesAt("B"), "B"]]);
      let checked = 0;
      for (let pos = 0; pos < BLOCK_SIZE; pos++) {
        for (const mask of [0x01, 0x02, 0x04, 0x08, 0x10, 0x20, 0x40, 0x80, 0xff, 0x13]) {
          const flipped = Buffer.from(block);
          flipped[pos] ^= mask;
          const r = decodeState(flipped);
          const slot = tries.get(pos);
          const digit = flipped[pos] - 0x30;
          if (slot && digit >= 0 && digit <= 3) {
            // By design: GRUB rewrites tries, so the CRC leaves them out.
            expect(r).toEqual({ ...s, tries: { ...s.tries, [slot]: digit } });
          } else {
            expect(isInvalid(r), `byte ${pos} ^ ${mask}`).toBe(true);
          }
          checked++;
        }
      }
      expect(checked).toBe(BLOCK_SIZE * 10);
    }
  });

  it("detects a torn write (one sector new, the other old)", () => {
    const oldBlock = encodeState(sample);
    const variants: BootState[] = [
      { ...sample, seq: 42 },
      { ...sample, seq: 42, version: { A: "3", B: "4" }, failed: "" },
      { ...sample, seq: 42, version: { A: "1".repeat(64), B: "2".repeat(64) } },
    ];
    for (const n of variants) {
      const newBlock = encodeState(n);
      const newFirst = Buffer.concat([newBlock.subarray(0, 512), oldBlock.subarray(512)]);
      const oldFirst = Buffer.concat([oldBlock.subarray(0, 512), newBlock.subarray(512)]);
      expect(isInvalid(decodeState(newFirst))).toBe(true);
      expect(isInvalid(decodeState(oldFirst))).toBe(true);
    }
    const torn = Buffer.concat([encodeState({ ...sample, seq: 42 }).subarray(0, 512), oldBlock.subarray(512)]);
    expect(decodeState(torn)).toEqual({ invalid: expect.stringMatching(/seq 41 .* is "42" \(torn write\?\)/) });
  });

  it("never throws on random bytes", () => {
    let x = 12345;
    for (let i = 0; i < 500; i++) {
      const b = encodeState(sample);
      for (let k = 0; k < 1 + (i % 20); k++) {
        x = (x * 1103515245 + 12345) >>> 0;
        b[x % BLOCK_SIZE] = x >>> 24;
      }
      expect(() => decodeState(b)).not.toThrow();
    }
    expect(isInvalid(decodeState(Buffer.alloc(BLOCK_SIZE, 0xff)))).toBe(true);
  });
});

// ---- Files

let dir: string;
beforeEach(async () => { dir = await mkdtemp(path.join(tmpdir(), "weir-bootstate-")); });
afterEach(async () => { await rm(dir, { recursive: true, force: true }); });

const copyFile = (i: 0 | 1) => path.join(dir, `state${i}.env`);
const put = (i: 0 | 1, s: BootState | Buffer) => writeFile(copyFile(i), Buffer.isBuffer(s) ? s : encodeState(s));
const bytes = (i: 0 | 1) => readFile(copyFile(i));

/** What image/grub.cfg does on a trial boot: decrement tries textually into the other copy, same seq. */
async function grubDecrement(slot: Slot): Promise<void> {
  const { current, copy } = await readState(dir);
  const text = (await bytes(copy)).toString("latin1");
  const from = `weir_${slot}_tries=${current.tries[slot]}\n`;
  expect(text).toContain(from);
  const edited = text.replace(from, `weir_${slot}_tries=${current.tries[slot] - 1}\n`);
  expect(edited.length).toBe(BLOCK_SIZE);
  await writeFile(copyFile(copy === 0 ? 1 : 0), Buffer.from(edited, "latin1"));
}

/** One pass of image/grub.cfg's slot choice; returns the slot it boots. */
async function grubBoot(): Promise<Slot | "none"> {
  const { current } = await readState(dir);
  for (const slot of current.order) {
    if (current.good[slot]) return slot;
    if (current.tries[slot] > 0) {
      await grubDecrement(slot);
      return slot;
    }
  }
  return "none";
}

describe("readState", () => {
  it("picks the higher seq, either copy", async () => {
    await put(0, { ...sample, seq: 4 });
    await put(1, { ...sample, seq: 5, version: { A: "x", B: "y" } });
    expect(await readState(dir)).toMatchObject({ copy: 1, current: { seq: 5 }, other: { seq: 4 } });
    await put(0, { ...sample, seq: 6 });
    expect(await readState(dir)).toMatchObject({ copy: 0, current: { seq: 6 }, other: { seq: 5 } });
  });

  it("on equal seq picks the copy with fewer tries left, copy 0 on a full tie", async () => {
    await put(0, { ...sample, tries: { A: 0, B: 3 } });
    await put(1, { ...sample, tries: { A: 0, B: 2 } });
    expect((await readState(dir)).copy).toBe(1);
    await put(0, { ...sample, tries: { A: 0, B: 1 } });
    expect((await readState(dir)).copy).toBe(0);
    await put(1, { ...sample, tries: { A: 2, B: 0 } });
    await put(0, { ...sample, tries: { A: 3, B: 0 } });
    expect((await readState(dir)).copy).toBe(1);
    await put(1, { ...sample, tries: { A: 3, B: 0 } });
    expect((await readState(dir)).copy).toBe(0);
  });

  it("uses the other copy when one is garbage, torn or missing", async () => {
    await put(0, { ...sample, seq: 9 });
    await put(1, Buffer.alloc(BLOCK_SIZE, "#"));
    expect(await readState(dir)).toMatchObject({ copy: 0, other: { invalid: expect.stringMatching(/header/) } });
    const torn = Buffer.concat([encodeState({ ...sample, seq: 10 }).subarray(0, 512), encodeState(sample).subarray(512)]);
    await put(0, torn);
    await put(1, { ...sample, seq: 8 });
    expect(await readState(dir)).toMatchObject({ copy: 1, current: { seq: 8 } });
    await unlink(copyFile(0));
    expect(await readState(dir)).toMatchObject({ copy: 1, other: { invalid: "missing" } });
  });

  it("fails with both reasons when neither copy is valid", async () => {
    await put(0, Buffer.from("garbage"));
    const err = await readState(dir).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(WeirError);
    expect(err).toMatchObject({ code: "WEIR_ERR_NO_BOOT_STATE" });
    expect((err as Error).message).toMatch(/state0\.env: block is 7 bytes.*state1\.env: missing/);
  });
});

describe("writeState", () => {
  it("writes the non-current copy in place, never touching the current one, alternating", async () => {
    await writeInitialCopies(dir, initialState("1.0.0"));
    expect(await bytes(0)).toEqual(await bytes(1));
    const inodes = [(await stat(copyFile(0))).ino, (await stat(copyFile(1))).ino];
    for (let n = 0; n < 4; n++) {
      const before = await readState(dir);
      const currentBytes = await bytes(before.copy);
      const written = await writeState(dir, { ...before.current, failed: `A v${n}` });
      expect(written).toEqual({ ...before.current, seq: before.current.seq + 1, failed: `A v${n}` });
      expect(await bytes(before.copy)).toEqual(currentBytes);
      const after = await readState(dir);
      expect(after.copy).toBe(before.copy === 0 ? 1 : 0);
      expect(after.current).toEqual(written);
      expect(after.other).toEqual(before.current);
    }
    expect([(await stat(copyFile(0))).ino, (await stat(copyFile(1))).ino]).toEqual(inodes);
    expect((await readState(dir)).current.seq).toBe(5);
  });

  it("creates the other copy when missing, and refuses an invalid state before writing", async () => {
    await put(0, initialState("1.0.0"));
    const s = await writeState(dir, planUpgrade(initialState("1.0.0"), "B", "2.0.0"));
    expect(decodeState(await bytes(1))).toEqual(s);
    const snapshot = [await bytes(0), await bytes(1)];
    await expect(writeState(dir, { ...s, version: { A: "bad version", B: "" } })).rejects.toThrow(WeirError);
    expect([await bytes(0), await bytes(1)]).toEqual(snapshot);
  });

  it("refuses to leave trailing bytes in an over-long copy", async () => {
    await put(0, initialState("1.0.0"));
    await put(1, Buffer.alloc(2048, "#"));
    await expect(writeState(dir, initialState("1.0.0"))).rejects.toMatchObject({ code: "WEIR_ERR_BOOT_STATE_FILE" });
  });

  it("accepts GRUB's tries decrement written to the other copy with the same seq", async () => {
    await writeInitialCopies(dir, initialState("1.0.0"));
    const up = await writeState(dir, planUpgrade(initialState("1.0.0"), "B", "2.0.0"));
    expect(await readState(dir)).toMatchObject({ copy: 1, current: { seq: 2, tries: { B: 3 } } });
    await grubDecrement("B");
    const r = await readState(dir);
    expect(r.copy).toBe(0);
    expect(r.current).toEqual({ ...up, tries: { A: 0, B: 2 } });
    expect(decodeState(await bytes(0))).toEqual(r.current);
    expect((await bytes(0)).toString("latin1")).toContain("weir_B_tries=2\n");
  });
});

describe("plans", () => {
  const v1 = initialState("1.0.0");

  it("otherSlot", () => {
    expect(otherSlot("A")).toBe("B");
    expect(otherSlot("B")).toBe("A");
  });

  it("are pure", () => {
    const before = JSON.stringify(v1);
    planUpgrade(v1, "B", "2.0.0");
    planMarkGood(v1, "A");
    planMarkBad(v1, "A");
    planAfterBoot(v1, "A");
    expect(JSON.stringify(v1)).toBe(before);
  });

  it("upgrade, three failed trial boots, fallback, recorded after boot (pure)", () => {
    const up = planUpgrade({ ...v1, failed: "B old" }, "B", "2.0.0");
    expect(up).toEqual({
      order: ["B", "A"], good: { A: true, B: false }, version: { A: "1.0.0", B: "2.0.0" }, tries: { A: 0, B: 3 }, failed: "",
    });
    let s: NextState = up;
    for (let i = 0; i < 3; i++) s = { ...s, tries: { ...s.tries, B: s.tries.B - 1 } };
    expect(planAfterBoot(s, "A")).toEqual({ ...s, order: ["A", "B"], failed: "B 2.0.0" });
    expect(planAfterBoot(planAfterBoot(s, "A")!, "A")).toBeNull();
    expect(planAfterBoot(up, "A")).toBeNull(); // B still has tries
    expect(planAfterBoot(up, "B")).toBeNull(); // booted slot not good
  });

  it("upgrade then mark good (pure)", () => {
    const up = planUpgrade(v1, "B", "2.0.0");
    const good = planMarkGood({ ...up, tries: { A: 0, B: 2 } }, "B");
    expect(good).toEqual({
      order: ["B", "A"], good: { A: true, B: true }, version: { A: "1.0.0", B: "2.0.0" }, tries: { A: 0, B: 0 }, failed: "",
    });
    expect(planAfterBoot(good, "B")).toBeNull();
    expect(planUpgrade(good, "A", "3.0.0")).toMatchObject({ order: ["A", "B"], good: { A: false, B: true }, tries: { A: 3, B: 0 } });
  });

  it("refuse an upgrade with no good slot to fall back to, or a bad version", () => {
    expect(() => planUpgrade({ ...v1, good: { A: false, B: false } }, "B", "2.0.0")).toThrow(/slot A is not marked good/);
    expect(() => planUpgrade(v1, "B", "")).toThrow(WeirError);
    expect(() => planUpgrade(v1, "B", "2 0")).toThrow(WeirError);
  });

  it("mark bad: GRUB skips the slot and the good one records the failure", () => {
    const bad = planMarkBad({ ...planUpgrade(v1, "B", "2.0.0"), tries: { A: 0, B: 2 } }, "B");
    expect(bad).toMatchObject({ order: ["B", "A"], good: { A: true, B: false }, tries: { A: 0, B: 0 } });
    expect(planAfterBoot(bad, "A")).toMatchObject({ order: ["A", "B"], failed: "B 2.0.0" });
  });

  it("upgrade -> 3 failed trial boots -> fallback -> planAfterBoot, through the files and GRUB's rule", async () => {
    await writeInitialCopies(dir, v1);
    await writeState(dir, planUpgrade((await readState(dir)).current, "B", "2.0.0"));
    for (const left of [2, 1, 0]) {
      expect(await grubBoot()).toBe("B"); // trial boot; the new image never marks itself good
      expect((await readState(dir)).current.tries.B).toBe(left);
    }
    expect(await grubBoot()).toBe("A");
    const cur = (await readState(dir)).current;
    const plan = planAfterBoot(cur, "A");
    expect(plan).toMatchObject({ order: ["A", "B"], failed: "B 2.0.0" });
    const written = await writeState(dir, plan!);
    expect(written).toMatchObject({ seq: cur.seq + 1, good: { A: true, B: false }, version: { A: "1.0.0", B: "2.0.0" } });
    expect(await grubBoot()).toBe("A");
    expect(planAfterBoot((await readState(dir)).current, "A")).toBeNull();
  });

  it("upgrade -> trial boot -> mark good, through the files and GRUB's rule", async () => {
    await writeInitialCopies(dir, v1);
    await writeState(dir, planUpgrade((await readState(dir)).current, "B", "2.0.0"));
    expect(await grubBoot()).toBe("B");
    const booted = await readState(dir);
    expect(booted.current.tries.B).toBe(2);
    expect(planAfterBoot(booted.current, "B")).toBeNull();
    await writeState(dir, planMarkGood(booted.current, "B"));
    for (let i = 0; i < 2; i++) {
      expect(await grubBoot()).toBe("B");
      expect((await readState(dir)).current).toMatchObject({ good: { A: true, B: true }, tries: { A: 0, B: 0 }, order: ["B", "A"] });
    }
  });
});
