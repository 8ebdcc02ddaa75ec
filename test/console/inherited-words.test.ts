// Words that every JavaScript object inherits ("constructor", "toString",
// "__proto__", …) typed where the console looks a word up in a table: each is
// an unknown word with an error reply, and nothing changes. Before, `ipvsadm
// --constructor` passed as an option, `-b toString` added a service with a
// flag from nowhere, and `health sorry … toString` a forwarding method.
import { describe, expect, it } from "vitest";
import { makeConsole } from "./helpers.js";

const INHERITED = ["constructor", "toString", "__proto__", "hasOwnProperty", "valueOf", "isPrototypeOf"];

describe("inherited property names as console words", () => {
  it("are unknown options, flags and methods everywhere, and change nothing", async () => {
    const t = await makeConsole();
    await t.setup("ip link set eth0 up", "ip addr add 198.18.100.1/32 dev eth0");
    for (const w of INHERITED) {
      for (const line of [
        `ipvsadm --${w}`,
        `ipvsadm -A -t 198.18.100.1:80 --${w}`,
        `ipvsadm -A -t 198.18.100.1:80 -s rr -b ${w}`,
        `ipvsadm -A -t 198.18.100.1:80 -s ${w}`,
        `iptables -t mangle -A PREROUTING ${w} x`,
        `health sorry -t 198.18.100.1:80 198.19.0.11:80 ${w}`,
        `ip ${w}`,
      ]) {
        const r = await t.reply(line);
        expect(r.ok, `${line} → ${r.text}`).toBe(false);
        expect(r.text, line).toMatch(/^error: /);
      }
    }
    expect(await t.run("ipvsadm -S -n")).toBe("");
  });
});
