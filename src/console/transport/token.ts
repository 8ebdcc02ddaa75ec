// The WebSocket console's token: 32 random bytes in base64url, made at first
// start and kept in a file of mode 0600 (default /var/lib/weir/ws-token), so
// it survives restarts and only root can read it. Tokens are compared in
// constant time.

import fs from "node:fs";
import path from "node:path";
import { createHash, randomBytes, timingSafeEqual } from "node:crypto";
import { WeirError } from "../../dataplane/errors.js";
import { logger } from "../../log.js";

export const DEFAULT_TOKEN_FILE = "/var/lib/weir/ws-token";

/** Shortest token accepted from a file or an option (a generated one is 43 characters). */
export const MIN_TOKEN_LENGTH = 16;

export function generateToken(): string {
  return randomBytes(32).toString("base64url");
}

function checkToken(token: string, where: string): string {
  if (token.length < MIN_TOKEN_LENGTH || /\s/.test(token)) {
    throw new WeirError("WEIR_ERR_TOKEN", `${where}: token must be at least ${MIN_TOKEN_LENGTH} characters without spaces`);
  }
  return token;
}

/**
 * Reads the token from file, or makes one and writes it there (mode 0600,
 * its directory created 0700). A token file readable by others is tightened
 * to 0600 with a warning.
 */
export function loadOrCreateToken(file: string = DEFAULT_TOKEN_FILE): string {
  try {
    const fd = fs.openSync(file, "r");
    try {
      const st = fs.fstatSync(fd);
      if ((st.mode & 0o077) !== 0) {
        logger("console.ws").warn({ file, mode: (st.mode & 0o777).toString(8) }, "token file was readable by others; set to 0600");
        fs.fchmodSync(fd, 0o600);
      }
      return checkToken(fs.readFileSync(fd, "utf8").trim(), file);
    } finally {
      fs.closeSync(fd);
    }
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== "ENOENT") throw e;
  }
  fs.mkdirSync(path.dirname(file), { recursive: true, mode: 0o700 });
  const token = generateToken();
  try {
    // "wx": never overwrite a token another process wrote meanwhile.
    fs.writeFileSync(file, token + "\n", { mode: 0o600, flag: "wx" });
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === "EEXIST") return loadOrCreateToken(file);
    throw e;
  }
  fs.chmodSync(file, 0o600); // exact, whatever the umask was
  logger("console.ws").info({ file }, "generated the WebSocket console token");
  return token;
}

export function validateToken(token: string): string {
  return checkToken(token, "token option");
}

/** Compares in time independent of where the strings differ (both are hashed first, so length leaks nothing either). */
export function tokenMatches(given: string, expected: string): boolean {
  const a = createHash("sha256").update(given, "utf8").digest();
  const b = createHash("sha256").update(expected, "utf8").digest();
  return timingSafeEqual(a, b);
}
