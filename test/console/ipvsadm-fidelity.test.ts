// ipvsadm as real-world rule files use it (issue 11, "Fidelity with
// ipvsadm"): each case here is a line ipvsadm(8) accepts, answered as
// ipvsadm.c answers it.

import { describe, expect, it } from "vitest";
import { makeConsole, type TestConsole } from "./helpers.js";
import { portByName, portName } from "../../src/config/portnames.js";
import { tcp4Frame } from "../helpers/frames.js";
import { CLIENT_MAC, ETH0_MAC, fromClient, syn, topology } from "./fixture.js";

const lines = (...l: string[]) => l.join("\n");
const HEAD = [
  "IP Virtual Server version 1.2.1 (size=4096)",
  "Prot LocalAddress:Port Scheduler Flags",
  "  -> RemoteAddress:Port           Forward Weight ActiveConn InActConn",
];
/** A real-server line of ipvsadm -L's default layout ("  -> %-28s %-7s %-6d %-10u %-10u"). */
const rs = (name: string, fwd: string, weight: number, active = 0, inact = 0) =>
  `  -> ${name.padEnd(28)} ${fwd.padEnd(7)} ${String(weight).padEnd(6)} ${String(active).padEnd(10)} ${String(inact).padEnd(10)}`;

async function appliance(...setup: string[]): Promise<TestConsole> {
  const t = await makeConsole();
  await topology(t);
  await t.setup(...setup);
  return t;
}

describe("firewall-mark services: real servers keep the port given", () => {
  // ipvsadm.c process_options: "The destination port must be equal to the
  // service port if [TUN or DR]. Don't worry about this if fwmark is used."
  const FWM = [
    "ipvsadm -A -f 3 -s rr",
    "ipvsadm -a -f 3 -r 198.19.0.11:25 -g",
    "ipvsadm -a -f 3 -r 198.19.0.11:587 -g -w 2",
    "ipvsadm -a -f 3 -r 198.19.0.12:25 -i",
    "ipvsadm -a -f 3 -r 198.19.0.13 -g",
    "ipvsadm -a -f 3 -r 198.19.0.13:2525 -m",
  ];
  const LISTED = lines(
    ...HEAD,
    "FWM  3 rr",
    rs("198.19.0.11:25", "Route", 1),
    rs("198.19.0.11:587", "Route", 2),
    rs("198.19.0.12:25", "Tunnel", 1),
    rs("198.19.0.13:0", "Route", 1),
    rs("198.19.0.13:2525", "Masq", 1),
  );
  const SAVED = lines(
    "-A -f 3 -s rr",
    "-a -f 3 -r 198.19.0.11:25 -g -w 1",
    "-a -f 3 -r 198.19.0.11:587 -g -w 2",
    "-a -f 3 -r 198.19.0.12:25 -i -w 1",
    "-a -f 3 -r 198.19.0.13:0 -g -w 1",
    "-a -f 3 -r 198.19.0.13:2525 -m -w 1",
  );

  it("lists DR and TUN real servers at their own ports; two ports on one address are two real servers", async () => {
    const t = await appliance(...FWM);
    expect(await t.run("ipvsadm -L -n")).toBe(LISTED);
    expect(await t.run("ipvsadm -S -n")).toBe(SAVED);
  });

  it("edits and deletes them by the port given", async () => {
    const t = await appliance(...FWM);
    expect(await t.run("ipvsadm -e -f 3 -r 198.19.0.11:587 -g -w 5")).toBe("");
    expect(await t.run("ipvsadm -d -f 3 -r 198.19.0.11:25")).toBe("");
    expect(await t.run("ipvsadm -d -f 3 -r 198.19.0.11:25")).toBe("error: no such real server: 198.19.0.11:25 in -f 3");
    expect(await t.run("ipvsadm -L -n -f 3")).toBe(lines(
      ...HEAD.slice(1),
      "FWM  3 rr",
      rs("198.19.0.11:587", "Route", 5),
      rs("198.19.0.12:25", "Tunnel", 1),
      rs("198.19.0.13:0", "Route", 1),
      rs("198.19.0.13:2525", "Masq", 1),
    ));
  });

  it("round-trips through -S, -C and -R, and the data plane schedules each one", async () => {
    const t = await appliance("iptables -t mangle -A PREROUTING -d 198.18.100.1 -p tcp --dport 25 -j MARK --set-mark 3", ...FWM);
    const saved = await t.run("ipvsadm -S");
    expect(await t.run("ipvsadm -C")).toBe("");
    expect(await t.run("ipvsadm -R", saved)).toBe("");
    expect(await t.run("ipvsadm -L -n")).toBe(LISTED);
    expect(t.dp.serviceCount()).toBe(1);
    // rr over the five: each real server gets one connection; DR keeps the port of the frame.
    expect(fromClient(t, [40000, 40001, 40002, 40003, 40004].map((p) => syn(25, p)))).toEqual([1, 1, 1, 1, 1]);
    expect(await t.run("ipvsadm -L -n")).toBe(lines(
      ...HEAD,
      "FWM  3 rr",
      rs("198.19.0.11:25", "Route", 1, 0, 1),
      rs("198.19.0.11:587", "Route", 2, 0, 1),
      rs("198.19.0.12:25", "Tunnel", 1, 0, 1),
      rs("198.19.0.13:0", "Route", 1, 0, 1),
      rs("198.19.0.13:2525", "Masq", 1, 0, 1),
    ));
  });

  it("still gives a -t/-u service's DR and TUN real servers the service's port", async () => {
    const t = await appliance("ipvsadm -A -t 198.18.100.1:80 -s rr", "ipvsadm -a -t 198.18.100.1:80 -r 198.19.0.11:8080 -g",
      "ipvsadm -a -t 198.18.100.1:80 -r 198.19.0.12:8080 -i", "ipvsadm -a -t 198.18.100.1:80 -r 198.19.0.13:8080 -m");
    expect(await t.run("ipvsadm -S -n")).toBe(lines(
      "-A -t 198.18.100.1:80 -s rr",
      "-a -t 198.18.100.1:80 -r 198.19.0.11:80 -g -w 1",
      "-a -t 198.18.100.1:80 -r 198.19.0.12:80 -i -w 1",
      "-a -t 198.18.100.1:80 -r 198.19.0.13:8080 -m -w 1",
    ));
  });
});

