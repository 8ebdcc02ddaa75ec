// Golden tests of error replies: exactly one line "error: …" naming the
// offending token and why, and no change at all (configuration, data plane).

import { describe, expect, it } from "vitest";
import * as errors from "../../src/errors.js";
import { CODES, HealthError, HealthSyntaxError, isCode, KeyError, ScriptRefused, WeirError } from "../../src/errors.js";
import { makeConsole, type TestConsole } from "./helpers.js";
import { topology } from "./fixture.js";

async function appliance(): Promise<TestConsole> {
  const t = await makeConsole();
  await topology(t);
  await t.setup(
    "ipvsadm -A -t 198.18.100.1:80 -s rr",
    "ipvsadm -a -t 198.18.100.1:80 -r 198.19.0.11 -m",
    "iptables -t mangle -A PREROUTING -d 198.18.100.3 -j MARK --set-mark 3",
  );
  return t;
}

/** Everything a change could touch, as text. */
async function snapshot(t: TestConsole): Promise<string> {
  const parts = await Promise.all(["show running-config", "ipvsadm -Ln", "ip addr show", "ip route show", "iptables -t mangle -L -n"].map((l) => t.run(l)));
  return [...parts, `services=${t.dp.serviceCount()}`, JSON.stringify(t.dp.getTimeouts())].join("\n--\n");
}

