// The browser console end to end: Debian's chromium driven by playwright-core
// opens the page, is refused a wrong token, enters the right one, types a
// command into the xterm.js terminal and sees its reply, watches the stats
// panel update, and keeps the token across a reload (sessionStorage). The
// page must load without a single Content-Security-Policy violation.

import { describe, it, expect, beforeAll, afterAll } from "vitest";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { createRequire } from "node:module";
import { startWsConsole, type WsConsole, type StatsSnapshot } from "../../../src/console/transport/ws.js";
import { fakeInterpreter, quietLog } from "./fake.js";
import { requireOrFail } from "../../helpers/requires.js";

const CHROMIUM = "/usr/bin/chromium";
function canResolve(name: string): boolean {
  try {
    createRequire(import.meta.url).resolve(name);
    return true;
  } catch {
    return false;
  }
}
const haveChromium = fs.existsSync(CHROMIUM);
const havePlaywright = canResolve("playwright-core");
const available = haveChromium && havePlaywright;
const why = [!haveChromium && `${CHROMIUM} is missing (apt-get install chromium)`, !havePlaywright && "playwright-core is not installed"]
  .filter(Boolean).join(" and ");

const TOKEN = "browser-test-token-0123456789abcdef";

describe.skipIf(requireOrFail(available, why))(`browser console${available ? "" : ` (skipped: ${why})`}`, () => {
  let srv: WsConsole;
  let userDataDir: string;
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  let context: any;
  let tick = 0;

  beforeAll(async () => {
    const stats = (): StatsSnapshot => {
      tick++;
      return {
        services: [
          {
            service: "TCP  198.18.100.1:80", scheduler: "wlc", conns: 1000 + tick, cps: 12.5, inPps: 40, outPps: 38, inBps: 4000, outBps: 90000,
            reals: [
              { address: "198.19.0.11:80", forward: "Masq", weight: 1, health: "up", activeConns: 7000 + tick, inactiveConns: 2, conns: 500, cps: 6, inPps: 20, outPps: 19, inBps: 2000, outBps: 45000 },
              { address: "198.19.0.12:80", forward: "Masq", weight: 1, health: "down", activeConns: 0, inactiveConns: 0, conns: 0, cps: 0, inPps: 0, outPps: 0, inBps: 0, outBps: 0 },
            ],
          },
        ],
      };
    };
    srv = await startWsConsole({ interpreter: fakeInterpreter(), host: "127.0.0.1", port: 0, token: TOKEN, statsSource: stats, statsIntervalMs: 250, log: quietLog });
    userDataDir = fs.mkdtempSync(path.join(os.tmpdir(), "weir-chromium-"));
    const { chromium } = await import("playwright-core");
    context = await chromium.launchPersistentContext(userDataDir, {
      executablePath: CHROMIUM,
      headless: true,
      args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update", "--disable-sync", "--no-first-run"],
    });
  });

  afterAll(async () => {
    await context?.close();
    await srv?.close();
    if (userDataDir) fs.rmSync(userDataDir, { recursive: true, force: true });
  });

  it("logs in with the token, runs a command in the terminal, and shows live stats", async () => {
    const page = context.pages()[0] ?? (await context.newPage());
    const cspErrors: string[] = [];
    page.on("console", (m: { type(): string; text(): string }) => {
      if (/Content.Security.Policy|Refused to/i.test(m.text())) cspErrors.push(m.text());
    });
    page.on("pageerror", (e: Error) => cspErrors.push(`page error: ${e.message}`));
    await page.goto(srv.url);

    // A wrong token is refused and not kept.
    await page.fill("#token", "not-the-right-token-at-all");
    await page.click("#connect");
    await page.waitForFunction(() => document.getElementById("login-error")!.textContent!.includes("invalid token"));
    expect(await page.evaluate(() => sessionStorage.getItem("weir.token"))).toBeNull();

    // The right one opens the console.
    await page.fill("#token", TOKEN);
    await page.click("#connect");
    await page.waitForSelector("#app:not([hidden])");
    await page.waitForSelector(".xterm-rows");
    expect(await page.evaluate(() => sessionStorage.getItem("weir.token"))).toBe(TOKEN);

    const screen = () => page.evaluate(() => Array.from(document.querySelectorAll(".xterm-rows > div")).map((d) => d.textContent).join("\n"));
    await page.waitForFunction(() => document.querySelector(".xterm-rows")!.textContent!.includes("weir> "));
    await page.click("#terminal");
    await page.keyboard.type("echo hello from the browser");
    await page.keyboard.press("Enter");
    await page.waitForFunction(() => /^hello from the browser\s*$/m.test(Array.from(document.querySelectorAll(".xterm-rows > div")).map((d) => d.textContent).join("\n")));
    await page.keyboard.type("multi");
    await page.keyboard.press("Enter");
    await page.waitForFunction(() => document.querySelector(".xterm-rows")!.textContent!.includes("three"));
    await page.keyboard.type("bad input");
    await page.keyboard.press("Enter");
    await page.waitForFunction(() => document.querySelector(".xterm-rows")!.textContent!.includes("error: unknown word 'input' at 1"));
    // Tab completes from the interpreter's words.
    await page.keyboard.type("show run");
    await page.keyboard.press("Tab");
    await page.keyboard.press("Enter");
    await page.waitForFunction(() => document.querySelector(".xterm-rows")!.textContent!.includes("ran: show running-config"));
    const text = await screen();
    expect(text).toMatch(/weir> echo hello from the browser\s*\nhello from the browser/);
    expect(text).toMatch(/one\s*\ntwo\s*\nthree/);

    // The stats panel fills in and keeps changing.
    await page.waitForFunction(() => document.getElementById("stats")!.textContent!.includes("198.19.0.11:80"));
    const active = () => page.evaluate(() => {
      const row = Array.from(document.querySelectorAll("#stats tbody tr")).find((r) => r.textContent!.includes("198.19.0.11:80"));
      return Number(row!.children[4].textContent);
    });
    const first = await active();
    expect(first).toBeGreaterThan(7000);
    await page.waitForFunction((n: number) => {
      const row = Array.from(document.querySelectorAll("#stats tbody tr")).find((r) => r.textContent!.includes("198.19.0.11:80"));
      return Number(row!.children[4].textContent) > n;
    }, first);
    expect(await page.textContent("#stats")).toContain("TCP  198.18.100.1:80");
    expect(await page.getAttribute("#stats tbody tr:nth-child(2) td:nth-child(4)", "class")).toBe("health-down");

    // A reload reconnects with the token kept in sessionStorage.
    await page.reload();
    await page.waitForSelector("#app:not([hidden])");
    await page.waitForFunction(() => document.querySelector(".xterm-rows")?.textContent?.includes("weir> "));
    expect(await page.isHidden("#login")).toBe(true);

    // `exit` ends the session; Connect with an empty box reconnects with the kept token.
    await page.click("#terminal");
    await page.keyboard.type("exit");
    await page.keyboard.press("Enter");
    await page.waitForSelector("#login:not([hidden])");
    expect(await page.textContent("#login-error")).toBe("session ended");
    await page.click("#connect");
    await page.waitForSelector("#login", { state: "hidden" });
    await page.waitForFunction(() => document.getElementById("status")!.textContent === "connected");

    expect(cspErrors).toEqual([]);
  });
});
