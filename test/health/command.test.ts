// Golden tests of the `health …` console words: each line in, the exact reply
// out; errors name the offending token and change nothing; running-config
// replayed into a fresh monitor gives the same running-config and show.

import { describe, it, expect } from "vitest";
import { HealthMonitor } from "../../src/health/monitor.js";
import { healthCommand } from "../../src/health/command.js";
import { FakeTarget, words } from "./helpers.js";

const ctx = { source: "config" as const };
const SERVICES = {
  "tcp:198.18.100.1:80": ["198.19.0.11:80", "198.19.0.12:80", "198.19.0.13:8080", "198.19.0.14:80"],
  "udp:198.18.100.1:53": ["198.19.0.11:53"],
  "tcp:[2001:db8:100::1]:443": ["[2001:db8:1::11]:443"],
  "fwm:7": ["198.19.0.11:0"],
};

/** A never-started monitor (counters stay 0, output is stable); `null`: a target without destKeys. */
function fresh(services: Record<string, string[]> | null = SERVICES) {
  const monitor = new HealthMonitor();
  const target = new FakeTarget(services ?? undefined);
  const cmd = healthCommand(monitor, target);
  /** The reply text (an error reply's text starts with "error: "). */
  const exec = async (line: string) => (await cmd.execute(words(line), ctx)).text;
  return { monitor, target, cmd, exec };
}

/** [line, exact reply] — replies for success are empty, as ipvsadm's. */
const GOLDEN: Array<[string, string]> = [
  ["health add -t 198.18.100.1:80 -r 198.19.0.11:80 tcp", ""],
  ["health add -t 198.18.100.1:80 -r 198.19.0.12 tcp connect-port 8081 interval 2 timeout 500ms rise 1 fall 5 remove", ""],
  ["health add -t 198.18.100.1:80 -r 198.19.0.13:8080 http path /healthz status 204 digest 0123456789ABCDEF0123456789abcdef host www.example.test interval 0.25 alpha", ""],
  ["health add -u 198.18.100.1:53 -r 198.19.0.11 udp payload 00010203 expect CAFE bind 198.19.0.1", ""],
  ["health add -t [2001:db8:100::1]:443 -r [2001:db8:1:0::11]:443 tcp connect-ip 2001:db8:1::99", ""],
  ["health add -f 7 -r 198.19.0.11 interval 10 fall 2 script /usr/local/bin/check \"a b\" --x", ""],
  ["health sorry -t 198.18.100.1:80 198.19.0.99:80 -m", ""],
  ["health sorry -u 198.18.100.1:53 198.19.0.99", ""],
  ["health show", [
    "-t 198.18.100.1:80 -r 198.19.0.11:80 tcp up checks 0 failures 0 transitions 0",
    "-t 198.18.100.1:80 -r 198.19.0.12:80 tcp up checks 0 failures 0 transitions 0",
    "-t 198.18.100.1:80 -r 198.19.0.13:8080 http down checks 0 failures 0 transitions 1",
    "-u 198.18.100.1:53 -r 198.19.0.11:53 udp up checks 0 failures 0 transitions 0",
    "-t [2001:db8:100::1]:443 -r [2001:db8:1::11]:443 tcp up checks 0 failures 0 transitions 0",
    "-f 7 -r 198.19.0.11:0 script up checks 0 failures 0 transitions 0",
    "-t 198.18.100.1:80 sorry 198.19.0.99:80 -m idle",
    "-u 198.18.100.1:53 sorry 198.19.0.99:53 -g idle",
  ].join("\n")],
  ["health show -u 198.18.100.1:53", [
    "-u 198.18.100.1:53 -r 198.19.0.11:53 udp up checks 0 failures 0 transitions 0",
    "-u 198.18.100.1:53 sorry 198.19.0.99:53 -g idle",
  ].join("\n")],
  ["health del -t 198.18.100.1:80 -r 198.19.0.11:80", ""],
  ["health sorry del -u 198.18.100.1:53", ""],
];

