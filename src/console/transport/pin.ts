// A TLS connection to the appliance checked against a pinned certificate
// fingerprint before a single byte of the request (and so the token) is
// sent: the appliance's certificate is self-signed, so the usual chain check
// cannot vouch for it, and the pin is what the operator read on the serial
// console or in `image status`.

import tls from "node:tls";
import { normaliseFingerprint } from "./selfcert.js";

// As the ws client's handshake timeout: an appliance just booted under emulation can be slow to answer.
const CONNECT_TIMEOUT_MS = 30_000;

/** Connects, completes the handshake and checks the peer's SHA-256 fingerprint; rejects on a mismatch. */
export function connectPinned(host: string, port: number, fingerprint: string): Promise<tls.TLSSocket> {
  const want = normaliseFingerprint(fingerprint);
  if (!want) return Promise.reject(new Error(`bad fingerprint '${fingerprint}': want the SHA-256 of the certificate (64 hex digits, colons optional)`));
  return new Promise((resolve, reject) => {
    const sock = tls.connect({ host, port, servername: isIp(host) ? undefined : host, rejectUnauthorized: false });
    const timer = setTimeout(() => sock.destroy(new Error(`TLS handshake with ${host}:${port} timed out`)), CONNECT_TIMEOUT_MS);
    sock.once("error", (e) => { clearTimeout(timer); reject(e); });
    sock.once("secureConnect", () => {
      clearTimeout(timer);
      const got = sock.getPeerX509Certificate()?.fingerprint256;
      if (got !== want) {
        sock.destroy();
        reject(new Error(`the server's certificate fingerprint is ${got ?? "missing"}, not the pinned ${want}: refusing to send the token`));
        return;
      }
      resolve(sock);
    });
  });
}

function isIp(h: string): boolean {
  return /^[\d.]+$/.test(h) || h.includes(":");
}

/** Why a pinned connection did not happen: the certificate (refused) or the network (unreachable). */
export class PinError extends Error {
  constructor(message: string, readonly unreachable: boolean) {
    super(message);
  }
}

/**
 * ws client options for url: with a fingerprint, the TLS connection is made
 * and checked first, and the WebSocket handshake runs over it; without one,
 * nothing changes (the usual certificate checks apply).
 */
export async function pinnedWsOptions(url: string, fingerprint: string | undefined): Promise<{ createConnection?: () => tls.TLSSocket }> {
  if (fingerprint === undefined) return {};
  const u = new URL(url);
  if (u.protocol !== "wss:" && u.protocol !== "https:") throw new PinError(`--fingerprint pins a TLS certificate: use a wss:// URL, not ${u.protocol}//`, false);
  const host = u.hostname.startsWith("[") ? u.hostname.slice(1, -1) : u.hostname;
  let sock: tls.TLSSocket;
  try {
    sock = await connectPinned(host, Number(u.port || 443), fingerprint);
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    throw new PinError(err.code ? `cannot reach ${u.host}: ${err.code}` : err.message, err.code !== undefined);
  }
  return { createConnection: () => sock };
}
