// Golden tests: ipvsadm lines in, exactly ipvsadm's layouts out
// (ipvsadm.c print_title / print_service_entry / list_conn / list_timeout).
// Trailing blanks are part of ipvsadm's output (%-10u at the end of a line).

import { describe, expect, it } from "vitest";
import { largenum } from "../../src/console/ipvsadm/format.js";
import { makeConsole, type TestConsole } from "./helpers.js";
import { datagram, fromClient, syn, topology } from "./fixture.js";

const lines = (...l: string[]) => l.join("\n");

async function table(): Promise<TestConsole> {
  const t = await makeConsole({ now: 1000 });
  await topology(t);
  await t.setup(
    "ipvsadm -A -t 198.18.100.1:80 -s rr",
    "ipvsadm -a -t 198.18.100.1:80 -r 198.19.0.12:80 -m",
    "ipvsadm -a -t 198.18.100.1:80 -r 198.19.0.11:80 -m -w 3 -x 100 -y 50",
    "ipvsadm -A -u 198.18.100.1:53 -s sh -b sh-fallback,sh-port -p 60 -M 255.255.255.0 -o",
    "ipvsadm -a -u 198.18.100.1:53 -r 198.19.0.13:5353 -m",
    "ipvsadm -A -f 7 -s wlc -p",
    "ipvsadm -a -f 7 -r 198.19.0.13 -g -w 0",
    "ipvsadm -A -t 198.18.100.2:443",
    "ipvsadm -a -t 198.18.100.2:443 -r 198.19.0.11 -i",
  );
  return t;
}

