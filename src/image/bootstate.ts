// The appliance's A/B boot state, shared by GRUB (image/grub.cfg) and Linux.
// Two copies, state0.env and state1.env, in the ESP's /weir/ directory; each
// is one 1024-byte GRUB environment block. Linux only ever writes the copy
// that is not current, so a power cut mid-write leaves the current one whole.
//
// GRUB can't checksum, so weir_check holds "SEQ:CRC": GRUB's validity test is
// only that it starts with weir_seq (the two sit in different 512-byte sectors,
// so a torn write shows). Linux also checks the CRC, which covers everything
// Linux writes except the tries counters, the one thing GRUB rewrites.

import { open, readFile } from "node:fs/promises";
import path from "node:path";
import { fail } from "../errors.js";

export type Slot = "A" | "B";

export interface BootState {
  seq: number;
  order: ["A", "B"] | ["B", "A"];
  good: { A: boolean; B: boolean };
  version: { A: string; B: string };
  tries: { A: number; B: number };
  failed: string;
}

/** A state as the supervisor plans it; writeState assigns the seq. */
export type NextState = Omit<BootState, "seq">;

export type Invalid = { invalid: string };

export const BLOCK_SIZE = 1024;
export const COPY_FILES = ["state0.env", "state1.env"] as const;
const HEADER = "# GRUB Environment Block\n";
// weir_check must start in the second sector; 600 leaves margin past 512.
const CHECK_OFFSET = 600;
const MAX_TRIES = 3;
const MAX_VERSION = 64;
// No spaces, '|' (the CRC separator), '\' or newline (GRUB would escape them).
const VERSION_RE = /^[A-Za-z0-9._+~:-]*$/;
const FAILED_RE = /^(|[AB]|[AB] [A-Za-z0-9._+~:-]+)$/;
const NAMES = [
  "weir_seq", "weir_order", "weir_A_good", "weir_B_good", "weir_A_version", "weir_B_version",
  "weir_failed", "weir_A_tries", "weir_B_tries", "weir_pad", "weir_check",
] as const;
type Name = (typeof NAMES)[number];

export function otherSlot(slot: Slot): Slot {
  return slot === "A" ? "B" : "A";
}

// ---- CRC-32 (IEEE 802.3, as zlib's crc32); node:zlib has none in Node 20.

const CRC_TABLE = (() => {
  const t = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    t[n] = c >>> 0;
  }
  return t;
})();