describe("a bare -p", () => {
  // ipvsadm.c parse_timeout: no argument → IPVS_SVC_PERSISTENT_TIMEOUT, (6*60) in
  // libipvs.h; ipvsadm(8) says 300, but the code is what runs.
  it("gives 360 seconds, wherever it stands", async () => {
    const t = await appliance(
      "ipvsadm -A -t 198.18.100.1:80 -p",
      "ipvsadm -A -t 198.18.100.1:81 -p -M 255.255.255.0 -s rr",
      "ipvsadm -A -f 4 --persistent",
      "ipvsadm -A -u 198.18.100.1:53 -p 300",
    );
    expect(await t.run("ipvsadm -S -n")).toBe(lines(
      "-A -t 198.18.100.1:80 -s wlc -p 360",
      "-A -t 198.18.100.1:81 -s rr -p 360 -M 255.255.255.0",
      "-A -u 198.18.100.1:53 -s wlc -p 300",
      "-A -f 4 -s wlc -p 360",
    ));
  });
});

describe("ipvsadm -S option order", () => {
  // ipvsadm.c print_service_entry (FMT_RULE): -A SVC -s SCHED [-p T [-M MASK]] [-o] [-b FLAGS].
  it("writes -s, -p, -M, -o, then -b last", async () => {
    const t = await appliance(
      "ipvsadm -A -u 198.18.100.1:53 -b sh-fallback,sh-port -s sh -o -M 255.255.255.0 -p 60",
      "ipvsadm -A -t 198.18.100.1:80 -s mh -b mh-port",
      "ipvsadm -A -f 9 -6 -s rr -b flag-1,flag-3 -p 30 -M 64",
    );
    const saved = lines(
      "-A -t 198.18.100.1:80 -s mh -b mh-port",
      "-A -u 198.18.100.1:53 -s sh -p 60 -M 255.255.255.0 -o -b sh-fallback,sh-port",
      "-A -f 9 -6 -s rr -p 30 -M 64 -b flag-1,flag-3",
    );
    expect(await t.run("ipvsadm -S -n")).toBe(saved);
    expect(await t.run("show running-config")).toContain("ipvsadm -A -u 198.18.100.1:53 -s sh -p 60 -M 255.255.255.0 -o -b sh-fallback,sh-port");
    expect(await t.run("ipvsadm -C")).toBe("");
    expect(await t.run("ipvsadm -R", saved)).toBe("");
    expect(await t.run("ipvsadm -S -n")).toBe(saved);
  });
});