describe("ipvsadm -L layouts", () => {
  it("lists an empty table", async () => {
    const t = await makeConsole();
    expect(await t.run("ipvsadm -L -n")).toBe(lines(
      "IP Virtual Server version 1.2.1 (size=4096)",
      "Prot LocalAddress:Port Scheduler Flags",
      "  -> RemoteAddress:Port           Forward Weight ActiveConn InActConn",
    ));
    expect(await t.run("ipvsadm")).toBe(await t.run("ipvsadm -Ln"));
  });

  it("lists services and real servers, sorted as ipvsadm sorts them", async () => {
    const t = await table();
    const want = lines(
      "IP Virtual Server version 1.2.1 (size=4096)",
      "Prot LocalAddress:Port Scheduler Flags",
      "  -> RemoteAddress:Port           Forward Weight ActiveConn InActConn",
      "TCP  198.18.100.1:80 rr",
      "  -> 198.19.0.11:80               Masq    3      0          0         ",
      "  -> 198.19.0.12:80               Masq    1      0          0         ",
      "TCP  198.18.100.2:443 wlc",
      "  -> 198.19.0.11:443              Tunnel  1      0          0         ",
      "UDP  198.18.100.1:53 sh (sh-fallback,sh-port) persistent 60 mask 255.255.255.0 ops",
      "  -> 198.19.0.13:5353             Masq    1      0          0         ",
      "FWM  7 wlc persistent 360",
      "  -> 198.19.0.13:0                Route   0      0          0         ",
    );
    expect(await t.run("ipvsadm -L -n")).toBe(want);
    expect(await t.run("ipvsadm -Ln")).toBe(want);
    expect(await t.run("ipvsadm --list --numeric")).toBe(want);
    // Without -n, ports by name, as ipvsadm's getservbyport gives them.
    expect(await t.run("ipvsadm -l")).toBe(lines(
      ...want.split("\n").slice(0, 3),
      "TCP  198.18.100.1:http rr",
      "  -> 198.19.0.11:http             Masq    3      0          0         ",
      "  -> 198.19.0.12:http             Masq    1      0          0         ",
      "TCP  198.18.100.2:https wlc",
      "  -> 198.19.0.11:https            Tunnel  1      0          0         ",
      "UDP  198.18.100.1:domain sh (sh-fallback,sh-port) persistent 60 mask 255.255.255.0 ops",
      "  -> 198.19.0.13:mdns             Masq    1      0          0         ",
      "FWM  7 wlc persistent 360",
      "  -> 198.19.0.13:0                Route   0      0          0         ",
    ));
  });

  it("keeps insertion order with --nosort", async () => {
    const t = await table();
    expect(await t.run("ipvsadm -L -n --nosort")).toBe(lines(
      "IP Virtual Server version 1.2.1 (size=4096)",
      "Prot LocalAddress:Port Scheduler Flags",
      "  -> RemoteAddress:Port           Forward Weight ActiveConn InActConn",
      "TCP  198.18.100.1:80 rr",
      "  -> 198.19.0.12:80               Masq    1      0          0         ",
      "  -> 198.19.0.11:80               Masq    3      0          0         ",
      "UDP  198.18.100.1:53 sh (sh-fallback,sh-port) persistent 60 mask 255.255.255.0 ops",
      "  -> 198.19.0.13:5353             Masq    1      0          0         ",
      "FWM  7 wlc persistent 360",
      "  -> 198.19.0.13:0                Route   0      0          0         ",
      "TCP  198.18.100.2:443 wlc",
      "  -> 198.19.0.11:443              Tunnel  1      0          0         ",
    ));
  });

  it("lists one service with -t, without the version line", async () => {
    const t = await table();
    expect(await t.run("ipvsadm -L -n -t 198.18.100.1:80")).toBe(lines(
      "Prot LocalAddress:Port Scheduler Flags",
      "  -> RemoteAddress:Port           Forward Weight ActiveConn InActConn",
      "TCP  198.18.100.1:80 rr",
      "  -> 198.19.0.11:80               Masq    3      0          0         ",
      "  -> 198.19.0.12:80               Masq    1      0          0         ",
    ));
    expect(await t.run("ipvsadm -L -f 7")).toBe(lines(
      "Prot LocalAddress:Port Scheduler Flags",
      "  -> RemoteAddress:Port           Forward Weight ActiveConn InActConn",
      "FWM  7 wlc persistent 360",
      "  -> 198.19.0.13:0                Route   0      0          0         ",
    ));
    expect(await t.run("ipvsadm -L -t 198.18.100.9:80")).toBe("error: no such service: -t 198.18.100.9:80");
  });

  it("shows connections counted per real server, and --stats after traffic", async () => {
    const t = await table();
    expect(fromClient(t, [syn(80, 40000), syn(80, 40001), syn(80, 40002), datagram(53, 5353)])).toEqual([1, 1, 1, 1]);
    // rr takes real servers in the order they were added: .12, .11, .12.
    expect(await t.run("ipvsadm -L -n -t 198.18.100.1:80")).toBe(lines(
      "Prot LocalAddress:Port Scheduler Flags",
      "  -> RemoteAddress:Port           Forward Weight ActiveConn InActConn",
      "TCP  198.18.100.1:80 rr",
      "  -> 198.19.0.11:80               Masq    3      0          1         ",
      "  -> 198.19.0.12:80               Masq    1      0          2         ",
    ));
    expect(await t.run("ipvsadm -L -n --stats")).toBe(lines(
      "IP Virtual Server version 1.2.1 (size=4096)",
      "Prot LocalAddress:Port               Conns   InPkts  OutPkts  InBytes OutBytes",
      "  -> RemoteAddress:Port",
      "TCP  198.18.100.1:80                     3        3        0      120        0",
      "  -> 198.19.0.11:80                      1        1        0       40        0",
      "  -> 198.19.0.12:80                      2        2        0       80        0",
      "TCP  198.18.100.2:443                    0        0        0        0        0",
      "  -> 198.19.0.11:443                     0        0        0        0        0",
      "UDP  198.18.100.1:53                     1        1        0       38        0",
      "  -> 198.19.0.13:5353                    1        1        0       38        0",
      "FWM  7                                   0        0        0        0        0",
      "  -> 198.19.0.13:0                       0        0        0        0        0",
    ));
    // -Z of one service leaves the others' counters alone.
    expect(await t.run("ipvsadm -Z -t 198.18.100.1:80")).toBe("");
    expect(await t.run("ipvsadm -L -n --stats -u 198.18.100.1:53")).toBe(lines(
      "Prot LocalAddress:Port               Conns   InPkts  OutPkts  InBytes OutBytes",
      "  -> RemoteAddress:Port",
      "UDP  198.18.100.1:53                     1        1        0       38        0",
      "  -> 198.19.0.13:5353                    1        1        0       38        0",
    ));
    expect((await t.run("ipvsadm -L -n --stats -t 198.18.100.1:80")).split("\n").slice(2)).toEqual([
      "TCP  198.18.100.1:80                     0        0        0        0        0",
      "  -> 198.19.0.11:80                      0        0        0        0        0",
      "  -> 198.19.0.12:80                      0        0        0        0        0",
    ]);
    expect(await t.run("ipvsadm -Z")).toBe("");
    expect((await t.run("ipvsadm -L -n --stats -u 198.18.100.1:53")).split("\n")[2]).toBe(
      "UDP  198.18.100.1:53                     0        0        0        0        0");
    expect(await t.run("ipvsadm -Z -t 198.18.100.9:80")).toBe("error: no such service: -t 198.18.100.9:80");
  });

  it("lists connection entries with -c (templates included; -o keeps no entry)", async () => {
    const t = await table();
    fromClient(t, [syn(80, 40000), syn(80, 40001), datagram(53, 5353)], 1000);
    expect(await t.run("ipvsadm -L -n -c")).toBe(lines(
      "IPVS connection entries",
      "pro expire state       source             virtual            destination",
      "TCP 01:00  SYN_RECV    198.18.0.10:40000  198.18.100.1:80    198.19.0.12:80",
      "TCP 01:00  SYN_RECV    198.18.0.10:40001  198.18.100.1:80    198.19.0.11:80",
      "UDP 01:00  UDP         198.18.0.0:0       198.18.100.1:53    198.19.0.13:5353",
    ));
  });

  it("reads a large table in slices, with turns in between, the same entries as at once", async () => {
    const t = await table();
    fromClient(t, Array.from({ length: 500 }, (_, i) => syn(80, 20000 + i)), 1000);
    let turns = 0;
    const sliced = await t.dp.connectionsSliced(1000, undefined, { due: () => true, next: async () => { turns++; } });
    expect(sliced).toHaveLength(500);
    expect(sliced).toEqual(t.dp.connections(1000));
    expect(turns).toBe(500);
  });

  it("shows expiry on the data-plane clock", async () => {
    const t = await makeConsole({ now: 1000 + 59_500 });
    await topology(t);
    await t.setup("ipvsadm -A -t 198.18.100.1:80 -s rr", "ipvsadm -a -t 198.18.100.1:80 -r 198.19.0.11 -m");
    fromClient(t, [syn(80, 40000)], 1000);
    expect((await t.run("ipvsadm -Lcn")).split("\n")[2]).toBe("TCP 00:00  SYN_RECV    198.18.0.10:40000  198.18.100.1:80    198.19.0.11:80");
  });

  it("has the --rate, --thresholds and --persistent-conn layouts", async () => {
    const t = await table();
    expect(await t.run("ipvsadm -L -n --rate -t 198.18.100.1:80")).toBe(lines(
      "Prot LocalAddress:Port                 CPS    InPPS   OutPPS    InBPS   OutBPS",
      "  -> RemoteAddress:Port",
      "TCP  198.18.100.1:80                     0        0        0        0        0",
      "  -> 198.19.0.11:80                      0        0        0        0        0",
      "  -> 198.19.0.12:80                      0        0        0        0        0",
    ));
    expect(await t.run("ipvsadm -L -n --thresholds -t 198.18.100.1:80")).toBe(lines(
      "Prot LocalAddress:Port            Uthreshold Lthreshold ActiveConn InActConn ",
      "  -> RemoteAddress:Port",
      "TCP  198.18.100.1:80 rr",
      "  -> 198.19.0.11:80               100        50         0          0         ",
      "  -> 198.19.0.12:80               0          0          0          0         ",
    ));
    fromClient(t, [datagram(53, 5353)]);
    expect(await t.run("ipvsadm -L -n --persistent-conn -u 198.18.100.1:53")).toBe(lines(
      "Prot LocalAddress:Port            Weight    PersistConn ActiveConn InActConn ",
      "  -> RemoteAddress:Port",
      "UDP  198.18.100.1:53 sh (sh-fallback,sh-port) persistent 60 mask 255.255.255.0 ops",
      "  -> 198.19.0.13:5353             1         1           0          0         ",
    ));
    t.con.close();
  });

  it("prints --timeout and follows --set (0 keeps a value)", async () => {
    const t = await makeConsole();
    expect(await t.run("ipvsadm -L --timeout")).toBe("Timeout (tcp tcpfin udp): 900 120 300");
    expect(await t.run("ipvsadm --set 600 0 30")).toBe("");
    expect(await t.run("ipvsadm -l --timeout")).toBe("Timeout (tcp tcpfin udp): 600 120 30");
    expect(await t.run("show running-config")).toBe("ipvsadm --set 600 120 30");
  });

  it("lists IPv6 services in brackets", async () => {
    const t = await makeConsole();
    await t.setup(
      "ipvsadm -A -t [2001:db8:100::1]:80 -s rr",
      "ipvsadm -a -t [2001:DB8:100::1]:80 -r [2001:db8:1::11]:8080 -m -w 2",
      "ipvsadm -A -f 3 -6 -s rr -p 30 -M 64",
    );
    expect(await t.run("ipvsadm -L -n")).toBe(lines(
      "IP Virtual Server version 1.2.1 (size=4096)",
      "Prot LocalAddress:Port Scheduler Flags",
      "  -> RemoteAddress:Port           Forward Weight ActiveConn InActConn",
      "TCP  [2001:db8:100::1]:80 rr",
      "  -> [2001:db8:1::11]:8080        Masq    2      0          0         ",
      "FWM  3 IPv6 rr persistent 30 mask 64",
    ));
    expect(await t.run("ipvsadm -S -n")).toBe(lines(
      "-A -t [2001:db8:100::1]:80 -s rr",
      "-a -t [2001:db8:100::1]:80 -r [2001:db8:1::11]:8080 -m -w 2",
      "-A -f 3 -6 -s rr -p 30 -M 64",
    ));
  });
});