const CASES: [string, string][] = [
    ["ipvsadm -q", "error: unknown option '-q'"],
    ["ipvsadm -Lq", "error: unknown option '-q' in '-Lq'"],
    ["ipvsadm --bogus", "error: unknown option '--bogus'"],
    ["ipvsadm -A -t 198.18.100.1:70000", "error: invalid port '70000' in '198.18.100.1:70000'"],
    ["ipvsadm -A -t 198.18.100:80", "error: invalid address '198.18.100' in '198.18.100:80'"],
    ["ipvsadm -A -t 198.18.100.1:htp", "error: unknown tcp port name 'htp' in '198.18.100.1:htp'"],
    ["ipvsadm -A -t host.example:80", "error: host name 'host.example' in 'host.example:80' is not looked up here: give its address"],
    ["ipvsadm -A -t 198.18.100.1:80", "error: service already exists: -t 198.18.100.1:80"],
    ["ipvsadm -A -t 198.18.100.2:80 -s xyz", "error: unknown scheduler 'xyz'"],
    ["ipvsadm -E -t 198.18.100.2:80", "error: no such service: -t 198.18.100.2:80"],
    ["ipvsadm -D -t 198.18.100.2:80", "error: no such service: -t 198.18.100.2:80"],
    ["ipvsadm -a -t 198.18.100.2:80 -r 198.19.0.11", "error: no such service: -t 198.18.100.2:80"],
    ["ipvsadm -a -t 198.18.100.1:80 -r 198.19.0.11 -m", "error: real server already exists: 198.19.0.11:80 in -t 198.18.100.1:80"],
    ["ipvsadm -e -t 198.18.100.1:80 -r 198.19.0.12 -m", "error: no such real server: 198.19.0.12:80 in -t 198.18.100.1:80"],
    ["ipvsadm -d -t 198.18.100.1:80 -r 198.19.0.12", "error: no such real server: 198.19.0.12:80 in -t 198.18.100.1:80"],
    ["ipvsadm -a -t 198.18.100.1:80 -r 198.19.0.12 -w", "error: missing argument for -w"],
    ["ipvsadm -a -t 198.18.100.1:80 -r 198.19.0.12 -w 70000", "error: invalid weight '70000' (0-65535)"],
    ["ipvsadm -a -t 198.18.100.1:80 -r 198.19.0.12 -w x", "error: invalid weight 'x' (0-65535)"],
    ["ipvsadm -a -t 198.18.100.1:80 -r [2001:db8::1]:80", "error: real server [2001:db8::1]:80 is not of the address family of -t 198.18.100.1:80"],
    ["ipvsadm -A -t 198.18.100.2:80 -p 0", "error: invalid persistence timeout '0' (1-2147483)"],
    ["ipvsadm -A -t 198.18.100.2:0", "error: zero port specified for non-persistent service -t 198.18.100.2:0"],
    ["ipvsadm -A -t 198.18.100.2:80 -o", "error: one-packet scheduling (-o) is only for UDP and fwmark services, not -t 198.18.100.2:80"],
    ["ipvsadm -A -t 198.18.100.2:80 -M 255.0.255.0 -p", "error: invalid netmask '255.0.255.0' (not contiguous: persistence groups clients by prefix)"],
    ["ipvsadm -A -t 198.18.100.2:80 -s rr -b sh-port", "error: scheduler flag 'sh-port' does not go with scheduler 'rr'"],
    ["ipvsadm -A -t 198.18.100.2:80 -b bogus", "error: invalid scheduler flag 'bogus'"],
    ["ipvsadm -A -f 0", "error: invalid fwmark value '0'"],
    ["ipvsadm -A -f x", "error: invalid fwmark value 'x'"],
    ["ipvsadm -A -t 198.18.100.2:80 -w 3", "error: option '-w' cannot be used with -A"],
    ["ipvsadm -A", "error: -A needs a service (-t, -u or -f)"],
    ["ipvsadm -a -t 198.18.100.1:80", "error: -a needs a real server (-r)"],
    ["ipvsadm -A -D -t 198.18.100.1:80", "error: multiple commands: '-A' and '-D'"],
    ["ipvsadm -A -t 198.18.100.2:80 -s rr -s wlc", "error: option '-s' given twice"],
    ["ipvsadm -A -t 198.18.100.2:80 -u 198.18.100.2:80", "error: option '-u' conflicts with '-t'"],
    ["ipvsadm -L -c --stats", "error: options conflict in -L: -c --stats"],
    ["ipvsadm -L -c -t 198.18.100.1:80", "error: option '-t' conflicts with '-c' in -L"],
    ["ipvsadm --set 1 2", "error: --set needs 3 timeout values: tcp tcpfin udp"],
    ["ipvsadm --set 1 2 x", "error: invalid udp timeout 'x' (0-2678400)"],
    ["ipvsadm -L foo", "error: unexpected argument 'foo'"],
    ["ipvsadm -t 198.18.100.1:80", "error: no command given (one of -A -E -D -C -a -e -d -L -Z -S -R --set) in '-t 198.18.100.1:80'"],
    ["ipvsadm -a -t 198.18.100.1:80 -r 198.19.0.12 -i -6", "error: option '-6' goes with -f only"],
    ["ipvsadm -A -u [2001:db8::1]:53 -s rr -o -p 99999999", "error: invalid persistence timeout '99999999' (1-2147483)"],
    ["ipvsadm -a -t 198.18.100.1:80 -r 198.19.0.12:0x50", "error: invalid port '0x50' in '198.19.0.12:0x50'"],
    ["iptables -A PREROUTING -j MARK --set-mark 1", "error: table 'filter' is not supported (only -t mangle)"],
    ["iptables -t mangle -A INPUT -j MARK --set-mark 1", "error: chain 'INPUT' is not supported (only PREROUTING)"],
    ["iptables -t mangle -A PREROUTING -s 1.2.3.4 -j MARK --set-mark 1", "error: unsupported option '-s'"],
    ["iptables -t mangle -A PREROUTING -j ACCEPT", "error: unsupported target 'ACCEPT' (only MARK)"],
    ["iptables -t mangle -A PREROUTING -j MARK --set-mark 0", "error: invalid mark '0' (1-4294967295)"],
    ["iptables -t mangle -A PREROUTING --dport 80 -j MARK --set-mark 1", "error: --dport needs -p tcp or -p udp"],
    ["iptables -t mangle -A PREROUTING -p icmp -j MARK --set-mark 1", "error: unsupported protocol 'icmp' (tcp, udp or all)"],
    ["iptables -t mangle -D PREROUTING -j MARK --set-mark 9", "error: no matching rule in PREROUTING"],
    ["iptables -t mangle -D PREROUTING 5", "error: index of deletion too big: 5"],
    ["iptables -t mangle -A PREROUTING -d 1.2.3.4/33 -j MARK --set-mark 1", "error: invalid prefix length '33' in '1.2.3.4/33'"],
    ["iptables -t mangle -A PREROUTING -p tcp ! --dport 80 -j MARK --set-mark 1", "error: unsupported option '!'"],
    ["iptables -t mangle -Z", "error: unsupported option '-Z'"],
    ["iptables -t mangle -A PREROUTING -d 2001:db8::1 -j MARK --set-mark 1", "error: '2001:db8::1' is not an IPv4 address (iptables)"],
    ["iptables -t mangle -A PREROUTING -p tcp --dport 90:80 -j MARK --set-mark 1", "error: invalid port range '90:80'"],
    ["ip link set eth9 mtu 20", "error: invalid mtu '20' (68-65535)"],
    ["ip link set eth0 mtu 20", "error: invalid mtu '20' (68-65535)"],
    ["ip link set eth0 promisc on", "error: unsupported argument 'promisc' (up, down, mtu N, address MAC)"],
    ["ip link set eth0", "error: nothing to set on eth0 (up, down, mtu N, address MAC)"],
    ["ip link show eth7", "error: device 'eth7' does not exist"],
    ["ip lnk show", "error: unknown object 'lnk'"],
    ["ip addr add 198.18.0.1/24 dev eth0", "error: address 198.18.0.1/24 already assigned to eth0"],
    ["ip addr add 198.18.0.300/24 dev eth0", "error: invalid address '198.18.0.300' in '198.18.0.300/24'"],
    ["ip addr add 198.18.0.5/33 dev eth0", "error: invalid prefix length '33' in '198.18.0.5/33'"],
    ["ip addr add 198.18.0.5/24", "error: missing 'dev DEVICE' for 198.18.0.5/24"],
    ["ip addr del 198.18.0.9/24 dev eth0", "error: address 198.18.0.9/24 not assigned to eth0"],
    ["ip addr del 198.18.0.1/24 dev eth7", "error: device 'eth7' does not exist"],
    ["ip addr add 198.18.0.5/24 dev eth0 brd +", "error: unsupported argument 'brd'"],
    ["ip addr add 198.18.0.5/24 dev bad/name", "error: invalid device name 'bad/name'"],
    ["ip route add 198.20.0.0/16 via 198.21.0.1", "error: gateway 198.21.0.1 is not on a connected network"],
    ["ip route add 198.20.0.1/16 via 198.19.0.254", "error: invalid prefix '198.20.0.1/16': host bits set"],
    ["ip route add 198.19.0.0/24 via 198.19.0.254", "error: route 198.19.0.0/24 already exists"],
    ["ip route del 198.22.0.0/16", "error: no such route: 198.22.0.0/16"],
    ["ip route del 198.19.0.0/24", "error: route 198.19.0.0/24 is the connected route of eth1: delete the address instead"],
    ["ip route add 198.20.0.0/16", "error: route 198.20.0.0/16 needs 'via GATEWAY' or 'dev DEVICE'"],
    ["ip route add 198.20.0.0/16 via 198.19.0.254 dev eth0", "error: gateway 198.19.0.254 is not on a connected network of eth0"],
    ["ip route add 198.20.0.0/16 via 198.19.0.254 metric 5", "error: unsupported argument 'metric'"],
    ["ip -6 route add default via 198.19.0.254", "error: gateway '198.19.0.254' is not of the address family of '::/0'"],
    ["ip route add 198.20.0.0/16 via 198.19.0.254 dev eth5", "error: device 'eth5' does not exist"],
    ["bogus", "error: unknown command 'bogus' (try help)"],
    ["show bogus", "error: unknown command 'show bogus' (try help)"],
    ["show running-config extra", "error: unexpected argument 'extra'"],
    ["save", "error: no config file to save to (start with --config FILE)"],
    ["help bogus", "error: no help for 'bogus'"],
    ["ipvsadm -A -t '198.18.100.2:80", "error: unterminated quote '"],

];

