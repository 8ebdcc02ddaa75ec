// The appliance's own TLS certificate: made once (first start on a fresh
// config partition, i.e. first boot or after a factory reset), then kept, so
// an operator can pin its fingerprint (`weir console --fingerprint`, `weir
// image upgrade --fingerprint`). Self-signed, EC P-256, valid ten years; the
// key never leaves DIR (mode 0600). The `selfsigned` package makes it: Node
// has no X.509 writer of its own, and the image has no openssl binary.

import fs from "node:fs";
import path from "node:path";
import { X509Certificate } from "node:crypto";
import { generate } from "selfsigned";

export interface TlsFiles {
  certFile: string;
  keyFile: string;
  /** SHA-256 of the certificate (DER), "AB:CD:…" as openssl and browsers show it. */
  fingerprint: string;
}

const VALID_YEARS = 10;

/** Loads DIR/cert.pem and DIR/key.pem, making them first when neither exists. */
export async function ensureSelfSignedCert(dir: string, commonName = "weir"): Promise<TlsFiles & { made: boolean }> {
  const certFile = path.join(dir, "cert.pem");
  const keyFile = path.join(dir, "key.pem");
  const haveCert = fs.existsSync(certFile);
  const haveKey = fs.existsSync(keyFile);
  if (haveCert !== haveKey) {
    throw new Error(`${dir} holds ${haveCert ? "cert.pem without key.pem" : "key.pem without cert.pem"}: remove it to make a new pair`);
  }
  let made = false;
  if (!haveCert) {
    const now = new Date();
    const until = new Date(now);
    until.setFullYear(now.getFullYear() + VALID_YEARS);
    const pems = await generate([{ name: "commonName", value: commonName }], {
      keyType: "ec", curve: "P-256", algorithm: "sha256", notBeforeDate: now, notAfterDate: until,
      extensions: [
        { name: "basicConstraints", cA: false },
        { name: "keyUsage", digitalSignature: true },
        { name: "extKeyUsage", serverAuth: true },
        { name: "subjectAltName", altNames: [{ type: 2, value: commonName }] },
      ],
    });
    fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
    // Key first, each written whole then renamed: a power cut leaves no half pair that loads.
    writeAtomic(keyFile, pems.private, 0o600);
    writeAtomic(certFile, pems.cert, 0o644);
    made = true;
  }
  return { certFile, keyFile, fingerprint: certFingerprint(fs.readFileSync(certFile, "utf8")), made };
}

export function certFingerprint(pem: string | Buffer): string {
  return new X509Certificate(pem).fingerprint256;
}

/** "ab:cd…", "ABCD…" or "sha256:…" → "AB:CD:…"; undefined if it is not 32 bytes of hex. */
export function normaliseFingerprint(s: string): string | undefined {
  const hex = s.trim().replace(/^sha256[:=/]?/i, "").replace(/[:\s]/g, "").toUpperCase();
  if (!/^[0-9A-F]{64}$/.test(hex)) return undefined;
  return hex.match(/../g)!.join(":");
}

function writeAtomic(file: string, data: string, mode: number): void {
  const tmp = `${file}.tmp`;
  fs.writeFileSync(tmp, data, { mode });
  fs.chmodSync(tmp, mode);
  fs.renameSync(tmp, file);
}