describe("ipvsadm -M", () => {
  // ipvsadm.c parse_netmask takes any IPv4 mask inet_aton reads, 0.0.0.0 included
  // (one persistence group for every client); IPv6 takes a prefix length, 1-128.
  it("takes 0.0.0.0 and any other contiguous mask, lists it and round-trips it", async () => {
    const t = await appliance(
      "ipvsadm -A -t 198.18.100.1:80 -s rr -p 60 -M 0.0.0.0",
      "ipvsadm -a -t 198.18.100.1:80 -r 198.19.0.11 -m",
      "ipvsadm -a -t 198.18.100.1:80 -r 198.19.0.12 -m",
      "ipvsadm -A -t 198.18.100.1:81 -p -M 128.0.0.0",
      "ipvsadm -A -t 198.18.100.1:82 -p -M 255.255.255.255",
      "ipvsadm -A -f 5 -6 -p -M 1",
    );
    const saved = lines(
      "-A -t 198.18.100.1:80 -s rr -p 60 -M 0.0.0.0",
      "-a -t 198.18.100.1:80 -r 198.19.0.11:80 -m -w 1",
      "-a -t 198.18.100.1:80 -r 198.19.0.12:80 -m -w 1",
      "-A -t 198.18.100.1:81 -s wlc -p 360 -M 128.0.0.0",
      "-A -t 198.18.100.1:82 -s wlc -p 360",
      "-A -f 5 -6 -s wlc -p 360 -M 1",
    );
    expect(await t.run("ipvsadm -S -n")).toBe(saved);
    expect((await t.run("ipvsadm -L -n")).split("\n")[3]).toBe("TCP  198.18.100.1:80 rr persistent 60 mask 0.0.0.0");
    // Two clients from different networks: one persistence group, one real server.
    const from = (src: string, sport: number) =>
      tcp4Frame({ ethSrc: CLIENT_MAC, ethDst: ETH0_MAC, src, dst: "198.18.100.1", sport, dport: 80, flags: "S", seq: 1, payload: new Uint8Array(0) });
    expect(fromClient(t, [from("198.18.0.10", 40000), from("203.0.113.9", 40001), from("192.0.2.77", 40002)])).toEqual([1, 1, 1]);
    expect(await t.run("ipvsadm -L -n -t 198.18.100.1:80")).toBe(lines(
      ...HEAD.slice(1),
      "TCP  198.18.100.1:80 rr persistent 60 mask 0.0.0.0",
      rs("198.19.0.11:80", "Masq", 1, 0, 3),
      rs("198.19.0.12:80", "Masq", 1),
    ));
    expect(await t.run("ipvsadm -C")).toBe("");
    expect(await t.run("ipvsadm -R", saved)).toBe("");
    expect(await t.run("ipvsadm -S -n")).toBe(saved);
  });

  it("refuses what it cannot keep, with the reason, and changes nothing", async () => {
    const t = await appliance();
    expect(await t.run("ipvsadm -A -t 198.18.100.1:80 -p -M 255.0.255.0"))
      .toBe("error: invalid netmask '255.0.255.0' (not contiguous: persistence groups clients by prefix)");
    expect(await t.run("ipvsadm -A -f 5 -6 -p -M 0")).toBe("error: invalid netmask '0' (1-128)");
    expect(await t.run("ipvsadm -A -t 198.18.100.1:80 -p -M 255.255.255")).toBe("error: invalid netmask '255.255.255'");
    expect(await t.run("ipvsadm -S -n")).toBe("");
  });
});