describe("ipvsadm -S", () => {
  it("writes the rules -R replays, with -b, -p, -M, -o and thresholds", async () => {
    const t = await table();
    expect(await t.run("ipvsadm -S -n")).toBe(lines(
      "-A -t 198.18.100.1:80 -s rr",
      "-a -t 198.18.100.1:80 -r 198.19.0.11:80 -m -w 3 -x 100 -y 50",
      "-a -t 198.18.100.1:80 -r 198.19.0.12:80 -m -w 1",
      "-A -t 198.18.100.2:443 -s wlc",
      "-a -t 198.18.100.2:443 -r 198.19.0.11:443 -i -w 1",
      "-A -u 198.18.100.1:53 -s sh -p 60 -M 255.255.255.0 -o -b sh-fallback,sh-port",
      "-a -u 198.18.100.1:53 -r 198.19.0.13:5353 -m -w 1",
      "-A -f 7 -s wlc -p 360",
      "-a -f 7 -r 198.19.0.13:0 -g -w 0",
    ));
    expect(await t.run("ipvsadm --save")).toBe(await t.run("ipvsadm -S"));
  });
});

describe("print_largenum", () => {
  it.each([
    [0n, false, "        0"],
    [99999999n, false, " 99999999"],
    [100000000n, false, "  100000K"],
    [999999999n, false, "  999999K"],
    [1000000000n, false, "    1000M"],
    [99999999999n, false, "   99999M"],
    [100000000000n, false, "     100G"],
    [100000000000000n, false, "     100T"],
    [123456789n, true, " 123456789"],
    [12345678n, true, " 12345678"],
    [1n, true, "        1"],
  ])("%s (exact %s)", (n, exact, want) => {
    expect(largenum(n, exact)).toBe(want);
  });
});