const RUNNING = [
  "health add -t 198.18.100.1:80 -r 198.19.0.12:80 tcp connect-port 8081 interval 2 timeout 500ms rise 1 fall 5 remove",
  "health add -t 198.18.100.1:80 -r 198.19.0.13:8080 http path /healthz status 204 digest 0123456789abcdef0123456789abcdef host www.example.test interval 250ms timeout 3 rise 2 fall 3 inhibit alpha",
  "health add -u 198.18.100.1:53 -r 198.19.0.11:53 udp payload 00010203 expect cafe bind 198.19.0.1 interval 5 timeout 3 rise 2 fall 3 inhibit",
  "health add -t [2001:db8:100::1]:443 -r [2001:db8:1::11]:443 tcp connect-ip 2001:db8:1::99 interval 5 timeout 3 rise 2 fall 3 inhibit",
  "health add -f 7 -r 198.19.0.11:0 interval 10 timeout 3 rise 2 fall 2 inhibit script /usr/local/bin/check \"a b\" --x",
  "health sorry -t 198.18.100.1:80 198.19.0.99:80 -m",
];

describe("health console words", () => {
  it("golden replies, then running-config", async () => {
    const { exec, cmd } = fresh();
    for (const [line, reply] of GOLDEN) expect(await exec(line), line).toBe(reply);
    expect(cmd.runningConfig()).toEqual(RUNNING);
  });

  it("running-config replayed into a fresh monitor gives the same running-config and show", async () => {
    const a = fresh();
    for (const [line] of GOLDEN) await a.exec(line);
    const b = fresh();
    for (const line of a.cmd.runningConfig()) expect(await b.exec(line), line).toBe("");
    expect(b.cmd.runningConfig()).toEqual(a.cmd.runningConfig());
    expect(await b.exec("health show")).toBe(await a.exec("health show"));
    expect(b.monitor.specs()).toEqual(a.monitor.specs());
  });

  it("accepts the words without the leading `health`, and `-r` before the service", async () => {
    const { cmd } = fresh();
    expect(await cmd.execute(["add", "-r", "198.19.0.11:80", "-t", "198.18.100.1:80", "tcp"], ctx)).toEqual({ ok: true, text: "" });
    expect(cmd.runningConfig()).toEqual(["health add -t 198.18.100.1:80 -r 198.19.0.11:80 tcp interval 5 timeout 3 rise 2 fall 3 inhibit"]);
  });

  it("script arguments end at `--`, after which options continue", async () => {
    const { exec, cmd } = fresh();
    expect(await exec("health add -t 198.18.100.1:80 -r 198.19.0.11 script /bin/check -v -- rise 4")).toBe("");
    expect(cmd.runningConfig()).toEqual(["health add -t 198.18.100.1:80 -r 198.19.0.11:80 interval 5 timeout 3 rise 4 fall 3 inhibit script /bin/check -v"]);
  });

  it("help", async () => {
    const { exec, cmd } = fresh();
    expect(await exec("health help")).toBe(cmd.help);
    expect(cmd.help.split("\n")[0]).toBe("health add SERVICE -r RS tcp [OPTIONS]");
  });

  const ERRORS: Array<[string, string]> = [
    ["health frob", 'error: health: unknown command "frob" (add, del, sorry, show, script-user, script-dir, script-ws)'],
    ["health add -t 198.18.100.1:80 -r 198.19.0.11:80", "error: health add: missing check type (tcp, http, udp or script)"],
    ["health add -t 198.18.100.1:80 tcp", "error: health add: missing real server (-r)"],
    ["health add -r 198.19.0.11:80 tcp", "error: health add: missing service (-t, -u or -f)"],
    ["health add -t 198.18.100.1 -r 198.19.0.11:80 tcp", 'error: health add: bad service "198.18.100.1": service needs a port: 198.18.100.1'],
    ["health add -t 198.18.100.300:80 -r 198.19.0.11:80 tcp", 'error: health add: bad service "198.18.100.300:80": not an address: 198.18.100.300:80'],
    ["health add -t 198.18.100.1:80 -r 198.19.0.11:99999 tcp", 'error: health add: bad real server "198.19.0.11:99999": bad port in 198.19.0.11:99999'],
    ["health add -t 198.18.100.1:80 -r 198.19.0.11:80 tcp interval soon", 'error: health add: bad interval "soon" (seconds like 5 or 0.5, or milliseconds like 100ms)'],
    ["health add -t 198.18.100.1:80 -r 198.19.0.11:80 tcp timeout 0", 'error: health add: bad timeout "0" (seconds like 5 or 0.5, or milliseconds like 100ms)'],
    ["health add -t 198.18.100.1:80 -r 198.19.0.11:80 tcp rise 0", 'error: health add: bad rise "0" (1..1000)'],
    ["health add -t 198.18.100.1:80 -r 198.19.0.11:80 tcp fall", 'error: health add: "fall" needs a count'],
    ["health add -t 198.18.100.1:80 -r 198.19.0.11:80 tcp connect-port 0", 'error: health add: bad connect-port "0" (1..65535)'],
    ["health add -t 198.18.100.1:80 -r 198.19.0.11:80 tcp bind example.com", 'error: health add: bad bind "example.com" (an IPv4 or IPv6 address)'],
    ["health add -t 198.18.100.1:80 -r 198.19.0.11:80 tcp path /x", 'error: health add: unknown word "path"'],
    ["health add -t 198.18.100.1:80 -r 198.19.0.11:80 tcp inhibit remove", 'error: health add: duplicate "inhibit|remove"'],
    ["health add -t 198.18.100.1:80 -r 198.19.0.11:80 tcp interval 1 interval 2", 'error: health add: duplicate "interval"'],
    ["health add -t 198.18.100.1:80 -r 198.19.0.11:80 tcp http", 'error: health add: second check type "http"'],
    ["health add -t 198.18.100.1:80 -r 198.19.0.11:80 http", 'error: health add: "http" needs "path"'],
    ["health add -t 198.18.100.1:80 -r 198.19.0.11:80 http path healthz", 'error: health add: bad path "healthz" (starts with "/", no spaces)'],
    ["health add -t 198.18.100.1:80 -r 198.19.0.11:80 http path / status 99", 'error: health add: bad status "99" (100..599)'],
    ["health add -t 198.18.100.1:80 -r 198.19.0.11:80 http path / digest abc", 'error: health add: bad digest "abc" (32 hex digits, an MD5)'],
    ["health add -t 198.18.100.1:80 -r 198.19.0.11:80 udp payload 0g", 'error: health add: bad payload "0g" (hex bytes, at most 1472)'],
    ["health add -t 198.18.100.1:80 -r 198.19.0.11:80 udp payload 123", 'error: health add: bad payload "123" (hex bytes, at most 1472)'],
    ["health add -t 198.18.100.1:80 -r 198.19.0.11:80 script", 'error: health add: "script" needs a command'],
    ["health add -f 7 -r 198.19.0.11 tcp", 'error: health add: real server "198.19.0.11" has no port: give "connect-port"'],
    ["health add -t 198.18.100.1:80 -r 198.19.0.50:80 tcp", "error: health add: no real server 198.19.0.50:80 in -t 198.18.100.1:80"],
    ["health add -t 198.18.100.2:80 -r 198.19.0.11:80 tcp", "error: health add: no such service -t 198.18.100.2:80"],
    ["health add -t 198.18.100.1:80 -r 198.19.0.14:80 tcp", "error: health add: a check for -t 198.18.100.1:80 -r 198.19.0.14:80 already exists"],
    ["health del -t 198.18.100.1:80 -r 198.19.0.12:80", "error: health del: no check for -t 198.18.100.1:80 -r 198.19.0.12:80"],
    ["health del -t 198.18.100.1:80", "error: health del: missing real server (-r)"],
    ["health del -t 198.18.100.1:80 -r 198.19.0.14:80 now", 'error: health del: unknown word "now"'],
    ["health sorry -t 198.18.100.1:80", "error: health sorry: missing sorry server address"],
    ["health sorry -t 198.18.100.1:80 198.19.0.99:80 -x", 'error: health sorry: unknown word "-x"'],
    ["health sorry -t 198.18.100.1:80 198.19.0.99:80 -m -g", 'error: health sorry: duplicate forwarding method "-g"'],
    ["health sorry -t 198.18.100.1:80 nowhere", 'error: health sorry: bad real server "nowhere": not an address: nowhere'],
    ["health sorry -t 198.18.100.9:80 198.19.0.99:80", "error: health sorry: no such service -t 198.18.100.9:80"],
    ["health sorry del -t 198.18.100.1:80", "error: health sorry del: no sorry server for -t 198.18.100.1:80"],
    ["health sorry del -t 198.18.100.1:80 extra", 'error: health sorry del: unknown word "extra"'],
    ["health show -t", 'error: health show: "-t" needs a service address'],
    ["health add -t 198.18.100.1:htp -r 198.19.0.11:80 tcp", 'error: health add: bad service "198.18.100.1:htp": bad port in 198.18.100.1:htp'],
    ["health add -u 198.18.100.1:53 -r 198.19.0.11:redis udp", 'error: health add: bad real server "198.19.0.11:redis": bad port in 198.19.0.11:redis'],
    ["health add -t 198.18.100.1:80 -r host.example:80 tcp", 'error: health add: bad real server "host.example:80": not an address: host.example:80'],
  ];

  it("errors: one line naming the offending token, and no change", async () => {
    const { exec, cmd, target } = fresh();
    expect(await exec("health add -t 198.18.100.1:80 -r 198.19.0.14:80 tcp")).toBe("");
    const before = cmd.runningConfig();
    const show = await exec("health show");
    for (const [line, reply] of ERRORS) {
      const r = await cmd.execute(words(line), ctx);
      expect(r, line).toEqual({ ok: false, text: reply });
      expect(reply.includes("\n")).toBe(false);
    }
    expect(cmd.runningConfig()).toEqual(before);
    expect(await exec("health show")).toBe(show);
    expect(target.calls).toEqual([]);
  });

  it("reads services and real servers as ipvsadm does: ports by name (as the service's protocol names them), the same keys", async () => {
    const { exec, cmd } = fresh();
    expect(await exec("health add -t 198.18.100.1:http -r 198.19.0.11:www tcp")).toBe("");
    expect(await exec("health add -u 198.18.100.1:domain -r 198.19.0.11 udp")).toBe("");
    expect(await exec("health add -t [2001:db8:100::1]:https -r [2001:db8:1::11]:https tcp")).toBe("");
    expect(await exec("health sorry -t 198.18.100.1:http 198.19.0.99:http-alt -m")).toBe("");
    expect(cmd.runningConfig()).toEqual([
      "health add -t 198.18.100.1:80 -r 198.19.0.11:80 tcp interval 5 timeout 3 rise 2 fall 3 inhibit",
      "health add -u 198.18.100.1:53 -r 198.19.0.11:53 udp interval 5 timeout 3 rise 2 fall 3 inhibit",
      "health add -t [2001:db8:100::1]:443 -r [2001:db8:1::11]:443 tcp interval 5 timeout 3 rise 2 fall 3 inhibit",
      "health sorry -t 198.18.100.1:80 198.19.0.99:8080 -m",
    ]);
    // syslog is a UDP name only, as getservbyname has it.
    expect(await exec("health add -t 198.18.100.1:syslog -r 198.19.0.11:80 tcp")).toBe('error: health add: bad service "198.18.100.1:syslog": bad port in 198.18.100.1:syslog');
  });

  it("without destKeys on the target, any service and real server is accepted", async () => {
    const { exec, cmd } = fresh(null);
    expect(await exec("health add -t 198.18.100.2:80 -r 198.19.0.50:80 tcp")).toBe("");
    expect(cmd.runningConfig()).toHaveLength(1);
  });
});