describe("ipvsadm --start-daemon / --stop-daemon", () => {
  // Connection sync is keepalived's lvs_sync_daemon word here (CONTRACTS.md),
  // so ipvsadm's daemon commands say where it lives instead of "unknown option".
  const START = "error: ipvsadm --start-daemon: connection sync is configured with lvs_sync_daemon (not available yet)";
  const STOP = "error: ipvsadm --stop-daemon: connection sync is configured with lvs_sync_daemon (not available yet)";

  it.each([
    ["ipvsadm --start-daemon master", START],
    ["ipvsadm --start-daemon backup --mcast-interface eth1 --syncid 5", START],
    ["ipvsadm --syncid 5 --start-daemon=master", START],
    ["ipvsadm --start-daemon master --mcast-interface eth1 --mcast-group 224.0.0.81 --mcast-port 8848 --mcast-ttl 1 --sync-maxlen 1400", START],
    ["ipvsadm --stop-daemon master", STOP],
    ["ipvsadm --stop-daemon backup --syncid 5", STOP],
  ])("%s", async (line, want) => {
    const t = await appliance("ipvsadm -A -t 198.18.100.1:80");
    expect(await t.run(line)).toBe(want);
    expect(await t.run("ipvsadm -S -n")).toBe("-A -t 198.18.100.1:80 -s wlc");
  });

  it("names the daemon options as ipvsadm's, refused with other commands", async () => {
    const t = await appliance();
    expect(await t.run("ipvsadm -A -t 198.18.100.1:80 --syncid 5")).toBe("error: option '--syncid' cannot be used with -A");
    expect(await t.run("ipvsadm -L --mcast-interface eth0")).toBe("error: option '--mcast-interface' cannot be used with -L");
    expect(await t.run("ipvsadm -R", "-A -t 198.18.100.1:80\n--start-daemon master\n")).toBe(`error: line 2: ${START.slice(7)}`);
    expect(await t.run("ipvsadm -S -n")).toBe("");
  });
});

