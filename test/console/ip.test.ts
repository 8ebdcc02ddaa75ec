// Golden tests of the ip and iptables words: iproute2's and iptables'
// layouts, links taken from /sys/class/net when the interface exists, the
// link hooks the packet I/O layer plugs in, and mark rules feeding -f services.

import { mkdtemp, mkdir, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { describe, expect, it } from "vitest";
import type { LinkConf } from "../../src/config/state.js";
import { makeConsole } from "./helpers.js";
import { datagram, fromClient, syn, topology, TOPOLOGY } from "./fixture.js";

const lines = (...l: string[]) => l.join("\n");

describe("ip", () => {
  it("shows links, addresses and routes in iproute2's layout", async () => {
    const t = await makeConsole();
    await t.setup(...TOPOLOGY, "ip link set eth2 mtu 9000", "ip addr add 2001:db8::1/64 dev eth0",
      "ip route add 198.20.0.0/16 via 198.19.0.254", "ip route add default via 198.18.0.254", "ip route add 198.21.0.0/24 dev eth1",
      "ip -6 route add 2001:db8:5::/48 via 2001:db8::fe");
    expect(await t.run("ip link show")).toBe(lines(
      "1: eth0: <BROADCAST,MULTICAST,UP,LOWER_UP> mtu 1500 state UP mode DEFAULT group default",
      "    link/ether 02:77:65:69:72:00 brd ff:ff:ff:ff:ff:ff",
      "2: eth1: <BROADCAST,MULTICAST,UP,LOWER_UP> mtu 1500 state UP mode DEFAULT group default",
      "    link/ether 02:77:65:69:72:01 brd ff:ff:ff:ff:ff:ff",
      "3: eth2: <BROADCAST,MULTICAST> mtu 9000 state DOWN mode DEFAULT group default",
      "    link/ether 02:77:65:69:72:02 brd ff:ff:ff:ff:ff:ff",
    ));
    expect(await t.run("ip l sh dev eth2")).toBe(lines(
      "3: eth2: <BROADCAST,MULTICAST> mtu 9000 state DOWN mode DEFAULT group default",
      "    link/ether 02:77:65:69:72:02 brd ff:ff:ff:ff:ff:ff",
    ));
    expect(await t.run("ip addr show dev eth0")).toBe(lines(
      "1: eth0: <BROADCAST,MULTICAST,UP,LOWER_UP> mtu 1500 state UP group default",
      "    link/ether 02:77:65:69:72:00 brd ff:ff:ff:ff:ff:ff",
      "    inet 198.18.0.1/24 scope global eth0",
      "       valid_lft forever preferred_lft forever",
      "    inet 198.18.100.1/32 scope global eth0",
      "       valid_lft forever preferred_lft forever",
      "    inet6 2001:db8::1/64 scope global",
      "       valid_lft forever preferred_lft forever",
    ));
    expect(await t.run("ip a")).toBe(await t.run("ip address show"));
    expect(await t.run("ip route show")).toBe(lines(
      "default via 198.18.0.254 dev eth0",
      "198.18.0.0/24 dev eth0 proto kernel scope link src 198.18.0.1",
      "198.19.0.0/24 dev eth1 proto kernel scope link src 198.19.0.1",
      "198.20.0.0/16 via 198.19.0.254 dev eth1",
      "198.21.0.0/24 dev eth1 scope link",
    ));
    expect(await t.run("ip -6 r")).toBe(lines(
      "2001:db8::/64 dev eth0 proto kernel metric 256 pref medium",
      "2001:db8:5::/48 via 2001:db8::fe dev eth0 metric 1024 pref medium",
    ));
  });

  it("keeps routes and addresses in the data plane: forwarding follows them", async () => {
    const t = await makeConsole();
    await topology(t);
    await t.setup("ipvsadm -A -t 198.18.100.1:80 -s rr", "ipvsadm -a -t 198.18.100.1:80 -r 198.20.0.5 -m");
    // No route to 198.20.0.5 yet: counted as no_route.
    expect(fromClient(t, [syn(80, 43000)])).toEqual([0]);
    expect(t.dp.drops().no_route).toBe(1n);
    await t.setup("ip route add 198.20.0.0/16 via 198.19.0.11");
    expect(fromClient(t, [syn(80, 43001)])).toEqual([1]);
    await t.setup("ip route del 198.20.0.0/16");
    expect(fromClient(t, [syn(80, 43002)])).toEqual([0]);
    // Deleting the VIP's address: the appliance no longer answers for it, a new address does.
    await t.setup("ip addr del 198.19.0.1/24 dev eth1");
    expect(await t.run("ip route show")).toBe("198.18.0.0/24 dev eth0 proto kernel scope link src 198.18.0.1");
    expect(await t.run("ip addr del 198.18.100.1 dev eth0")).toBe("");
    expect(await t.run("ip route add 198.20.0.0/16 via 198.19.0.11")).toBe("error: gateway 198.19.0.11 is not on a connected network");
  });

  it("shows neighbours with their link names", async () => {
    const t = await makeConsole();
    await topology(t);
    expect(await t.run("ip neigh show dev eth1")).toBe(lines(
      "198.19.0.11 dev eth1 lladdr 02:00:00:00:01:11 PERMANENT",
      "198.19.0.12 dev eth1 lladdr 02:00:00:00:01:12 PERMANENT",
      "198.19.0.13 dev eth1 lladdr 02:00:00:00:01:13 PERMANENT",
    ));
    expect((await t.run("ip n")).split("\n")[0]).toBe("198.18.0.10 dev eth0 lladdr 02:00:00:00:00:10 PERMANENT");
  });

  it("takes MAC and MTU from /sys/class/net when the interface exists", async () => {
    const root = await mkdtemp(path.join(os.tmpdir(), "weir-sysfs-"));
    await mkdir(path.join(root, "ens4"));
    await writeFile(path.join(root, "ens4", "address"), "52:54:00:AB:CD:EF\n");
    await writeFile(path.join(root, "ens4", "mtu"), "9000\n");
    const t = await makeConsole({ model: { sysfsRoot: root } });
    await t.setup("ip link set ens4 up", "ip link set eth9 down");
    expect(await t.run("ip link show")).toBe(lines(
      "1: ens4: <BROADCAST,MULTICAST,UP,LOWER_UP> mtu 9000 state UP mode DEFAULT group default",
      "    link/ether 52:54:00:ab:cd:ef brd ff:ff:ff:ff:ff:ff",
      "2: eth9: <BROADCAST,MULTICAST> mtu 1500 state DOWN mode DEFAULT group default",
      "    link/ether 02:77:65:69:72:01 brd ff:ff:ff:ff:ff:ff",
    ));
    // Read from the host, so not part of the configuration.
    expect(await t.run("show running-config")).toBe("ip link set ens4 up\nip link set eth9 down");
  });

  it("calls the I/O layer's hooks when a link goes up or down, and backs out when one fails", async () => {
    const calls: string[] = [];
    const t = await makeConsole({
      model: {
        hooks: {
          onLinkUp: async (l: LinkConf) => {
            if (l.name === "bad0") throw new Error("no such interface");
            calls.push(`up ${l.name} ${l.id} ${l.mac} ${l.mtu}`);
          },
          onLinkDown: (l: LinkConf) => { calls.push(`down ${l.name} ${l.id}`); },
        },
      },
    });
    await t.setup("ip link set eth0 up", "ip addr add 198.18.0.1/24 dev eth0", "ip link set eth0 mtu 1400", "ip link set eth0 down");
    expect(calls).toEqual(["up eth0 0 02:77:65:69:72:00 1500", "down eth0 0"]);
    expect(await t.run("ip link set bad0 up")).toBe("error: cannot bring up bad0: no such interface");
    expect(await t.run("ip link show bad0")).toBe("error: device 'bad0' does not exist");
    expect(await t.run("show running-config")).toBe("ip link set eth0 mtu 1400 down\nip addr add 198.18.0.1/24 dev eth0");
    // The failed link's id is not used up.
    await t.setup("ip link set eth1 up");
    expect(calls.at(-1)).toBe("up eth1 1 02:77:65:69:72:01 1500");
  });
});

describe("iptables -t mangle", () => {
  it("lists rules in iptables' layout, -n numeric", async () => {
    const t = await makeConsole();
    await t.setup(
      "iptables -t mangle -A PREROUTING -d 198.18.100.1/32 -p tcp -m tcp --dport 80 -j MARK --set-mark 1",
      "iptables -t mangle -A PREROUTING -d 198.18.100.0/24 -p udp --dport 1000:2000 -j MARK --set-mark 0x10",
      "iptables -t mangle -I PREROUTING 1 -p tcp -j MARK --set-mark 3",
      "iptables -t mangle -A PREROUTING -j MARK --set-mark 4",
    );
    expect(await t.run("iptables -t mangle -L PREROUTING")).toBe(lines(
      "Chain PREROUTING (policy ACCEPT)",
      "target     prot opt source               destination         ",
      "MARK       tcp  --  anywhere             anywhere             MARK set 0x3",
      "MARK       tcp  --  anywhere             198.18.100.1         tcp dpt:80 MARK set 0x1",
      "MARK       udp  --  anywhere             198.18.100.0/24      udp dpts:1000:2000 MARK set 0x10",
      "MARK       all  --  anywhere             anywhere             MARK set 0x4",
    ));
    expect(await t.run("iptables -n -t mangle -L PREROUTING")).toBe(lines(
      "Chain PREROUTING (policy ACCEPT)",
      "target     prot opt source               destination         ",
      "MARK       tcp  --  0.0.0.0/0            0.0.0.0/0            MARK set 0x3",
      "MARK       tcp  --  0.0.0.0/0            198.18.100.1         tcp dpt:80 MARK set 0x1",
      "MARK       udp  --  0.0.0.0/0            198.18.100.0/24      udp dpts:1000:2000 MARK set 0x10",
      "MARK       all  --  0.0.0.0/0            0.0.0.0/0            MARK set 0x4",
    ));
    expect((await t.run("iptables -t mangle -L")).split("\n").slice(6)).toEqual([
      "",
      "Chain INPUT (policy ACCEPT)",
      "target     prot opt source               destination         ",
      "",
      "Chain FORWARD (policy ACCEPT)",
      "target     prot opt source               destination         ",
      "",
      "Chain OUTPUT (policy ACCEPT)",
      "target     prot opt source               destination         ",
      "",
      "Chain POSTROUTING (policy ACCEPT)",
      "target     prot opt source               destination         ",
    ]);
    expect(await t.run("iptables -t mangle -S PREROUTING")).toBe(lines(
      "-P PREROUTING ACCEPT",
      "-A PREROUTING -p tcp -j MARK --set-mark 3",
      "-A PREROUTING -d 198.18.100.1/32 -p tcp --dport 80 -j MARK --set-mark 1",
      "-A PREROUTING -d 198.18.100.0/24 -p udp --dport 1000:2000 -j MARK --set-mark 16",
      "-A PREROUTING -j MARK --set-mark 4",
    ));
    await t.setup("iptables -t mangle -D PREROUTING -d 198.18.100.1 -p tcp --dport 80 -j MARK --set-mark 1", "iptables -t mangle -D PREROUTING 1");
    expect(await t.run("iptables -t mangle -S PREROUTING")).toBe(lines(
      "-P PREROUTING ACCEPT",
      "-A PREROUTING -d 198.18.100.0/24 -p udp --dport 1000:2000 -j MARK --set-mark 16",
      "-A PREROUTING -j MARK --set-mark 4",
    ));
    await t.setup("iptables -t mangle -F");
    expect(await t.run("iptables -t mangle -L PREROUTING -n")).toBe(lines("Chain PREROUTING (policy ACCEPT)", "target     prot opt source               destination         "));
  });

  it("marks packets for firewall-mark services", async () => {
    const t = await makeConsole();
    await topology(t);
    await t.setup(
      "iptables -t mangle -A PREROUTING -d 198.18.100.1 -p tcp --dport 25 -j MARK --set-mark 1",
      "iptables -t mangle -A PREROUTING -d 198.18.100.1 -p udp --dport 110 -j MARK --set-mark 1",
      "ipvsadm -A -f 1 -s rr",
      "ipvsadm -a -f 1 -r 198.19.0.11 -m",
    );
    // Port 26 has no rule: the VIP is owned, so it goes to the host stack (verdict 2).
    expect(fromClient(t, [syn(25, 44000), datagram(110, 44001), syn(26, 44002)])).toEqual([1, 1, 2]);
    expect((await t.run("ipvsadm -L -n --stats")).split("\n")[3]).toBe("FWM  1                                   2        2        0       78        0");
    // Without the rule, no mark: the service sees nothing more.
    await t.setup("iptables -t mangle -F");
    expect(fromClient(t, [syn(25, 44003)])).toEqual([2]);
  });
});
