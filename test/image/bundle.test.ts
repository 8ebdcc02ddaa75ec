// The signed update bundle: round trip, reproducibility, and every refusal,
// each with its own code and a message naming the file and the problem.

import { afterAll, beforeAll, describe, expect, it } from "vitest";
import crypto from "node:crypto";
import { copyFileSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import {
  createBundle, generateKeyPair, inspectBundle, openPart, verifyBundle, writeKeyPair,
  type CreateBundleOptions, type VerifyOptions,
} from "../../src/image/bundle.js";
import { compareVersions, parseVersion } from "../../src/image/version.js";

let root: string;
let n = 0;
const keys = generateKeyPair();
const otherKeys = generateKeyPair();
let slotFile: string, bootFile: string, good: string;

const running = { version: "0.1.0", arch: "x86_64" };
const trust: VerifyOptions = { publicKeyPems: [keys.publicPem], running };

function tempDir(): string {
  const d = path.join(root, `t${n++}`);
  mkdirSync(d);
  return d;
}

function sha256(file: string): string {
  return crypto.createHash("sha256").update(readFileSync(file)).digest("hex");
}

function options(out: string, over: Partial<CreateBundleOptions> = {}): CreateBundleOptions {
  return {
    out, privateKeyPem: keys.privatePem, version: "0.2.0", arch: "x86_64", minFrom: "0.1.0", created: 1_700_000_000,
    parts: [{ name: "slot", file: slotFile }, { name: "boot", file: bootFile }], ...over,
  };
}

/** A copy of the good bundle to damage. */
function copyOfGood(): string {
  const f = path.join(tempDir(), "copy.weirbundle");
  copyFileSync(good, f);
  return f;
}

/** Writes a bundle by hand (independently of createBundle): any manifest text, signed by key or unsigned. */
function rawBundle(manifest: unknown, payload: Buffer, key: string | null): string {
  const text = Buffer.from(typeof manifest === "string" ? manifest : JSON.stringify(manifest), "utf8");
  const len = Buffer.alloc(4);
  len.writeUInt32BE(text.length);
  const signed = Buffer.concat([Buffer.from("WEIRBDL1"), len, text]);
  const sig = key ? crypto.sign(null, signed, crypto.createPrivateKey(key)) : Buffer.alloc(0);
  const sigLen = Buffer.alloc(4);
  sigLen.writeUInt32BE(sig.length);
  const f = path.join(tempDir(), "raw.weirbundle");
  writeFileSync(f, Buffer.concat([signed, sigLen, sig, payload]));
  return f;
}

function manifestFor(payload: Buffer, over: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    format: 1, product: "weir", version: "0.2.0", arch: "x86_64", minFrom: "0.1.0", created: 1_700_000_000,
    parts: [{ name: "slot", size: payload.length, sha256: crypto.createHash("sha256").update(payload).digest("hex") }], ...over,
  };
}

/** Expects a WeirError with this code whose message names the file and matches pattern. */
async function refused(p: Promise<unknown>, code: string, pattern: RegExp, file?: string): Promise<void> {
  const e = await p.then(() => null, (err: unknown) => err as { name: string; code: string; message: string });
  expect(e, "expected a refusal").not.toBeNull();
  expect(e!.name).toBe("WeirError");
  expect(e!.code).toBe(`WEIR_ERR_${code}`);
  expect(e!.message).toMatch(pattern);
  if (file) expect(e!.message).toContain(file);
}

async function collect(stream: NodeJS.ReadableStream): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of stream) chunks.push(Buffer.from(c as Buffer));
  return Buffer.concat(chunks);
}

beforeAll(async () => {
  root = mkdtempSync(path.join(tmpdir(), "weir-bundle-"));
  const d = tempDir();
  slotFile = path.join(d, "slot.img");
  bootFile = path.join(d, "boot.img");
  // Over 1 MiB so reads cross the chunk size; not a multiple of it.
  writeFileSync(slotFile, crypto.randomBytes(3 * 1024 * 1024 + 123));
  writeFileSync(bootFile, crypto.randomBytes(1000));
  good = path.join(d, "good.weirbundle");
  await createBundle(options(good));
});

