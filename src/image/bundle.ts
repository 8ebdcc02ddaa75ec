// The signed update bundle of the appliance image. Layout (integers big-endian):
//
//   "WEIRBDL1" | u32 M | M bytes manifest (UTF-8 JSON) | u32 S | S bytes signature | payload
//
// S is 0 (unsigned) or 64: an ed25519 signature over everything before it
// (magic, M and the manifest). The payload is the parts' bytes back to back,
// in manifest order. Parts may be ~100 MB, so they are only ever streamed.
//
// verifyBundle checks in this order: framing (magic, lengths) → signature →
// manifest fields → total size → product/arch/version → part hashes. The
// manifest is not even parsed before its signature checks out, so a tampered
// manifest reads as "signed by another key", not as whatever it now claims,
// and an unsigned or wrongly signed file is never hashed.

import crypto from "node:crypto";
import { promises as fsp, createReadStream } from "node:fs";
import type { FileHandle } from "node:fs/promises";
import path from "node:path";
import { Readable } from "node:stream";
import { fail } from "../errors.js";
import { compareVersions, parseVersion } from "./version.js";

export const BUNDLE_MAGIC = "WEIRBDL1";
export const MAX_MANIFEST_BYTES = 65536;
export const SIGNATURE_BYTES = 64;
export const KEY_FILE = "weir-bundle.key";
export const PUB_FILE = "weir-bundle.pub";

const MAGIC = Buffer.from(BUNDLE_MAGIC, "ascii");
const CHUNK = 1 << 20;
const MAX_PARTS = 64;
const PART_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;
const ARCH = /^[A-Za-z0-9_-]{1,32}$/;
const SHA256_HEX = /^[0-9a-f]{64}$/;

export interface ManifestPart {
  name: string;
  size: number;
  sha256: string;
}

export interface Manifest {
  format: 1;
  product: string;
  version: string;
  arch: string;
  minFrom: string;
  created: number;
  parts: ManifestPart[];
}

/** A part and where its bytes start in the bundle file. */
export interface BundlePart extends ManifestPart {
  offset: number;
}

export interface BundleHeader {
  file: string;
  manifest: Manifest;
  /** The 64-byte signature, or null if the bundle is unsigned (not checked here). */
  signature: Buffer | null;
  payloadOffset: number;
  /** The file size the header implies (and that the file has). */
  totalSize: number;
  parts: BundlePart[];
}

export interface VerifiedBundle {
  file: string;
  manifest: Manifest;
  parts: BundlePart[];
  payloadOffset: number;
  size: number;
  /** Index into publicKeyPems of the key that signed it. */
  signer: number;
}

export interface CreateBundleOptions {
  out: string;
  privateKeyPem: string;
  version: string;
  arch: string;
  minFrom: string;
  created: number;
  parts: { name: string; file: string }[];
}

export interface CreatedBundle {
  /** sha256 of the whole bundle file. */
  sha256: string;
  size: number;
  manifest: Manifest;
}

export interface VerifyOptions {
  publicKeyPems: string[];
  running: { version: string; arch: string };
  /** Allows a downgrade or reinstalling the running version; nothing else. */
  force?: boolean;
}

// ---------------------------------------------------------------- keys

/** A fresh ed25519 signing key pair as PKCS8 / SPKI PEM. */
export function generateKeyPair(): { privatePem: string; publicPem: string } {
  const { privateKey, publicKey } = crypto.generateKeyPairSync("ed25519", {
    privateKeyEncoding: { type: "pkcs8", format: "pem" },
    publicKeyEncoding: { type: "spki", format: "pem" },
  });
  return { privatePem: privateKey, publicPem: publicKey };
}