describe("ipvsadm -R reads every ipvsadm command line", () => {
  // ipvsadm.c restore_table: each line goes through process_options, whatever
  // its command. Here the changes go in as one; -Z and listings act after
  // them, in the order given, and their output is the reply.
  it("changes, counters and listings, with or without 'ipvsadm' in front", async () => {
    const t = await appliance(
      "ipvsadm -A -t 198.18.100.1:80 -s rr",
      "ipvsadm -a -t 198.18.100.1:80 -r 198.19.0.11 -m",
      "ipvsadm -A -u 198.18.100.1:53 -s rr",
      "ipvsadm -a -u 198.18.100.1:53 -r 198.19.0.13 -m",
    );
    fromClient(t, [syn(80, 40000)]);
    const input = [
      "# rules from a real-world file",
      "-A -t 198.18.100.1:81 -s rr",
      "-a -t 198.18.100.1:81 -r 198.19.0.11 -m",
      "-a -t 198.18.100.1:81 -r 198.19.0.12 -m",
      "-E -t 198.18.100.1:81 -s wrr",
      "-e -t 198.18.100.1:81 -r 198.19.0.12 -m -w 3",
      "-d -t 198.18.100.1:81 -r 198.19.0.11",
      "-a -t 198.18.100.1:80 -r 198.19.0.12 -m",
      "-D -u 198.18.100.1:53",
      "--set 600 0 30",
      "-Z -t 198.18.100.1:80",
      "ipvsadm -Z",
      "",
      "-L -n --stats -t 198.18.100.1:80",
      "ipvsadm -S -n",
      "-L --timeout",
    ].join("\n");
    expect(await t.run("ipvsadm -R", input)).toBe(lines(
      "Prot LocalAddress:Port               Conns   InPkts  OutPkts  InBytes OutBytes",
      "  -> RemoteAddress:Port",
      "TCP  198.18.100.1:80                     0        0        0        0        0",
      "  -> 198.19.0.11:80                      0        0        0        0        0",
      "  -> 198.19.0.12:80                      0        0        0        0        0",
      "-A -t 198.18.100.1:80 -s rr",
      "-a -t 198.18.100.1:80 -r 198.19.0.11:80 -m -w 1",
      "-a -t 198.18.100.1:80 -r 198.19.0.12:80 -m -w 1",
      "-A -t 198.18.100.1:81 -s wrr",
      "-a -t 198.18.100.1:81 -r 198.19.0.12:81 -m -w 3",
      "Timeout (tcp tcpfin udp): 600 120 30",
    ));
  });

  it("-C, then a whole table, is one change", async () => {
    const t = await appliance("ipvsadm -A -t 198.18.100.1:80 -s rr");
    expect(await t.run("ipvsadm -R", "-C\n-A -u 198.18.100.1:53 -s sh\n-a -u 198.18.100.1:53 -r 198.19.0.13 -m\n")).toBe("");
    expect(await t.run("ipvsadm -S -n")).toBe("-A -u 198.18.100.1:53 -s sh\n-a -u 198.18.100.1:53 -r 198.19.0.13:53 -m -w 1");
  });

  it("answers -h and -v as ipvsadm does", async () => {
    const t = await appliance();
    expect(await t.run("ipvsadm -R", "-v\n")).toBe(await t.run("ipvsadm -v"));
    expect(await t.run("ipvsadm -R", "-h\n")).toBe(await t.run("ipvsadm -h"));
  });

  it("refuses a line that fails where it stands, and a nested -R, changing nothing", async () => {
    const t = await appliance("ipvsadm -A -t 198.18.100.1:80 -s rr");
    expect(await t.run("ipvsadm -R", "-A -t 198.18.100.1:81\n-Z -t 198.18.100.1:82\n"))
      .toBe("error: line 2: no such service: -t 198.18.100.1:82");
    expect(await t.run("ipvsadm -R", "-A -t 198.18.100.1:81\n-R\n")).toBe("error: line 2: -R cannot be used inside -R input");
    expect(await t.run("ipvsadm -R", "-L -t 198.18.100.1:81\n")).toBe("error: line 1: no such service: -t 198.18.100.1:81");
    expect(await t.run("ipvsadm -S -n")).toBe("-A -t 198.18.100.1:80 -s rr");
  });

  it("lists nothing for a service a later line deleted", async () => {
    const t = await appliance();
    expect(await t.run("ipvsadm -R", "-A -t 198.18.100.1:81\n-L -n -t 198.18.100.1:81\n-D -t 198.18.100.1:81\n-S -n\n")).toBe("");
  });
});