afterAll(() => {
  rmSync(root, { recursive: true, force: true });
});

describe("versions", () => {
  const cmp = (a: string, b: string) => compareVersions(parseVersion(a)!, parseVersion(b)!);
  it("compares numerically, a suffix before the release", () => {
    expect(cmp("0.10.0", "0.9.0")).toBe(1);
    expect(cmp("1.0.0", "0.99.99")).toBe(1);
    expect(cmp("0.2.0", "0.2.0")).toBe(0);
    expect(cmp("0.2.0-rc1", "0.2.0")).toBe(-1);
    expect(cmp("0.2.0-rc1", "0.1.9")).toBe(1);
    expect(cmp("0.2.0-rc1", "0.2.0-rc2")).toBe(-1);
  });
  it("rejects anything else", () => {
    for (const bad of ["0.2", "0.2.0.1", "v0.2.0", "01.2.0", "0.2.0-", "0.2.0 ", "", "a.b.c", 2]) expect(parseVersion(bad)).toBeNull();
    expect(parseVersion("1.2.3-dev.4")).toEqual({ major: 1, minor: 2, patch: 3, suffix: "dev.4" });
  });
});

describe("createBundle → verifyBundle", () => {
  it("round-trips: the manifest, the part layout and each part's bytes", async () => {
    const out = path.join(tempDir(), "b.weirbundle");
    const made = await createBundle(options(out));
    expect(made.size).toBe(statSync(out).size);
    expect(made.sha256).toBe(sha256(out));
    expect(made.manifest).toEqual({
      format: 1, product: "weir", version: "0.2.0", arch: "x86_64", minFrom: "0.1.0", created: 1_700_000_000,
      parts: [
        { name: "slot", size: statSync(slotFile).size, sha256: sha256(slotFile) },
        { name: "boot", size: 1000, sha256: sha256(bootFile) },
      ],
    });

    const v = await verifyBundle(out, trust);
    expect(v.manifest).toEqual(made.manifest);
    expect(v.signer).toBe(0);
    expect(v.size).toBe(made.size);
    expect(v.parts.map((p) => p.name)).toEqual(["slot", "boot"]);
    expect(v.parts[0].offset).toBe(v.payloadOffset);
    expect(v.parts[1].offset).toBe(v.payloadOffset + v.parts[0].size);
    expect((await collect(openPart(out, v.parts[0]))).equals(readFileSync(slotFile))).toBe(true);
    expect((await collect(openPart(out, v.parts[1]))).equals(readFileSync(bootFile))).toBe(true);

    const h = await inspectBundle(out);
    expect(h.manifest).toEqual(made.manifest);
    expect(h.signature).toHaveLength(64);
    expect(h.totalSize).toBe(made.size);
    expect(h.parts).toEqual(v.parts);
    // No temporary file left beside it.
    expect(readdirSync(path.dirname(out))).toEqual(["b.weirbundle"]);
  });

  it("is reproducible: the same inputs give byte-identical bundles", async () => {
    const d = tempDir();
    const a = await createBundle(options(path.join(d, "a")));
    const b = await createBundle(options(path.join(d, "b")));
    expect(a.sha256).toBe(b.sha256);
    expect(readFileSync(path.join(d, "a")).equals(readFileSync(path.join(d, "b")))).toBe(true);
    expect(sha256(path.join(d, "a"))).toBe(sha256(good));
  });

  it("follows the documented layout (a hand-built bundle verifies too)", async () => {
    const payload = crypto.randomBytes(5000);
    const f = rawBundle(manifestFor(payload), payload, keys.privatePem);
    const v = await verifyBundle(f, trust);
    expect(v.parts[0]).toMatchObject({ name: "slot", size: 5000 });
  });

  it("handles an empty part", async () => {
    const d = tempDir();
    writeFileSync(path.join(d, "empty"), "");
    const out = path.join(d, "b");
    await createBundle(options(out, { parts: [{ name: "slot", file: slotFile }, { name: "empty", file: path.join(d, "empty") }] }));
    const v = await verifyBundle(out, trust);
    expect(v.parts[1].size).toBe(0);
    expect(await collect(openPart(out, v.parts[1]))).toHaveLength(0);
  });

  it("accepts a bundle signed by any one of the trusted keys", async () => {
    const v = await verifyBundle(good, { ...trust, publicKeyPems: [otherKeys.publicPem, keys.publicPem] });
    expect(v.signer).toBe(1);
  });

  it("replaces an existing output atomically and leaves nothing behind when an input is bad", async () => {
    const d = tempDir();
    const out = path.join(d, "b");
    writeFileSync(out, "old");
    await createBundle(options(out));
    expect(sha256(out)).toBe(sha256(good));
    await refused(createBundle(options(out, { version: "0.2" })), "BUNDLE_INPUT", /field 'version'/, out);
    await refused(createBundle(options(out, { parts: [{ name: "slot", file: path.join(d, "missing") }] })), "BUNDLE_INPUT", /cannot read part slot .*ENOENT/);
    await refused(createBundle(options(out, { privateKeyPem: "nope" })), "BUNDLE_KEY", /not a PEM private key/);
    expect(readdirSync(d)).toEqual(["b"]);
    expect(sha256(out)).toBe(sha256(good));
  });
});