/** Writes a new key pair into dir as weir-bundle.key (0600) and weir-bundle.pub (0644); never overwrites a key. */
export async function writeKeyPair(dir: string): Promise<{ keyFile: string; pubFile: string }> {
  await fsp.mkdir(dir, { recursive: true });
  const keyFile = path.join(dir, KEY_FILE);
  const pubFile = path.join(dir, PUB_FILE);
  const { privatePem, publicPem } = generateKeyPair();
  // "wx" makes the existence check and the creation one step.
  let fh: FileHandle;
  try {
    fh = await fsp.open(keyFile, "wx", 0o600);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === "EEXIST") {
      fail("KEY_EXISTS", `${keyFile} already exists; refusing to overwrite a bundle signing key (move it away first)`);
    }
    throw e;
  }
  try {
    await fh.chmod(0o600);
    await fh.writeFile(privatePem);
    await fh.sync();
  } catch (e) {
    await fh.close().catch(() => {});
    await fsp.rm(keyFile, { force: true });
    throw e;
  }
  await fh.close();
  // The public key is derived from the new private key, so a stale one is replaced.
  await writeFileAtomically(pubFile, async (out) => { await out.writeFile(publicPem); }, 0o644);
  return { keyFile, pubFile };
}

function loadPrivateKey(pem: string): crypto.KeyObject {
  let key: crypto.KeyObject;
  try {
    key = crypto.createPrivateKey(pem);
  } catch {
    fail("BUNDLE_KEY", "the bundle signing key is not a PEM private key");
  }
  if (key.asymmetricKeyType !== "ed25519") fail("BUNDLE_KEY", `the bundle signing key is ${key.asymmetricKeyType}, not ed25519`);
  return key;
}

function loadPublicKey(pem: string, index: number): crypto.KeyObject {
  let key: crypto.KeyObject;
  try {
    key = crypto.createPublicKey(pem);
  } catch {
    fail("BUNDLE_KEY", `trusted key ${index + 1} is not a PEM public key`);
  }
  if (key.asymmetricKeyType !== "ed25519") fail("BUNDLE_KEY", `trusted key ${index + 1} is ${key.asymmetricKeyType}, not ed25519`);
  return key;
}

// ---------------------------------------------------------------- manifest

function show(v: unknown): string {
  if (v === undefined) return "missing";
  const s = JSON.stringify(v) ?? String(v);
  return s.length > 40 ? `${s.slice(0, 40)}…` : s;
}

/** The manifest with its fields checked, in canonical key order; bad() names the offending field. */
function checkManifest(doc: unknown, bad: (what: string) => never): Manifest {
  if (typeof doc !== "object" || doc === null || Array.isArray(doc)) bad("not a JSON object");
  const m = doc as Record<string, unknown>;
  if (m.format !== 1) bad(`field 'format' is ${show(m.format)}, expected 1`);
  if (typeof m.product !== "string" || m.product === "") bad(`field 'product' is ${show(m.product)}, expected a non-empty string`);
  const version = parseVersion(m.version);
  if (!version) bad(`field 'version' is ${show(m.version)}, not MAJOR.MINOR.PATCH[-suffix]`);
  if (typeof m.arch !== "string" || !ARCH.test(m.arch)) bad(`field 'arch' is ${show(m.arch)}, expected a name like x86_64`);
  const minFrom = parseVersion(m.minFrom);
  if (!minFrom) bad(`field 'minFrom' is ${show(m.minFrom)}, not MAJOR.MINOR.PATCH[-suffix]`);
  if (compareVersions(minFrom, version) > 0) bad(`field 'minFrom' (${m.minFrom}) is newer than field 'version' (${m.version})`);
  if (!Number.isSafeInteger(m.created) || (m.created as number) < 0) bad(`field 'created' is ${show(m.created)}, expected unix seconds`);
  if (!Array.isArray(m.parts) || m.parts.length === 0 || m.parts.length > MAX_PARTS) {
    bad(`field 'parts' is ${show(m.parts)}, expected a list of 1 to ${MAX_PARTS} parts`);
  }
  const names = new Set<string>();
  const parts = (m.parts as unknown[]).map((p, i): ManifestPart => {
    const where = `parts[${i}]`;
    if (typeof p !== "object" || p === null || Array.isArray(p)) bad(`field '${where}' is not an object`);
    const { name, size, sha256 } = p as Record<string, unknown>;
    if (typeof name !== "string" || !PART_NAME.test(name)) bad(`field '${where}.name' is ${show(name)}, expected a name of letters, digits, '.', '_' or '-'`);
    if (names.has(name)) bad(`field '${where}.name': part ${name} appears twice`);
    names.add(name);
    if (!Number.isSafeInteger(size) || (size as number) < 0) bad(`field '${where}.size' is ${show(size)}, expected a byte count`);
    if (typeof sha256 !== "string" || !SHA256_HEX.test(sha256)) bad(`field '${where}.sha256' is ${show(sha256)}, expected 64 lowercase hex digits`);
    return { name, size: size as number, sha256 };
  });
  return {
    format: 1,
    product: m.product as string,
    version: m.version as string,
    arch: m.arch as string,
    minFrom: m.minFrom as string,
    created: m.created as number,
    parts,
  };
}

