import { describe, it, expect, beforeAll } from "vitest";
import { checkUdp } from "../../src/health/udp.js";
import { startUdp, closedUdpPort, handleCounts, settledHandles, LOOPBACK } from "./helpers.js";

const hex = (s: string) => Buffer.from(s, "hex");

describe("UDP check", () => {
  let baseline: Record<string, number>;
  beforeAll(() => { baseline = handleCounts(); });

  it("passes on any reply, and sends the payload", async () => {
    const echo = await startUdp((m) => Buffer.concat([hex("cafe"), m]));
    expect(await checkUdp({ host: LOOPBACK, port: echo.port, payload: hex("0102"), timeoutMs: 1000 })).toEqual({ ok: true });
    expect(echo.received.map((b) => b.toString("hex"))).toEqual(["0102"]);
    await echo.close();
  });

  it("sends an empty datagram when the payload is empty", async () => {
    const echo = await startUdp(() => hex("00"));
    expect(await checkUdp({ host: LOOPBACK, port: echo.port, payload: new Uint8Array(0), timeoutMs: 1000 })).toEqual({ ok: true });
    expect(echo.received.map((b) => b.length)).toEqual([0]);
    await echo.close();
  });

  it("with expect: passes when the reply begins with it, fails otherwise", async () => {
    const echo = await startUdp((m) => Buffer.concat([hex("cafe"), m]));
    expect(await checkUdp({ host: LOOPBACK, port: echo.port, payload: hex("01"), expect: hex("cafe"), timeoutMs: 1000 })).toEqual({ ok: true });
    expect(await checkUdp({ host: LOOPBACK, port: echo.port, payload: hex("01"), expect: hex("cafe01"), timeoutMs: 1000 })).toEqual({ ok: true });
    expect(await checkUdp({ host: LOOPBACK, port: echo.port, payload: hex("01"), expect: hex("beef"), timeoutMs: 1000 }))
      .toEqual({ ok: false, error: "unexpected reply cafe01" });
    await echo.close();
  });

  it("fails with a timeout on a silent port", async () => {
    const silent = await startUdp(() => null);
    const r = await checkUdp({ host: LOOPBACK, port: silent.port, payload: hex("01"), timeoutMs: 150 });
    expect(r).toEqual({ ok: false, error: "timeout after 150 ms" });
    expect(silent.received.length).toBe(1);
    await silent.close();
  });

  it("fails at once on a closed port (ICMP port unreachable → ECONNREFUSED)", async () => {
    const port = await closedUdpPort();
    const t0 = Date.now();
    const r = await checkUdp({ host: LOOPBACK, port, payload: hex("01"), timeoutMs: 3000 });
    expect(r.ok).toBe(false);
    expect(r.error).toMatch(/ECONNREFUSED/);
    expect(Date.now() - t0).toBeLessThan(2000);
  });

  it("binds to a given source address", async () => {
    const echo = await startUdp((m) => m);
    const r = await checkUdp({ host: LOOPBACK, port: echo.port, bind: "127.0.0.3", payload: hex("aa"), timeoutMs: 1000 });
    expect(r).toEqual({ ok: true });
    expect(echo.from).toEqual(["127.0.0.3"]);
    await echo.close();
  });

  it("leaves no socket open", async () => {
    expect(await settledHandles(baseline)).toEqual(baseline);
  });
});
