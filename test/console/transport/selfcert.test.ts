// The appliance's self-signed certificate (made once, then kept) and the
// pinned TLS connection that checks it before sending anything.
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import tls from "node:tls";
import { spawnSync } from "node:child_process";
import { afterAll, describe, expect, it } from "vitest";
import { ensureSelfSignedCert, normaliseFingerprint } from "../../../src/console/transport/selfcert.js";
import { connectPinned } from "../../../src/console/transport/pin.js";

const dir = fs.mkdtempSync(path.join(os.tmpdir(), "weir-cert-"));
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

describe("ensureSelfSignedCert", () => {
  it("makes a pair once, key 0600, and gives the same fingerprint as openssl", async () => {
    const a = await ensureSelfSignedCert(path.join(dir, "tls"));
    expect(a.made).toBe(true);
    expect(fs.statSync(a.keyFile).mode & 0o777).toBe(0o600);
    const ossl = spawnSync("openssl", ["x509", "-noout", "-fingerprint", "-sha256", "-in", a.certFile], { encoding: "utf8" });
    if (ossl.status === 0) expect(ossl.stdout.trim()).toBe(`sha256 Fingerprint=${a.fingerprint}`);
    const b = await ensureSelfSignedCert(path.join(dir, "tls"));
    expect(b).toMatchObject({ made: false, fingerprint: a.fingerprint });
  });

  it("refuses half a pair rather than replacing it", async () => {
    const d = path.join(dir, "half");
    fs.mkdirSync(d);
    fs.writeFileSync(path.join(d, "cert.pem"), "x");
    await expect(ensureSelfSignedCert(d)).rejects.toThrow(/cert.pem without key.pem/);
  });

  it("normalises fingerprints as operators paste them", () => {
    const fp = "AB:".repeat(31) + "AB";
    expect(normaliseFingerprint("ab".repeat(32))).toBe(fp);
    expect(normaliseFingerprint(`sha256:${fp.toLowerCase()}`)).toBe(fp);
    expect(normaliseFingerprint("AB:CD")).toBeUndefined();
  });
});

describe("connectPinned", () => {
  it("connects when the fingerprint matches, and hands no socket over when it does not", async () => {
    const c = await ensureSelfSignedCert(path.join(dir, "srv"));
    const got: Buffer[] = [];
    const server = tls.createServer({ cert: fs.readFileSync(c.certFile), key: fs.readFileSync(c.keyFile) }, (s) => {
      s.on("data", (d) => got.push(d));
      s.on("error", () => {});
    });
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    const port = (server.address() as { port: number }).port;
    try {
      const ok = await connectPinned("127.0.0.1", port, c.fingerprint.replace(/:/g, "").toLowerCase());
      ok.end("hello");
      await expect(connectPinned("127.0.0.1", port, "00".repeat(32))).rejects.toThrow(/not the pinned/);
      await expect(connectPinned("127.0.0.1", port, "nonsense")).rejects.toThrow(/bad fingerprint/);
      await new Promise((r) => setTimeout(r, 100));
      expect(Buffer.concat(got).toString()).toBe("hello");
    } finally {
      await new Promise((r) => server.close(r));
    }
  });
});