describe("error replies", () => {
  it.each(CASES)("%s", async (line, want) => {
    const t = await appliance();
    const before = await snapshot(t);
    const r = await t.reply(line);
    expect(r).toEqual({ ok: false, text: want });
    expect(r.text.split("\n")).toHaveLength(1);
    expect(await snapshot(t)).toBe(before);
  });

  it("ipvsadm -R stops at the first bad line, names it, and applies nothing", async () => {
    const t = await appliance();
    const before = await snapshot(t);
    const input = ["-A -t 198.18.100.5:80 -s rr", "-a -t 198.18.100.5:80 -r 198.19.0.12 -m", "", "-a -t 198.18.100.5:80 -r 198.19.0.13 -w 99999"].join("\n");
    expect(await t.reply("ipvsadm -R", input)).toEqual({ ok: false, text: "error: line 4: invalid weight '99999' (0-65535)" });
    expect(await snapshot(t)).toBe(before);
    expect(await t.run("ipvsadm -R", "-R")).toBe("error: line 1: -R cannot be used inside -R input");
  });

  it("a data-plane refusal inside the transaction leaves everything as it was", async () => {
    const t = await appliance();
    const before = await snapshot(t);
    // A valid-looking change the data plane rejects at commit: the model must not move.
    const tx = t.dp.transactionChunked.bind(t.dp);
    t.dp.transactionChunked = async () => { throw new Error("table full"); };
    expect(await t.run("ipvsadm -A -t 198.18.100.6:80 -s rr")).toBe("error: internal error: table full");
    t.dp.transactionChunked = tx;
    expect(await snapshot(t)).toBe(before);
  });
});