function parseManifest(bytes: Buffer, file: string): Manifest {
  const bad = (what: string): never => fail("BUNDLE_MALFORMED", `${file}: malformed manifest: ${what}`);
  let doc: unknown;
  try {
    doc = JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(bytes));
  } catch {
    bad("not valid UTF-8 JSON");
  }
  return checkManifest(doc, bad);
}

/** Each part's offset in the file, and the file size the manifest implies. */
function layOut(manifest: Manifest, payloadOffset: number, file: string): { parts: BundlePart[]; totalSize: number } {
  let offset = payloadOffset;
  const parts = manifest.parts.map((p) => {
    const part = { ...p, offset };
    offset += p.size;
    return part;
  });
  if (!Number.isSafeInteger(offset)) fail("BUNDLE_MALFORMED", `${file}: malformed manifest: field 'parts': the sizes add up to more than any file`);
  return { parts, totalSize: offset };
}

// ---------------------------------------------------------------- reading

function truncated(file: string, expected: string, actual: number): never {
  fail("BUNDLE_TRUNCATED", `${file}: truncated: expected ${expected} bytes, found ${actual}`);
}

function checkSize(file: string, expected: number, actual: number): void {
  if (actual < expected) truncated(file, String(expected), actual);
  if (actual > expected) {
    fail("BUNDLE_TRAILING_DATA", `${file}: ${actual - expected} bytes after the end of the payload: expected ${expected} bytes, found ${actual}`);
  }
}

/** Exactly length bytes at position, or a truncation error if the file ends first. */
async function readAt(fh: FileHandle, file: string, position: number, length: number): Promise<Buffer> {
  const buf = Buffer.alloc(length);
  let got = 0;
  while (got < length) {
    const { bytesRead } = await fh.read(buf, got, length - got, position + got);
    if (bytesRead === 0) truncated(file, `at least ${position + length}`, position + got);
    got += bytesRead;
  }
  return buf;
}

interface Framing {
  /** Magic, manifest length and manifest: the bytes the signature covers. */
  signed: Buffer;
  manifestBytes: Buffer;
  signature: Buffer | null;
  payloadOffset: number;
  fileSize: number;
}

