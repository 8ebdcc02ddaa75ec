// The WebSocket console's token: 32 random bytes in base64url, made at first
// start and kept in a file of mode 0600 (default /var/lib/weir/ws-token), so
// it survives restarts and only root can read it. Tokens are compared in
// constant time. Clients (`weir console`, `weir image upgrade`) find theirs
// with clientToken: from a file or the environment, as a command-line
// argument is visible to every user in `ps`.

import fs from "node:fs";
import path from "node:path";
import { createHash, randomBytes, timingSafeEqual } from "node:crypto";
import { WeirError } from "../../errors.js";
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

export interface ClientTokenOptions {
  /** --token TOKEN: works, but discouraged (other users see it in `ps` and /proc). */
  token?: string;
  /** --token-file FILE: read, trimmed; a file that cannot be read is an error. */
  tokenFile?: string;
  /** Tried last, quietly (default DEFAULT_TOKEN_FILE, readable on the appliance itself); false: none. */
  defaultFile?: string | false;
  env?: NodeJS.ProcessEnv;
}

/** A client's token: --token, else --token-file, else $WEIR_TOKEN, else the default file; undefined when none has one. */
export function clientToken(o: ClientTokenOptions): string | undefined {
  if (o.token) return o.token;
  if (o.tokenFile !== undefined) {
    let text: string;
    try {
      text = fs.readFileSync(o.tokenFile, "utf8").trim();
    } catch (e) {
      throw new WeirError("WEIR_ERR_TOKEN", `cannot read the token file ${o.tokenFile}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
    }
    if (text === "") throw new WeirError("WEIR_ERR_TOKEN", `the token file ${o.tokenFile} is empty`);
    return text;
  }
  const env = (o.env ?? process.env).WEIR_TOKEN;
  if (env) return env;
  const file = o.defaultFile ?? DEFAULT_TOKEN_FILE;
  if (file === false) return undefined;
  try {
    return fs.readFileSync(file, "utf8").trim() || undefined;
  } catch {
    return undefined;
  }
}

/** Compares in time independent of where the strings differ (both are hashed first, so length leaks nothing either). */
export function tokenMatches(given: string, expected: string): boolean {
  const a = createHash("sha256").update(given, "utf8").digest();
  const b = createHash("sha256").update(expected, "utf8").digest();
  return timingSafeEqual(a, b);
}
