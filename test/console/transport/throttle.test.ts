// Failed-login throttling and the Origin policy, as tables.

import { describe, it, expect } from "vitest";
import { FailureThrottle, sourceKey } from "../../../src/console/transport/throttle.js";
import { originAllowed } from "../../../src/console/transport/origin.js";
import { tokenMatches } from "../../../src/console/transport/token.js";

describe("FailureThrottle", () => {
  it("locks after maxFailures in the window, doubling repeat lockouts up to the cap", () => {
    let now = 0;
    const t = new FailureThrottle({ maxFailures: 3, windowMs: 1000, lockoutMs: 100, maxLockoutMs: 350, now: () => now });
    expect([t.fail("a"), t.fail("a")]).toEqual([0, 0]);
    expect(t.blockedFor("a")).toBe(0);
    expect(t.fail("a")).toBe(100);
    expect(t.blockedFor("a")).toBe(100);
    expect(t.blockedFor("b")).toBe(0); // per address
    now = 100;
    expect(t.blockedFor("a")).toBe(0);
    t.fail("a"); t.fail("a");
    expect(t.fail("a")).toBe(200);
    now = 300;
    t.fail("a"); t.fail("a");
    expect(t.fail("a")).toBe(350); // 400 capped
    t.succeed("a");
    expect(t.blockedFor("a")).toBe(0);
    expect([t.fail("a"), t.fail("a"), t.fail("a")]).toEqual([0, 0, 100]); // success forgot the history
  });

  it("keeps at most maxEntries addresses", () => {
    let now = 0;
    const t = new FailureThrottle({ maxFailures: 2, maxEntries: 3, now: () => now });
    t.fail("a"); t.fail("a"); // locked
    for (const x of ["b", "c", "d", "e"]) t.fail(x);
    expect(t.blockedFor("a")).toBe(0); // the oldest went to make room
    now += 1;
    expect(t.fail("e")).toBeGreaterThan(0); // the newest are still counted
  });
});

describe("FailureThrottle: sources", () => {
  it("keys IPv4 by address, IPv6 by /64, and IPv4-mapped IPv6 as IPv4", () => {
    expect(sourceKey("192.0.2.7")).toBe("192.0.2.7");
    expect(sourceKey("::ffff:192.0.2.7")).toBe("192.0.2.7");
    expect(sourceKey("2001:db8:1:2:aaaa:bbbb:cccc:dddd")).toBe("2001:db8:1:2::/64");
    expect(sourceKey("2001:0db8:0001:0002::1")).toBe("2001:db8:1:2::/64");
    expect(sourceKey("2001:db8:1:3::1")).toBe("2001:db8:1:3::/64");
    expect(sourceKey("fe80::1%eth0")).toBe("fe80::/64");
    expect(sourceKey("::1")).toBe("::/64");
    expect(sourceKey("unknown")).toBe("unknown");
  });

  it("counts all addresses of one IPv6 /64 together, and an IPv4-mapped address with its IPv4 one", () => {
    const t = new FailureThrottle({ maxFailures: 3 });
    t.fail("2001:db8:1:2::1");
    t.fail("2001:db8:1:2::2");
    expect(t.fail("2001:db8:1:2:ffff::3")).toBeGreaterThan(0);
    expect(t.blockedFor("2001:db8:1:2::99")).toBeGreaterThan(0);
    expect(t.blockedFor("2001:db8:1:3::1")).toBe(0); // the next /64 is another source
    t.fail("198.51.100.1");
    t.fail("::ffff:198.51.100.1");
    expect(t.fail("198.51.100.1")).toBeGreaterThan(0);
    expect(t.blockedFor("::ffff:198.51.100.1")).toBeGreaterThan(0);
    t.succeed("2001:db8:1:2::5");
    expect(t.blockedFor("2001:db8:1:2::1")).toBe(0);
  });
});