describe("port names", () => {
  // ipvsadm -S without -n writes ports by name (getservbyport), and ipvsadm
  // reads them back (getservbyname); the appliance ships the common names.
  const NAMED = [
    "ipvsadm -A -t 198.18.100.1:http -s rr",
    "ipvsadm -a -t 198.18.100.1:http -r 198.19.0.11:http-alt -m",
    "ipvsadm -a -t 198.18.100.1:www -r 198.19.0.12 -m",
    "ipvsadm -A -t 198.18.100.1:rdp",
    "ipvsadm -A -u 198.18.100.1:domain",
    "ipvsadm -a -u 198.18.100.1:domain -r 198.19.0.13:5353 -m",
    "ipvsadm -A -t [2001:db8:100::1]:https -s rr",
    "ipvsadm -a -t [2001:db8:100::1]:https -r [2001:db8:1::11]:8443 -m",
    "ipvsadm -A -f 3",
    "ipvsadm -a -r 198.19.0.11:smtp -f 3 -g",
    "ipvsadm -a -f 3 -r 198.19.0.11:submission -g",
  ];
  const NUMERIC_S = lines(
    "-A -t 198.18.100.1:80 -s rr",
    "-a -t 198.18.100.1:80 -r 198.19.0.11:8080 -m -w 1",
    "-a -t 198.18.100.1:80 -r 198.19.0.12:80 -m -w 1",
    "-A -t 198.18.100.1:3389 -s wlc",
    "-A -u 198.18.100.1:53 -s wlc",
    "-a -u 198.18.100.1:53 -r 198.19.0.13:5353 -m -w 1",
    "-A -t [2001:db8:100::1]:443 -s rr",
    "-a -t [2001:db8:100::1]:443 -r [2001:db8:1::11]:8443 -m -w 1",
    "-A -f 3 -s wlc",
    "-a -f 3 -r 198.19.0.11:25 -g -w 1",
    "-a -f 3 -r 198.19.0.11:587 -g -w 1",
  );
  const NAMED_S = lines(
    "-A -t 198.18.100.1:http -s rr",
    "-a -t 198.18.100.1:http -r 198.19.0.11:http-alt -m -w 1",
    "-a -t 198.18.100.1:http -r 198.19.0.12:http -m -w 1",
    "-A -t 198.18.100.1:ms-wbt-server -s wlc",
    "-A -u 198.18.100.1:domain -s wlc",
    "-a -u 198.18.100.1:domain -r 198.19.0.13:mdns -m -w 1",
    "-A -t [2001:db8:100::1]:https -s rr",
    "-a -t [2001:db8:100::1]:https -r [2001:db8:1::11]:8443 -m -w 1",
    "-A -f 3 -s wlc",
    "-a -f 3 -r 198.19.0.11:smtp -g -w 1",
    "-a -f 3 -r 198.19.0.11:submission -g -w 1",
  );

  it("reads ports by name; -S writes names without -n, numbers with it", async () => {
    const t = await appliance(...NAMED);
    expect(await t.run("ipvsadm -S -n")).toBe(NUMERIC_S);
    expect(await t.run("ipvsadm -S")).toBe(NAMED_S);
    expect(await t.run("ipvsadm --save")).toBe(NAMED_S);
    const config = (await t.run("show running-config")).split("\n").filter((l) => l.startsWith("ipvsadm "));
    expect(config).toEqual(NUMERIC_S.split("\n").map((l) => `ipvsadm ${l}`));
    expect(await t.run("ipvsadm -C")).toBe("");
    expect(await t.run("ipvsadm -R", NAMED_S)).toBe("");
    expect(await t.run("ipvsadm -S -n")).toBe(NUMERIC_S);
  });

  it("lists ports by name without -n, as ipvsadm does; -L -n is numeric", async () => {
    const t = await appliance(...NAMED);
    expect(await t.run("ipvsadm -L -n")).toBe(lines(
      ...HEAD,
      "TCP  198.18.100.1:80 rr",
      "  -> 198.19.0.11:8080             Masq    1      0          0         ",
      "  -> 198.19.0.12:80               Masq    1      0          0         ",
      "TCP  198.18.100.1:3389 wlc",
      "UDP  198.18.100.1:53 wlc",
      "  -> 198.19.0.13:5353             Masq    1      0          0         ",
      "TCP  [2001:db8:100::1]:443 rr",
      "  -> [2001:db8:1::11]:8443        Masq    1      0          0         ",
      "FWM  3 wlc",
      "  -> 198.19.0.11:25               Route   1      0          0         ",
      "  -> 198.19.0.11:587              Route   1      0          0         ",
    ));
    const named = lines(
      ...HEAD,
      "TCP  198.18.100.1:http rr",
      rs("198.19.0.11:http-alt", "Masq", 1),
      rs("198.19.0.12:http", "Masq", 1),
      "TCP  198.18.100.1:ms-wbt-server wlc",
      "UDP  198.18.100.1:domain wlc",
      rs("198.19.0.13:mdns", "Masq", 1),
      "TCP  [2001:db8:100::1]:https rr",
      rs("[2001:db8:1::11]:8443", "Masq", 1),
      "FWM  3 wlc",
      rs("198.19.0.11:smtp", "Route", 1),
      rs("198.19.0.11:submission", "Route", 1),
    );
    expect(await t.run("ipvsadm -L")).toBe(named);
    expect(await t.run("ipvsadm")).toBe(named);
    expect(await t.run("ipvsadm -L -u 198.18.100.1:domain --stats")).toBe(lines(
      "Prot LocalAddress:Port               Conns   InPkts  OutPkts  InBytes OutBytes",
      "  -> RemoteAddress:Port",
      "UDP  198.18.100.1:domain                 0        0        0        0        0",
      "  -> 198.19.0.13:mdns                    0        0        0        0        0",
    ));
    fromClient(t, [syn(80, 40000)]);
    expect((await t.run("ipvsadm -L -c")).split("\n")[2]).toBe("TCP 01:00  SYN_RECV    198.18.0.10:40000  198.18.100.1:http  198.19.0.11:http-alt");
    expect((await t.run("ipvsadm -L -c -n")).split("\n")[2]).toBe("TCP 01:00  SYN_RECV    198.18.0.10:40000  198.18.100.1:80    198.19.0.11:8080");
  });

  it("takes a name only for the protocol it is assigned to", async () => {
    const t = await appliance("ipvsadm -A -u 198.18.100.1:syslog");
    expect(await t.run("ipvsadm -S -n")).toBe("-A -u 198.18.100.1:514 -s wlc");
    expect(await t.run("ipvsadm -A -t 198.18.100.1:syslog")).toBe("error: unknown tcp port name 'syslog' in '198.18.100.1:syslog'");
  });

  it.each([
    ["ipvsadm -A -t 198.18.100.1:nosuchservice", "error: unknown tcp port name 'nosuchservice' in '198.18.100.1:nosuchservice'"],
    ["ipvsadm -A -t 198.18.100:http", "error: invalid address '198.18.100' in '198.18.100:http'"],
    ["ipvsadm -A -t www.example.com:80", "error: host name 'www.example.com' in 'www.example.com:80' is not looked up here: give its address"],
    ["ipvsadm -A -t localhost:http", "error: host name 'localhost' in 'localhost:http' is not looked up here: give its address"],
    ["ipvsadm -A -f 1 -r rs1.example -g", "error: option '-r' cannot be used with -A"],
    ["ipvsadm -a -f 1 -r rs1.example -g", "error: host name 'rs1.example' in 'rs1.example' is not looked up here: give its address"],
  ])("%s", async (line, want) => {
    const t = await appliance("ipvsadm -A -f 1");
    expect(await t.run(line)).toBe(want);
    expect(await t.run("ipvsadm -S -n")).toBe("-A -f 1 -s wlc");
  });
});