describe("verifyBundle refusals", () => {
  it("an empty file is not a bundle", async () => {
    const f = path.join(tempDir(), "empty.weirbundle");
    writeFileSync(f, "");
    await refused(verifyBundle(f, trust), "BUNDLE_NOT_A_BUNDLE", /not an update bundle \(the file is empty\)/, f);
    await refused(inspectBundle(f), "BUNDLE_NOT_A_BUNDLE", /empty/, f);
  });

  it("random garbage is not a bundle", async () => {
    const f = path.join(tempDir(), "garbage");
    writeFileSync(f, crypto.randomBytes(4096));
    await refused(verifyBundle(f, trust), "BUNDLE_NOT_A_BUNDLE", /no WEIRBDL1 magic/, f);
    writeFileSync(f, "WEIR");
    await refused(verifyBundle(f, trust), "BUNDLE_NOT_A_BUNDLE", /no WEIRBDL1 magic/, f);
  });

  it("a file cut short by a few bytes is truncated, saying expected vs actual size", async () => {
    const f = copyOfGood();
    const size = statSync(f).size;
    writeFileSync(f, readFileSync(f).subarray(0, size - 3));
    await refused(verifyBundle(f, trust), "BUNDLE_TRUNCATED", new RegExp(`truncated: expected ${size} bytes, found ${size - 3}`), f);
    await refused(inspectBundle(f), "BUNDLE_TRUNCATED", new RegExp(`expected ${size} bytes`), f);
  });

  it("a file cut inside the header is truncated", async () => {
    const f = copyOfGood();
    writeFileSync(f, readFileSync(f).subarray(0, 40));
    await refused(verifyBundle(f, trust), "BUNDLE_TRUNCATED", /truncated: expected at least \d+ bytes, found 40/, f);
    writeFileSync(f, "WEIRBDL1");
    await refused(verifyBundle(f, trust), "BUNDLE_TRUNCATED", /expected at least 12 bytes, found 8/, f);
  });

  it("bytes past the payload are refused", async () => {
    const f = copyOfGood();
    writeFileSync(f, Buffer.concat([readFileSync(f), Buffer.from("xx")]));
    await refused(verifyBundle(f, trust), "BUNDLE_TRAILING_DATA", /2 bytes after the end of the payload/, f);
  });

  it("a flipped payload byte is corrupt, naming the part", async () => {
    const f = copyOfGood();
    const bytes = readFileSync(f);
    bytes[bytes.length - 10] ^= 0x01; // inside "boot", the last part
    writeFileSync(f, bytes);
    await refused(verifyBundle(f, trust), "BUNDLE_CORRUPT", /corrupt: part boot sha256 mismatch/, f);
    const { payloadOffset } = await inspectBundle(f);
    bytes[bytes.length - 10] ^= 0x01;
    bytes[payloadOffset + 1024 * 1024 + 7] ^= 0x80; // inside "slot", past the first read chunk
    writeFileSync(f, bytes);
    await refused(verifyBundle(f, trust), "BUNDLE_CORRUPT", /part slot sha256 mismatch/, f);
  });

  it("a flipped manifest byte breaks the signature", async () => {
    const f = copyOfGood();
    const bytes = readFileSync(f);
    const at = bytes.indexOf("x86_64");
    bytes[at] = "X".charCodeAt(0);
    writeFileSync(f, bytes);
    await refused(verifyBundle(f, trust), "BUNDLE_BAD_SIGNATURE", /signed by another key/, f);
    // Even a flip that leaves the JSON invalid is reported as the signature, not as the manifest.
    bytes[bytes.indexOf("{")] = "[".charCodeAt(0);
    writeFileSync(f, bytes);
    await refused(verifyBundle(f, trust), "BUNDLE_BAD_SIGNATURE", /signed by another key/, f);
  });

  it("a bundle signed by another key is refused", async () => {
    const f = path.join(tempDir(), "other");
    await createBundle(options(f, { privateKeyPem: otherKeys.privatePem }));
    await refused(verifyBundle(f, trust), "BUNDLE_BAD_SIGNATURE", /signed by another key: the signature matches none of the 1 trusted key/, f);
    await refused(verifyBundle(f, { ...trust, publicKeyPems: [] }), "BUNDLE_BAD_SIGNATURE", /none of the 0 trusted/, f);
  });

  it("an unsigned bundle is refused before its payload is looked at", async () => {
    const payload = crypto.randomBytes(100);
    const f = rawBundle(manifestFor(payload), payload, null);
    await refused(verifyBundle(f, trust), "BUNDLE_UNSIGNED", /unsigned bundle/, f);
    expect((await inspectBundle(f)).signature).toBeNull();
    // A corrupt payload and a wrong arch are not reached.
    const g = rawBundle(manifestFor(payload, { arch: "aarch64" }), Buffer.alloc(100), null);
    await refused(verifyBundle(g, trust), "BUNDLE_UNSIGNED", /unsigned/, g);
  });

  it("a signature length other than 0 or 64 is malformed", async () => {
    const f = copyOfGood();
    const bytes = readFileSync(f);
    const { payloadOffset } = await inspectBundle(f);
    bytes.writeUInt32BE(63, payloadOffset - 68);
    writeFileSync(f, bytes);
    await refused(verifyBundle(f, trust), "BUNDLE_MALFORMED", /signature length 63, expected 0 or 64/, f);
  });

  it("a signed but malformed manifest names the field", async () => {
    const payload = crypto.randomBytes(10);
    const cases: [Record<string, unknown> | string, RegExp][] = [
      ["not json", /not valid UTF-8 JSON/],
      [[1, 2], /not a JSON object/],
      [manifestFor(payload, { format: 2 }), /field 'format' is 2, expected 1/],
      [manifestFor(payload, { version: "0.2" }), /field 'version' is "0.2"/],
      [manifestFor(payload, { version: undefined }), /field 'version' is missing/],
      [manifestFor(payload, { minFrom: "latest" }), /field 'minFrom'/],
      [manifestFor(payload, { minFrom: "0.3.0" }), /field 'minFrom' \(0.3.0\) is newer than field 'version' \(0.2.0\)/],
      [manifestFor(payload, { arch: "" }), /field 'arch'/],
      [manifestFor(payload, { created: -1 }), /field 'created'/],
      [manifestFor(payload, { parts: [] }), /field 'parts'/],
      [manifestFor(payload, { parts: [{ name: "slot", size: 10, sha256: "abc" }] }), /field 'parts\[0\]\.sha256'/],
      [manifestFor(payload, { parts: [{ name: "../x", size: 10, sha256: "0".repeat(64) }] }), /field 'parts\[0\]\.name'/],
      [manifestFor(payload, { parts: [{ name: "slot", size: -1, sha256: "0".repeat(64) }] }), /field 'parts\[0\]\.size'/],
    ];
    for (const [manifest, pattern] of cases) {
      const f = rawBundle(manifest as Record<string, unknown>, payload, keys.privatePem);
      await refused(verifyBundle(f, trust), "BUNDLE_MALFORMED", pattern, f);
    }
  });

  it("a manifest over 64 KiB is refused from its length alone", async () => {
    const f = path.join(tempDir(), "huge");
    const head = Buffer.alloc(12);
    head.write("WEIRBDL1");
    head.writeUInt32BE(65537, 8);
    writeFileSync(f, Buffer.concat([head, Buffer.alloc(100)]));
    await refused(verifyBundle(f, trust), "BUNDLE_MALFORMED", /length 65537 is over the limit of 65536/, f);
  });

  it("a bundle of another product is refused", async () => {
    const payload = crypto.randomBytes(10);
    const f = rawBundle(manifestFor(payload, { product: "other" }), payload, keys.privatePem);
    await refused(verifyBundle(f, trust), "BUNDLE_WRONG_PRODUCT", /product 'other' is not weir/, f);
  });

  it("a bundle for another architecture is refused, even with force", async () => {
    const f = path.join(tempDir(), "arm");
    await createBundle(options(f, { arch: "aarch64" }));
    for (const force of [false, true]) {
      await refused(verifyBundle(f, { ...trust, force }), "BUNDLE_WRONG_ARCH", /wrong architecture: bundle for aarch64, this appliance is x86_64/, f);
    }
  });

  it("a downgrade is refused unless forced", async () => {
    const r = { version: "0.3.0", arch: "x86_64" };
    await refused(verifyBundle(good, { ...trust, running: r }), "BUNDLE_DOWNGRADE", /downgrade: bundle 0.2.0 is older than running 0.3.0/, good);
    expect((await verifyBundle(good, { ...trust, running: r, force: true })).manifest.version).toBe("0.2.0");
    // The release is newer than its own release candidate.
    const rc = { version: "0.2.0-rc1", arch: "x86_64" };
    expect((await verifyBundle(good, { ...trust, running: rc })).manifest.version).toBe("0.2.0");
  });

  it("the running version is refused unless forced", async () => {
    const r = { version: "0.2.0", arch: "x86_64" };
    await refused(verifyBundle(good, { ...trust, running: r }), "BUNDLE_SAME_VERSION", /same version: bundle 0.2.0/, good);
    expect((await verifyBundle(good, { ...trust, running: r, force: true })).manifest.version).toBe("0.2.0");
  });

  it("running older than minFrom is refused, even with force", async () => {
    const f = path.join(tempDir(), "b");
    await createBundle(options(f, { version: "0.4.0", minFrom: "0.2.0" }));
    for (const force of [false, true]) {
      await refused(
        verifyBundle(f, { ...trust, force }), "BUNDLE_TOO_OLD",
        /too old to upgrade from: running 0.1.0 is older than the bundle's minFrom 0.2.0/, f,
      );
    }
    expect((await verifyBundle(f, { ...trust, running: { version: "0.2.0", arch: "x86_64" } })).manifest.version).toBe("0.4.0");
  });

  it("checks the order: signature before manifest semantics before hashes", async () => {
    // Wrong key and wrong arch: the signature is reported.
    const f = path.join(tempDir(), "b");
    await createBundle(options(f, { arch: "aarch64", privateKeyPem: otherKeys.privatePem }));
    await refused(verifyBundle(f, trust), "BUNDLE_BAD_SIGNATURE", /signed by another key/);
    // Wrong arch and a corrupt payload: the arch is reported (no hashing needed).
    const g = path.join(tempDir(), "g");
    await createBundle(options(g, { arch: "aarch64" }));
    const bytes = readFileSync(g);
    bytes[bytes.length - 1] ^= 0xff;
    writeFileSync(g, bytes);
    await refused(verifyBundle(g, trust), "BUNDLE_WRONG_ARCH", /bundle for aarch64/);
  });

  it("a missing file says it cannot be opened", async () => {
    const f = path.join(root, "no-such.weirbundle");
    await refused(verifyBundle(f, trust), "BUNDLE_UNREADABLE", /cannot open: ENOENT/, f);
  });

  it("never modifies the file", async () => {
    const f = copyOfGood();
    const before = { hash: sha256(f), mtime: statSync(f).mtimeMs, size: statSync(f).size };
    await verifyBundle(f, trust);
    await refused(verifyBundle(f, { ...trust, running: { version: "0.2.0", arch: "x86_64" } }), "BUNDLE_SAME_VERSION", /same version/);
    await refused(verifyBundle(f, { ...trust, publicKeyPems: [otherKeys.publicPem] }), "BUNDLE_BAD_SIGNATURE", /another key/);
    expect({ hash: sha256(f), mtime: statSync(f).mtimeMs, size: statSync(f).size }).toEqual(before);
    expect(readdirSync(path.dirname(f))).toEqual(["copy.weirbundle"]);
  });
});