describe("FailureThrottle: overall rate", () => {
  it("past globalMaxFailures in the window, one failure locks its source; clean sources stay open; the alarm ends", () => {
    let now = 0;
    const t = new FailureThrottle({ maxFailures: 5, globalMaxFailures: 3, globalWindowMs: 1000, globalHoldMs: 5000, lockoutMs: 60_000, now: () => now });
    expect([t.fail("10.0.0.1"), t.fail("10.0.0.2"), t.fail("10.0.0.3")]).toEqual([0, 0, 0]);
    expect(t.alarmed).toBe(false);
    expect(t.fail("10.0.0.4")).toBe(60_000); // the fourth within a second: alarm, and locked at its first failure
    expect(t.alarmed).toBe(true);
    expect(t.blockedFor("10.0.0.4")).toBe(60_000);
    expect(t.blockedFor("10.0.0.1")).toBe(0); // failed before the alarm: counted, not locked
    expect(t.blockedFor("10.0.0.9")).toBe(0); // never failed: may try (a right token gets in)
    now = 2000;
    expect(t.alarmed).toBe(true);
    expect(t.fail("10.0.0.5")).toBe(60_000); // still within the hold
    now = 8000; // the hold (5 s from the failure that raised it) is over
    expect(t.alarmed).toBe(false);
    expect(t.fail("10.0.0.6")).toBe(0);
  });

  it("failures spread out in time never raise the alarm", () => {
    let now = 0;
    const t = new FailureThrottle({ maxFailures: 100, globalMaxFailures: 3, globalWindowMs: 1000, now: () => now });
    for (let i = 0; i < 50; i++) {
      now += 400;
      expect(t.fail(`10.0.${i}.1`)).toBe(0);
    }
    expect(t.alarmed).toBe(false);
  });
});

describe("originAllowed", () => {
  const plain = { secure: false, listenHost: "0.0.0.0" };
  const table: [string | undefined, string | undefined, object, boolean, string][] = [
    [undefined, "10.0.0.5:8080", plain, true, "no Origin: a non-browser client"],
    ["http://10.0.0.5:8080", "10.0.0.5:8080", plain, true, "the server's own page"],
    ["http://10.0.0.5:8080", "10.0.0.5:8081", plain, false, "another port"],
    ["https://10.0.0.5:8080", "10.0.0.5:8080", plain, false, "https page, plain server"],
    ["https://10.0.0.5:8443", "10.0.0.5:8443", { ...plain, secure: true }, true, "TLS server's own page"],
    ["http://[2001:db8::5]:8080", "[2001:db8::5]:8080", plain, true, "IPv6 literal"],
    ["http://localhost:8080", "localhost:8080", plain, true, "localhost"],
    ["http://lb.example:8080", "lb.example:8080", plain, false, "unknown name: DNS rebinding guard"],
    ["http://lb.example:8080", "lb.example:8080", { ...plain, listenHost: "lb.example" }, true, "the name it listens on"],
    ["http://lb.example:8080", "lb.example:8080", { ...plain, allowedOrigins: ["http://lb.example:8080"] }, true, "configured origin"],
    ["https://ops.example", "10.0.0.5:8080", { ...plain, allowedOrigins: ["https://ops.example:443"] }, true, "configured origin, default port"],
    ["http://evil.example", "10.0.0.5:8080", plain, false, "foreign"],
    ["null", "10.0.0.5:8080", plain, false, "opaque origin"],
    ["file://", "10.0.0.5:8080", plain, false, "file page"],
    ["http://10.0.0.5:8080", undefined, plain, false, "no Host"],
  ];
  for (const [origin, host, policy, want, what] of table) {
    it(`${want ? "allows" : "refuses"} ${what}`, () => {
      expect(originAllowed(origin, host, policy as typeof plain)).toBe(want);
    });
  }
});

describe("tokenMatches", () => {
  it("matches only the exact token, whatever the lengths", () => {
    expect(tokenMatches("abcdefghijklmnop", "abcdefghijklmnop")).toBe(true);
    expect(tokenMatches("abcdefghijklmnoq", "abcdefghijklmnop")).toBe(false);
    expect(tokenMatches("abc", "abcdefghijklmnop")).toBe(false);
    expect(tokenMatches("", "abcdefghijklmnop")).toBe(false);
  });
});