describe("the one error base", () => {
  /** One of each class errors.ts exports, as a word would throw it. */
  const SAMPLES: [string, () => WeirError][] = [
    ["WeirError", () => new WeirError("WEIR_ERR_NO_SUCH_RULE", "no matching rule in PREROUTING")],
    ["KeyError", () => new KeyError("WEIR_ERR_BAD_PORT", "invalid port 'x' in '198.18.100.1:x'")],
    ["HealthError", () => new HealthError("WEIR_ERR_HEALTH_EXISTS", "a health check for 198.19.0.11:80 in tcp:198.18.100.1:80 already exists")],
    ["HealthSyntaxError", () => new HealthSyntaxError('health add: unknown word "x"')],
    ["ScriptRefused", () => new ScriptRefused("/tmp/x is not in the script directory /etc/weir/scripts")],
  ];

  it("the samples cover every error class errors.ts exports", () => {
    const classes = Object.entries(errors)
      .filter(([, v]) => typeof v === "function" && (v === WeirError || v.prototype instanceof WeirError))
      .map(([name]) => name);
    expect(SAMPLES.map(([name]) => name).sort()).toEqual(classes.sort());
  });

  it.each(SAMPLES)("a %s thrown by a word reaches the user as error: <message>", async (_, make) => {
    const t = await makeConsole();
    const e = make();
    expect(e).toBeInstanceOf(WeirError);
    expect(isCode(e.code.replace(/^WEIR_ERR_/, ""))).toBe(true);
    t.con.register("throw-now", { help: "", execute: () => { throw make(); } });
    t.con.register("throw-later", { help: "", execute: async () => { await Promise.resolve(); throw make(); } });
    for (const word of ["throw-now", "throw-later"]) {
      expect(await t.reply(word)).toEqual({ ok: false, text: `error: ${e.message}` });
    }
  });

  it("every name the data plane gives a control-call result is in the code table, with the reason it printed before", async () => {
    const t = await makeConsole();
    const names: string[] = [];
    for (let rc = -1; rc > -64; rc--) {
      const name = t.dp.readString(t.dp.x.errorName(rc));
      names.push(name);
      if (name === "UNKNOWN") break;
    }
    expect(names.at(-1)).toBe("UNKNOWN");
    for (const n of names) expect(isCode(n), n).toBe(true);
    expect(CODES.NO_SUCH_SERVICE).toBe("no such service");
    expect(CODES.DEST_EXISTS).toBe("real server already exists");
  });
});