describe("key files", () => {
  it("writes a 0600 private key and a 0644 public key that sign and verify", async () => {
    const dir = path.join(tempDir(), "keys", "nested");
    const { keyFile, pubFile } = await writeKeyPair(dir);
    expect(keyFile).toBe(path.join(dir, "weir-bundle.key"));
    expect(pubFile).toBe(path.join(dir, "weir-bundle.pub"));
    expect(statSync(keyFile).mode & 0o777).toBe(0o600);
    expect(statSync(pubFile).mode & 0o777).toBe(0o644);
    expect(readFileSync(keyFile, "utf8")).toMatch(/^-----BEGIN PRIVATE KEY-----/);
    expect(readFileSync(pubFile, "utf8")).toMatch(/^-----BEGIN PUBLIC KEY-----/);

    const out = path.join(dir, "b");
    await createBundle(options(out, { privateKeyPem: readFileSync(keyFile, "utf8") }));
    await verifyBundle(out, { ...trust, publicKeyPems: [readFileSync(pubFile, "utf8")] });
    await refused(verifyBundle(out, trust), "BUNDLE_BAD_SIGNATURE", /another key/);
  });

  it("refuses to overwrite an existing key", async () => {
    const dir = tempDir();
    const { keyFile, pubFile } = await writeKeyPair(dir);
    const key = readFileSync(keyFile, "utf8"), pub = readFileSync(pubFile, "utf8");
    await refused(writeKeyPair(dir), "KEY_EXISTS", /already exists; refusing to overwrite/, keyFile);
    expect(readFileSync(keyFile, "utf8")).toBe(key);
    expect(readFileSync(pubFile, "utf8")).toBe(pub);
    expect(readdirSync(dir).sort()).toEqual(["weir-bundle.key", "weir-bundle.pub"]);
  });

  it("refuses a key that is not ed25519", async () => {
    const rsa = crypto.generateKeyPairSync("rsa", { modulusLength: 1024 });
    const pem = rsa.privateKey.export({ type: "pkcs8", format: "pem" }) as string;
    await refused(createBundle(options(path.join(tempDir(), "b"), { privateKeyPem: pem })), "BUNDLE_KEY", /rsa, not ed25519/);
    const pub = rsa.publicKey.export({ type: "spki", format: "pem" }) as string;
    await refused(verifyBundle(good, { ...trust, publicKeyPems: [pub] }), "BUNDLE_KEY", /trusted key 1 is rsa, not ed25519/);
  });
});