describe("the port names table", () => {
  it("has the IANA names ipvsadm users write, each port's name reading back", () => {
    const want: [string, number][] = [
      ["ftp", 21], ["ssh", 22], ["smtp", 25], ["domain", 53], ["http", 80], ["kerberos", 88], ["pop3", 110], ["ntp", 123],
      ["imap", 143], ["snmp", 161], ["ldap", 389], ["https", 443], ["submission", 587], ["ldaps", 636], ["imaps", 993],
      ["pop3s", 995], ["ms-sql-s", 1433], ["radius", 1812], ["mysql", 3306], ["ms-wbt-server", 3389], ["rdp", 3389],
      ["sip", 5060], ["postgresql", 5432], ["http-alt", 8080], ["www", 80],
    ];
    for (const [name, port] of want) {
      expect(portByName(name, "tcp"), name).toBe(port);
      expect(portByName(name, "udp"), name).toBe(port);
    }
    for (let port = 0; port < 65536; port++) {
      for (const proto of ["tcp", "udp"] as const) {
        const name = portName(port, proto);
        if (name !== null) expect(portByName(name, proto)).toBe(port);
      }
    }
    expect(portName(3389, "tcp")).toBe("ms-wbt-server");
    expect(portName(8443, "tcp")).toBe(null);
    expect(portByName("HTTP", "tcp")).toBe(null);
  });
});
