// The image's consoles answer on the management NIC (and loopback) only.
import net from "node:net";
import pino from "pino";
import { describe, expect, it } from "vitest";
import { arrivedOn, restrictConnections } from "../../src/appliance/mgmtonly.js";

const sock = (localAddress: string | undefined) => ({ localAddress }) as net.Socket;
const ifs = () => ({
  eth0: [{ address: "198.18.60.2" }, { address: "fe80::1%eth0" }, { address: "2001:db8::2" }] as never,
  eth1: [{ address: "198.18.61.2" }] as never,
});

describe("arrivedOn", () => {
  it("accepts the management NIC's addresses and loopback, nothing else", () => {
    const ok = arrivedOn("eth0", ifs);
    for (const a of ["198.18.60.2", "::ffff:198.18.60.2", "2001:db8::2", "fe80::1", "127.0.0.1", "::1"]) expect(ok(sock(a)), a).toBe(true);
    for (const a of ["198.18.61.2", "198.18.100.1", "::ffff:198.18.61.2", "0.0.0.0", undefined]) expect(ok(sock(a)), String(a)).toBe(false);
    expect(arrivedOn("eth9", ifs)(sock("198.18.60.2"))).toBe(false);
  });
});

describe("restrictConnections", () => {
  it("closes a refused connection before the server answers on it, and lets others through", async () => {
    let allow = false;
    const server = net.createServer((s) => { s.end("hello"); });
    restrictConnections(server, () => allow, pino({ level: "silent" }), "test");
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    const port = (server.address() as net.AddressInfo).port;
    const read = () => new Promise<string>((resolve) => {
      const c = net.connect(port, "127.0.0.1");
      let got = "";
      c.on("data", (d) => { got += d; });
      c.on("close", () => resolve(got));
      c.on("error", () => {});
    });
    try {
      expect(await read()).toBe("");
      allow = true;
      expect(await read()).toBe("hello");
    } finally {
      await new Promise((r) => server.close(r));
    }
  });
});