/** The header's pieces, checking only magic and lengths; nothing in the manifest is interpreted. */
async function readFraming(fh: FileHandle, file: string): Promise<Framing> {
  const st = await fh.stat();
  if (!st.isFile()) fail("BUNDLE_NOT_A_BUNDLE", `${file}: not an update bundle (not a regular file)`);
  const fileSize = st.size;
  if (fileSize === 0) fail("BUNDLE_NOT_A_BUNDLE", `${file}: not an update bundle (the file is empty)`);
  const head = await readAt(fh, file, 0, Math.min(fileSize, MAGIC.length));
  if (!head.equals(MAGIC)) fail("BUNDLE_NOT_A_BUNDLE", `${file}: not an update bundle (no ${BUNDLE_MAGIC} magic)`);
  const manifestLength = (await readAt(fh, file, MAGIC.length, 4)).readUInt32BE(0);
  if (manifestLength > MAX_MANIFEST_BYTES) {
    fail("BUNDLE_MALFORMED", `${file}: malformed manifest: length ${manifestLength} is over the limit of ${MAX_MANIFEST_BYTES} bytes`);
  }
  const manifestEnd = MAGIC.length + 4 + manifestLength;
  const signedAndLength = await readAt(fh, file, 0, manifestEnd + 4);
  const signatureLength = signedAndLength.readUInt32BE(manifestEnd);
  if (signatureLength !== 0 && signatureLength !== SIGNATURE_BYTES) {
    fail("BUNDLE_MALFORMED", `${file}: malformed bundle: signature length ${signatureLength}, expected 0 or ${SIGNATURE_BYTES}`);
  }
  const signature = signatureLength ? await readAt(fh, file, manifestEnd + 4, signatureLength) : null;
  return {
    signed: signedAndLength.subarray(0, manifestEnd),
    manifestBytes: signedAndLength.subarray(MAGIC.length + 4, manifestEnd),
    signature,
    payloadOffset: manifestEnd + 4 + signatureLength,
    fileSize,
  };
}

