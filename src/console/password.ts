// The console password: guards the serial console and the appliance's
// recovery shell. Optional; kept as an scrypt hash (N=2^15, r=8, p=1, 16-byte
// salt) in one line of a 0600 file, "scrypt$N$r$p$SALT$HASH" (base64), so the
// config partition never holds the password itself.

import fs from "node:fs";
import { randomBytes, scrypt, timingSafeEqual, type ScryptOptions } from "node:crypto";

const N = 1 << 15;
const R = 8;
const P = 1;
const KEYLEN = 32;
const MAXMEM = 64 * 1024 * 1024;
/** Longer passwords are refused rather than hashed (a line on a serial port). */
export const MAX_PASSWORD = 256;

function derive(password: string, salt: Buffer, o: ScryptOptions): Promise<Buffer> {
  return new Promise((resolve, reject) => scrypt(password, salt, KEYLEN, { ...o, maxmem: MAXMEM }, (e, k) => (e ? reject(e) : resolve(k))));
}

export async function hashPassword(password: string): Promise<string> {
  const salt = randomBytes(16);
  const key = await derive(password, salt, { N, r: R, p: P });
  return `scrypt$${N}$${R}$${P}$${salt.toString("base64")}$${key.toString("base64")}`;
}

/** True when password matches the hash; a malformed hash matches nothing. */
export async function verifyPassword(password: string, hash: string): Promise<boolean> {
  const m = /^scrypt\$(\d+)\$(\d+)\$(\d+)\$([A-Za-z0-9+/=]+)\$([A-Za-z0-9+/=]+)$/.exec(hash.trim());
  if (!m || password.length > MAX_PASSWORD) return false;
  const [n, r, p] = [Number(m[1]), Number(m[2]), Number(m[3])];
  if (n > 1 << 20 || r > 32 || p > 16) return false; // a planted file must not make every login take minutes
  const want = Buffer.from(m[5], "base64");
  try {
    const got = await derive(password, Buffer.from(m[4], "base64"), { N: n, r, p });
    return got.length === want.length && timingSafeEqual(got, want);
  } catch {
    return false;
  }
}

/** The hash in file, or undefined when no password is set. */
export function readPasswordHash(file: string): string | undefined {
  try {
    const s = fs.readFileSync(file, "utf8").trim();
    return s === "" ? undefined : s;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw e;
  }
}

export function writePasswordHash(file: string, hash: string | undefined): void {
  if (hash === undefined) {
    fs.rmSync(file, { force: true });
    return;
  }
  const tmp = `${file}.tmp`;
  fs.writeFileSync(tmp, `${hash}\n`, { mode: 0o600 });
  fs.chmodSync(tmp, 0o600);
  fs.renameSync(tmp, file);
}