export function crc32(data: Uint8Array): number {
  let c = 0xffffffff;
  for (const b of data) c = CRC_TABLE[(c ^ b) & 0xff] ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

/** The 8 hex digits of weir_check, over the raw value texts Linux writes (not the tries). */
function checksum(v: Record<Name, string>): string {
  const covered = [v.weir_seq, v.weir_order, v.weir_A_good, v.weir_B_good, v.weir_A_version, v.weir_B_version, v.weir_failed];
  return crc32(Buffer.from(covered.join("|"), "latin1")).toString(16).padStart(8, "0");
}

// ---- Encoding

function validate(s: BootState): void {
  const bad = (what: string) => fail("BAD_BOOT_STATE", `invalid boot state: ${what}`);
  if (!Number.isSafeInteger(s.seq) || s.seq < 0) bad(`seq ${s.seq}`);
  if (!Array.isArray(s.order) || s.order.length !== 2 || !["A B", "B A"].includes(s.order.join(" "))) bad(`order ${JSON.stringify(s.order)}`);
  for (const slot of ["A", "B"] as const) {
    if (typeof s.good[slot] !== "boolean") bad(`good.${slot} ${JSON.stringify(s.good[slot])}`);
    const v = s.version[slot];
    if (typeof v !== "string" || v.length > MAX_VERSION || !VERSION_RE.test(v)) bad(`version.${slot} ${JSON.stringify(v)}`);
    const t = s.tries[slot];
    if (!Number.isInteger(t) || t < 0 || t > MAX_TRIES) bad(`tries.${slot} ${t} (0-${MAX_TRIES})`);
  }
  if (typeof s.failed !== "string" || s.failed.length > MAX_VERSION + 2 || !FAILED_RE.test(s.failed)) bad(`failed ${JSON.stringify(s.failed)}`);
}

/** The state as one 1024-byte GRUB environment block. */
export function encodeState(s: BootState): Buffer {
  validate(s);
  const v = {
    weir_seq: String(s.seq),
    weir_order: s.order.join(" "),
    weir_A_good: s.good.A ? "1" : "0",
    weir_B_good: s.good.B ? "1" : "0",
    weir_A_version: s.version.A,
    weir_B_version: s.version.B,
    weir_failed: s.failed,
    weir_A_tries: String(s.tries.A),
    weir_B_tries: String(s.tries.B),
    weir_pad: "",
    weir_check: "",
  } satisfies Record<Name, string>;
  v.weir_check = `${v.weir_seq}:${checksum(v)}`;
  const before = HEADER + NAMES.slice(0, NAMES.indexOf("weir_pad")).map((n) => `${n}=${v[n]}\n`).join("");
  const padLine = (n: number) => `weir_pad=${"x".repeat(n)}\n`;
  v.weir_pad = "x".repeat(Math.max(0, CHECK_OFFSET - before.length - padLine(0).length));
  const text = before + padLine(v.weir_pad.length) + `weir_check=${v.weir_check}\n`;
  if (text.length > BLOCK_SIZE) fail("BAD_BOOT_STATE", `boot state does not fit in ${BLOCK_SIZE} bytes (${text.length})`);
  const block = Buffer.alloc(BLOCK_SIZE, "#");
  block.write(text, 0, "latin1");
  return block;
}

// ---- Decoding (stricter than GRUB: exact layout, the CRC, value ranges)

/** The state in a block, or why it is not a valid one. Never throws on bad bytes. */
export function decodeState(buf: Buffer): BootState | Invalid {
  const invalid = (why: string): Invalid => ({ invalid: why });
  if (buf.length !== BLOCK_SIZE) return invalid(`block is ${buf.length} bytes, not ${BLOCK_SIZE}`);
  const text = buf.toString("latin1");
  if (!text.startsWith(HEADER)) return invalid("no GRUB environment block header");
  const v = {} as Record<Name, string>;
  let p = HEADER.length, checkAt = 0;
  for (const name of NAMES) {
    if (text[p] === "#") return invalid(`${name} missing`);
    const nl = text.indexOf("\n", p);
    if (nl < 0) return invalid(`unterminated line at byte ${p}`);
    const line = text.slice(p, nl), eq = line.indexOf("=");
    if (eq < 0) return invalid(`line at byte ${p} has no '='`);
    const found = line.slice(0, eq);
    if (found !== name) return invalid(`expected ${name} at byte ${p}, found ${JSON.stringify(found.slice(0, 32))}`);
    if (name === "weir_check") checkAt = p;
    v[name] = line.slice(eq + 1);
    p = nl + 1;
  }
  const extra = text.slice(p).search(/[^#]/);
  if (extra >= 0) return invalid(`unexpected content at byte ${p + extra} after weir_check`);

  const check = /^(0|[1-9][0-9]*):([0-9a-f]{8})$/.exec(v.weir_check);
  if (!check) return invalid(`malformed weir_check ${JSON.stringify(v.weir_check)}`);
  if (check[1] !== v.weir_seq) return invalid(`weir_check is for seq ${check[1]} but weir_seq is ${JSON.stringify(v.weir_seq)} (torn write?)`);
  if (check[2] !== checksum(v)) return invalid(`CRC mismatch (weir_check ${check[2]}, contents ${checksum(v)})`);
  if (checkAt < CHECK_OFFSET) return invalid(`weir_check at byte ${checkAt}, before ${CHECK_OFFSET}`);
  if (!/^x*$/.test(v.weir_pad)) return invalid("weir_pad is not all 'x'");

  const seq = Number(v.weir_seq);
  if (!Number.isSafeInteger(seq)) return invalid(`weir_seq ${v.weir_seq} out of range`);
  if (v.weir_order !== "A B" && v.weir_order !== "B A") return invalid(`bad weir_order ${JSON.stringify(v.weir_order)}`);
  const flag = (n: Name) => (v[n] === "0" || v[n] === "1" ? v[n] === "1" : null);
  const goodA = flag("weir_A_good"), goodB = flag("weir_B_good");
  if (goodA === null || goodB === null) return invalid("weir_A_good/weir_B_good must be 0 or 1");
  for (const n of ["weir_A_version", "weir_B_version"] as const) {
    if (v[n].length > MAX_VERSION || !VERSION_RE.test(v[n])) return invalid(`bad ${n} ${JSON.stringify(v[n])}`);
  }
  if (!FAILED_RE.test(v.weir_failed)) return invalid(`bad weir_failed ${JSON.stringify(v.weir_failed)}`);
  for (const n of ["weir_A_tries", "weir_B_tries"] as const) {
    if (!/^[0-3]$/.test(v[n])) return invalid(`${n} ${JSON.stringify(v[n])} not in 0-${MAX_TRIES}`);
  }
  return {
    seq,
    order: v.weir_order === "A B" ? ["A", "B"] : ["B", "A"],
    good: { A: goodA, B: goodB },
    version: { A: v.weir_A_version, B: v.weir_B_version },
    tries: { A: Number(v.weir_A_tries), B: Number(v.weir_B_tries) },
    failed: v.weir_failed,
  };
}

export function isInvalid(r: BootState | Invalid): r is Invalid {
  return "invalid" in r;
}

// ---- Picking the current copy, as image/grub.cfg does

/**
 * Index of the copy that rules: higher seq; on equal seq the one carrying
 * GRUB's tries decrement (grub.cfg: copy 1 if its A tries are lower, else if
 * its B tries are lower; otherwise copy 0). GRUB's decrement changes one
 * counter, so this is "lower tries sum" for every state GRUB can produce.
 */
export function pickCurrent(c0: BootState | Invalid, c1: BootState | Invalid): 0 | 1 | null {
  if (isInvalid(c0)) return isInvalid(c1) ? null : 1;
  if (isInvalid(c1)) return 0;
  if (c0.seq !== c1.seq) return c1.seq > c0.seq ? 1 : 0;
  if (c1.tries.A < c0.tries.A || c1.tries.B < c0.tries.B) return 1;
  return 0;
}

// ---- Files

async function readCopy(dir: string, copy: 0 | 1): Promise<BootState | Invalid> {
  let buf: Buffer;
  try {
    buf = await readFile(path.join(dir, COPY_FILES[copy]));
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    return { invalid: err.code === "ENOENT" ? "missing" : `unreadable: ${err.message}` };
  }
  return decodeState(buf);
}

export async function readState(dir: string): Promise<{ current: BootState; copy: 0 | 1; other: BootState | Invalid }> {
  const copies = [await readCopy(dir, 0), await readCopy(dir, 1)] as const;
  const copy = pickCurrent(copies[0], copies[1]);
  if (copy === null) {
    const why = copies.map((c, i) => `${COPY_FILES[i]}: ${(c as Invalid).invalid}`).join("; ");
    fail("NO_BOOT_STATE", `no valid boot state in ${dir} (${why})`);
  }
  return { current: copies[copy] as BootState, copy, other: copies[1 - copy] };
}

async function syncDir(dir: string): Promise<void> {
  const d = await open(dir, "r");
  try {
    await d.sync();
  } finally {
    await d.close();
  }
}

/**
 * Writes the block over the file's first 1024 bytes in place: GRUB's save_env
 * writes through the file's existing disk blocks on the FAT ESP, so the file
 * is never recreated, renamed or truncated. Created only when missing.
 */
async function writeCopy(file: string, block: Buffer): Promise<void> {
  let fh;
  try {
    fh = await open(file, "r+");
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== "ENOENT") throw e;
    fh = await open(file, "wx", 0o644);
  }
  try {
    const { size } = await fh.stat();
    // Longer would never read back as valid, and truncating is not ours to do.
    if (size > BLOCK_SIZE) fail("BOOT_STATE_FILE", `${file} is ${size} bytes, not ${BLOCK_SIZE}: recreate it`);
    for (let done = 0; done < block.length; ) {
      const { bytesWritten } = await fh.write(block, done, block.length - done, done);
      done += bytesWritten;
    }
    await fh.sync();
  } finally {
    await fh.close();
  }
  await syncDir(path.dirname(file));
}

/** A deep copy holding only the state's own fields (a BootState passed in loses its seq). */
function clone(s: NextState): NextState {
  return {
    order: [...s.order] as BootState["order"],
    good: { ...s.good },
    version: { ...s.version },
    tries: { ...s.tries },
    failed: s.failed,
  };
}

/** Writes next (seq = current + 1) into the copy that is not current; returns what was written. */
export async function writeState(dir: string, next: NextState): Promise<BootState> {
  const { current, copy } = await readState(dir);
  const s: BootState = { seq: current.seq + 1, ...clone(next) };
  const block = encodeState(s);
  await writeCopy(path.join(dir, COPY_FILES[1 - copy]), block);
  return s;
}

/** The state of a freshly built image: slot A good with versionA, B empty. */
export function initialState(versionA: string): BootState {
  return {
    seq: 1,
    order: ["A", "B"],
    good: { A: true, B: false },
    version: { A: versionA, B: "" },
    tries: { A: 0, B: 0 },
    failed: "",
  };
}

/** Both copies with the same content (the image build). */
export async function writeInitialCopies(dir: string, s: BootState): Promise<void> {
  const block = encodeState(s);
  for (const f of COPY_FILES) await writeCopy(path.join(dir, f), block);
}

// ---- Plans: the supervisor's next states (pure; writeState assigns seq)

function first(slot: Slot): BootState["order"] {
  return slot === "A" ? ["A", "B"] : ["B", "A"];
}

/** Try the freshly written target slot first, up to MAX_TRIES boots, until marked good. */
export function planUpgrade(cur: NextState, target: Slot, version: string): NextState {
  const other = otherSlot(target);
  // With the other slot not good, a failed trial would leave nothing to boot.
  if (!cur.good[other]) fail("BOOT_NO_FALLBACK", `cannot upgrade slot ${target}: slot ${other} is not marked good`);
  if (!version || version.length > MAX_VERSION || !VERSION_RE.test(version)) fail("BAD_BOOT_STATE", `invalid version ${JSON.stringify(version)}`);
  const s = clone(cur);
  s.order = first(target);
  s.good[target] = false;
  s.tries[target] = MAX_TRIES;
  s.version[target] = version;
  s.failed = "";
  return s;
}

/** The booted slot works: GRUB boots it without counting from now on. */
export function planMarkGood(cur: NextState, booted: Slot): NextState {
  const s = clone(cur);
  s.good[booted] = true;
  s.tries[booted] = 0;
  s.order = first(booted);
  return s;
}

/** Give up on slot: no tries left and not good, so GRUB skips it. */
export function planMarkBad(cur: NextState, slot: Slot): NextState {
  const s = clone(cur);
  s.good[slot] = false;
  s.tries[slot] = 0;
  return s;
}

/**
 * On start: if GRUB fell back to the good booted slot because the other's
 * trial ran out of tries, put the booted slot first and record the failure.
 * null when there is nothing to write.
 */
export function planAfterBoot(cur: NextState, booted: Slot): NextState | null {
  const other = otherSlot(booted);
  if (!cur.good[booted] || cur.order[0] !== other || cur.good[other] || cur.tries[other] !== 0) return null;
  const s = clone(cur);
  s.order = first(booted);
  s.failed = cur.version[other] ? `${other} ${cur.version[other]}` : other;
  return s;
}