async function withBundle<T>(file: string, body: (fh: FileHandle) => Promise<T>): Promise<T> {
  let fh: FileHandle;
  try {
    fh = await fsp.open(file, "r");
  } catch (e) {
    fail("BUNDLE_UNREADABLE", `${file}: cannot open: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
  }
  try {
    return await body(fh);
  } finally {
    await fh.close();
  }
}

/** Reads and checks the header (not the signature, not the payload) and that the file has the size it implies. */
export async function inspectBundle(file: string): Promise<BundleHeader> {
  return withBundle(file, async (fh) => {
    const f = await readFraming(fh, file);
    const manifest = parseManifest(f.manifestBytes, file);
    const { parts, totalSize } = layOut(manifest, f.payloadOffset, file);
    checkSize(file, totalSize, f.fileSize);
    return { file, manifest, signature: f.signature, payloadOffset: f.payloadOffset, totalSize, parts };
  });
}

/** Refuses a bundle this appliance should not install: other product, other arch, too old to upgrade from, downgrade. */
function checkInstallable(file: string, manifest: Manifest, opts: VerifyOptions): void {
  const running = parseVersion(opts.running.version)!;
  if (manifest.product !== "weir") fail("BUNDLE_WRONG_PRODUCT", `${file}: product '${manifest.product}' is not weir`);
  if (manifest.arch !== opts.running.arch) {
    fail("BUNDLE_WRONG_ARCH", `${file}: wrong architecture: bundle for ${manifest.arch}, this appliance is ${opts.running.arch}`);
  }
  // Not overridable: the bundle's migrations assume at least minFrom is installed.
  if (compareVersions(running, parseVersion(manifest.minFrom)!) < 0) {
    fail("BUNDLE_TOO_OLD", `${file}: too old to upgrade from: running ${opts.running.version} is older than the bundle's minFrom ${manifest.minFrom}; install ${manifest.minFrom} or later first`);
  }
  const order = compareVersions(parseVersion(manifest.version)!, running);
  if (order < 0 && !opts.force) {
    fail("BUNDLE_DOWNGRADE", `${file}: downgrade: bundle ${manifest.version} is older than running ${opts.running.version} (force allows it)`);
  }
  if (order === 0 && !opts.force) {
    fail("BUNDLE_SAME_VERSION", `${file}: same version: bundle ${manifest.version} is the running version (force reinstalls it)`);
  }
}

async function hashRange(fh: FileHandle, file: string, offset: number, size: number): Promise<string> {
  const hash = crypto.createHash("sha256");
  const buf = Buffer.alloc(Math.min(CHUNK, Math.max(size, 1)));
  for (let done = 0; done < size; ) {
    const { bytesRead } = await fh.read(buf, 0, Math.min(buf.length, size - done), offset + done);
    if (bytesRead === 0) truncated(file, String(offset + size), offset + done);
    hash.update(buf.subarray(0, bytesRead));
    done += bytesRead;
  }
  return hash.digest("hex");
}

/** Checks everything about a bundle without writing anything; throws a WeirError naming the first problem. */
export async function verifyBundle(file: string, opts: VerifyOptions): Promise<VerifiedBundle> {
  const keys = opts.publicKeyPems.map(loadPublicKey);
  if (!parseVersion(opts.running.version)) {
    fail("BAD_VERSION", `running version '${opts.running.version}' is not MAJOR.MINOR.PATCH[-suffix]`);
  }
  return withBundle(file, async (fh) => {
    const f = await readFraming(fh, file);
    if (!f.signature) fail("BUNDLE_UNSIGNED", `${file}: unsigned bundle; only signed bundles are installed`);
    const signature = f.signature;
    const signer = keys.findIndex((k) => crypto.verify(null, f.signed, k, signature));
    if (signer < 0) {
      fail("BUNDLE_BAD_SIGNATURE", `${file}: signed by another key: the signature matches none of the ${keys.length} trusted key(s)`);
    }
    const manifest = parseManifest(f.manifestBytes, file);
    const { parts, totalSize } = layOut(manifest, f.payloadOffset, file);
    checkSize(file, totalSize, f.fileSize);
    checkInstallable(file, manifest, opts);
    for (const p of parts) {
      const digest = await hashRange(fh, file, p.offset, p.size);
      if (digest !== p.sha256) {
        fail("BUNDLE_CORRUPT", `${file}: corrupt: part ${p.name} sha256 mismatch (manifest ${p.sha256.slice(0, 12)}…, payload ${digest.slice(0, 12)}…)`);
      }
    }
    return { file, manifest, parts, payloadOffset: f.payloadOffset, size: totalSize, signer };
  });
}

/**
 * A stream of one part's bytes. It trusts nothing: the caller re-hashes what it
 * writes and compares with part.sha256 (the file may change after verifyBundle).
 */
export function openPart(file: string, part: { offset: number; size: number }): Readable {
  if (part.size === 0) return new Readable({ read() { this.push(null); } });
  return createReadStream(file, { start: part.offset, end: part.offset + part.size - 1, highWaterMark: CHUNK });
}

// ---------------------------------------------------------------- writing

/** Writes all of data at the file's current position (a write may be partial). */
async function writeAll(out: FileHandle, data: Buffer): Promise<void> {
  for (let done = 0; done < data.length; ) done += (await out.write(data, done, data.length - done)).bytesWritten;
}

function u32(n: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(n, 0);
  return b;
}

async function openPartFile(name: string, file: string, bad: (what: string) => never): Promise<FileHandle> {
  let fh: FileHandle;
  try {
    fh = await fsp.open(file, "r");
  } catch (e) {
    bad(`cannot read part ${name} file ${file}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
  }
  if (!(await fh.stat()).isFile()) {
    await fh.close();
    bad(`part ${name} file ${file} is not a regular file`);
  }
  return fh;
}

/** Streams a part file through a hash, optionally copying it to out (and through a second hash). */
async function streamPart(
  name: string, file: string, bad: (what: string) => never, out?: FileHandle, whole?: crypto.Hash,
): Promise<{ size: number; sha256: string }> {
  const fh = await openPartFile(name, file, bad);
  try {
    const hash = crypto.createHash("sha256");
    const buf = Buffer.alloc(CHUNK);
    let size = 0;
    for (;;) {
      const { bytesRead } = await fh.read(buf, 0, buf.length, size);
      if (bytesRead === 0) break;
      const chunk = buf.subarray(0, bytesRead);
      hash.update(chunk);
      if (out) {
        await writeAll(out, chunk);
        whole!.update(chunk);
      }
      size += bytesRead;
    }
    return { size, sha256: hash.digest("hex") };
  } finally {
    await fh.close();
  }
}

/** Writes path via a temporary file in the same directory and a rename, so readers see all or nothing. */
async function writeFileAtomically<T>(file: string, body: (out: FileHandle) => Promise<T>, mode: number): Promise<T> {
  const dir = path.dirname(file);
  const tmp = path.join(dir, `.${path.basename(file)}.${process.pid}.${crypto.randomBytes(4).toString("hex")}.tmp`);
  const out = await fsp.open(tmp, "wx", mode);
  let open = true;
  try {
    await out.chmod(mode);
    const result = await body(out);
    await out.sync();
    await out.close();
    open = false;
    await fsp.rename(tmp, file);
    await syncDir(dir);
    return result;
  } catch (e) {
    if (open) await out.close().catch(() => {});
    await fsp.rm(tmp, { force: true });
    throw e;
  }
}

async function syncDir(dir: string): Promise<void> {
  const d = await fsp.open(dir, "r");
  try {
    await d.sync();
  } catch {
    // Some filesystems refuse fsync on a directory; the rename itself has happened.
  } finally {
    await d.close();
  }
}

function manifestOf(opts: CreateBundleOptions, parts: ManifestPart[]): Record<string, unknown> {
  return { format: 1, product: "weir", version: opts.version, arch: opts.arch, minFrom: opts.minFrom, created: opts.created, parts };
}

/**
 * Writes a signed bundle of the part files to opts.out (atomically). The same
 * inputs give the same bytes: ed25519 is deterministic and the manifest's
 * key order is fixed.
 */
export async function createBundle(opts: CreateBundleOptions): Promise<CreatedBundle> {
  const bad = (what: string): never => fail("BUNDLE_INPUT", `cannot create ${opts.out}: ${what}`);
  const key = loadPrivateKey(opts.privateKeyPem);
  // Check the fields before hashing ~100 MB of parts; sizes and hashes are placeholders here.
  checkManifest(manifestOf(opts, opts.parts.map((p) => ({ name: p.name, size: 0, sha256: "0".repeat(64) }))), bad);

  // First pass: sizes and hashes, which the manifest (and so the payload offset) needs.
  const hashed: ManifestPart[] = [];
  for (const p of opts.parts) hashed.push({ name: p.name, ...(await streamPart(p.name, p.file, bad)) });
  const manifest = checkManifest(manifestOf(opts, hashed), bad);
  const manifestBytes = Buffer.from(JSON.stringify(manifest), "utf8");
  if (manifestBytes.length > MAX_MANIFEST_BYTES) bad(`the manifest is ${manifestBytes.length} bytes, over the limit of ${MAX_MANIFEST_BYTES}`);
  const signed = Buffer.concat([MAGIC, u32(manifestBytes.length), manifestBytes]);
  const header = Buffer.concat([signed, u32(SIGNATURE_BYTES), crypto.sign(null, signed, key)]);

  // Second pass: copy, re-hashing, so a part that changed in between cannot go out under the old hash.
  return writeFileAtomically(opts.out, async (out) => {
    const whole = crypto.createHash("sha256").update(header);
    await writeAll(out, header);
    let size = header.length;
    for (const [i, p] of opts.parts.entries()) {
      const copied = await streamPart(p.name, p.file, bad, out, whole);
      if (copied.size !== hashed[i].size || copied.sha256 !== hashed[i].sha256) bad(`part ${p.name} file ${p.file} changed while the bundle was being written`);
      size += copied.size;
    }
    return { sha256: whole.digest("hex"), size, manifest };
  }, 0o644);
}
