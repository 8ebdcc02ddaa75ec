// A TLS connection to the appliance checked against a pinned certificate
// fingerprint before a single byte of the request (and so the token) is
// sent: the appliance's certificate is self-signed, so the usual chain check
// cannot vouch for it, and the pin is what the operator read on the serial
// console or in `image status`.

import tls from "node:tls";
import { normaliseFingerprint } from "./selfcert.js";

const CONNECT_TIMEOUT_MS = 10_000;

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
