// Two directors in primary/backup (issue 12), built with the pieces of the
// reference topology (topology.ts): a client, two director namespaces
// (PREFIX-lb1, PREFIX-lb2, each for one `weir run` or one keepalived), the
// real servers, and a switch namespace (PREFIX-sw) with two bridges:
//
//   client c0 ══cc── sw: br1 ──l1c══eth0 lb1 eth1══l1s── sw: br0 ──rsI══eth0 rsI
//                        └────l2c══eth0 lb2 eth1══l2s────┘  └──cl══c1 client
//
// Addresses (198.18.0.0/15 only):
//   client  c0 198.18.0.10/24, the VIPs 198.18.100.0/24 on-link (it ARPs for
//           them: whichever director is MASTER answers); c1 198.19.0.10/24 on
//           the server segment, where DR replies arrive
//   lbN     eth0 198.18.0.(1+N), eth1 198.19.0.(1+N): each director's own
//           addresses. VRRP-owned (sync group "weir"): the VIPs on eth0
//           (instance "vi_client", vrid 51) and the real servers' gateway
//           198.19.0.1 on eth1 (instance "vi_server", vrid 52), so a NAT
//           reply follows the VIP to the new master. Priorities 150 / 100.
//   rsI     as in topology.ts: default route via 198.19.0.1, DR VIPs on lo.
//
// The directors' links stay down until their console attaches them
// (`ip link set DEV up`, in directorConfig). Links can be cut on either side
// (cutLink) to test a dead data link instead of a dead process.

import {
  CLIENT_ADDR, LB_CLIENT_LINK, LB_SERVER_ADDR, LB_SERVER_LINK, Topology, VIP_NET, rsAddr, type TopologyOptions,
} from "./topology.js";

/** Each director's own addresses (index 0: the primary). */
export const DIRECTOR_CLIENT_ADDR = ["198.18.0.2", "198.18.0.3"] as const;
export const DIRECTOR_SERVER_ADDR = ["198.19.0.2", "198.19.0.3"] as const;
/** The real servers' default gateway: VRRP-owned, moves with the VIPs. */
export const HA_GATEWAY = LB_SERVER_ADDR;
export const HA_PRIORITY = [150, 100] as const;
export const HA_VRID = { client: 51, server: 52 } as const;
export const HA_INSTANCE = { client: "vi_client", server: "vi_server" } as const;
export const HA_SYNC_GROUP = "weir";
export const HA_MAC = {
  client: (d: number) => `02:00:00:00:00:0${2 + d}`,
  server: (d: number) => `02:00:00:00:01:0${2 + d}`,
};

export interface HaService {
  key: "nat" | "dr" | "udp";
  proto: "tcp" | "udp";
  vip: string;
  port: number;
  method: "NAT" | "DR";
  flag: "-m" | "-g";
}

/** The services both directors carry: TCP NAT and DR for the connections, UDP NAT for takeover probes. */
export const HA_SERVICES: HaService[] = [
  { key: "nat", proto: "tcp", vip: "198.18.100.1", port: 80, method: "NAT", flag: "-m" },
  { key: "dr", proto: "tcp", vip: "198.18.100.2", port: 80, method: "DR", flag: "-g" },
  { key: "udp", proto: "udp", vip: "198.18.100.1", port: 5300, method: "NAT", flag: "-m" },
];
export const HA_VIPS = [...new Set(HA_SERVICES.map((s) => s.vip))];
/** The VIPs the real servers hold on lo (DR). */
export const HA_RS_VIPS = [...new Set(HA_SERVICES.filter((s) => s.method === "DR").map((s) => s.vip))];

export interface HaConfigOptions {
  /** VRRP advert interval, seconds (default 1, as keepalived). */
  advertInt?: number;
  /** 64 hex digits, the same on both; null: no connection sync (default: a fixed demo key). */
  syncKey?: string | null;
  /** The link the sync messages travel on (default eth1, the server side). */
  syncDev?: string;
  realServers?: number;
  services?: HaService[];
}

/** A fixed key for the demo and the tests (both directors must share it; never a production key). */
export const DEMO_SYNC_KEY = "57656972206469726563746f727320696e206e616d6573706163657320312e30";

/** The console lines that make director d (0 primary, 1 backup) one half of the pair. */
export function directorConfig(d: number, opts: HaConfigOptions = {}): string[] {
  const adv = opts.advertInt ?? 1;
  const services = opts.services ?? HA_SERVICES;
  const vips = [...new Set(services.map((s) => s.vip))];
  const syncKey = opts.syncKey === undefined ? DEMO_SYNC_KEY : opts.syncKey;
  const vrrp = (name: string, dev: string, vrid: number, addrs: string[]) =>
    `vrrp instance ${name} interface ${dev} virtual_router_id ${vrid} priority ${HA_PRIORITY[d]} virtual_ipaddress ${addrs.join(" ")} ` +
    `advert_int ${adv} track_interface ${LB_CLIENT_LINK} ${LB_SERVER_LINK}`;
  const lines = [
    `ip link set ${LB_CLIENT_LINK} up`,
    `ip link set ${LB_SERVER_LINK} up`,
    `ip addr add ${DIRECTOR_CLIENT_ADDR[d]}/24 dev ${LB_CLIENT_LINK}`,
    `ip addr add ${DIRECTOR_SERVER_ADDR[d]}/24 dev ${LB_SERVER_LINK}`,
  ];
  for (const s of services) {
    const o = s.proto === "tcp" ? "-t" : "-u";
    lines.push(`ipvsadm -A ${o} ${s.vip}:${s.port} -s rr`);
    for (let i = 0; i < (opts.realServers ?? 3); i++) lines.push(`ipvsadm -a ${o} ${s.vip}:${s.port} -r ${rsAddr(i)}:${s.port} ${s.flag} -w 1`);
  }
  lines.push(
    vrrp(HA_INSTANCE.client, LB_CLIENT_LINK, HA_VRID.client, vips),
    vrrp(HA_INSTANCE.server, LB_SERVER_LINK, HA_VRID.server, [HA_GATEWAY]),
    `vrrp sync_group ${HA_SYNC_GROUP} ${HA_INSTANCE.client} ${HA_INSTANCE.server}`,
  );
  if (syncKey) lines.push(`lvs_sync_daemon ${opts.syncDev ?? LB_SERVER_LINK} ${HA_INSTANCE.server} id 1 key ${syncKey}`);
  return lines;
}

export interface HaNamespaces {
  client: string;
  /** The two directors: [primary, backup]. */
  lbs: [string, string];
  sw: string;
  rs: string[];
}

export class HaTopology extends Topology {
  readonly lbs: [string, string];

  protected constructor(opts: TopologyOptions) {
    super(opts);
    this.lbs = [`${this.prefix}-lb1`, `${this.prefix}-lb2`];
    // topology.ts's single appliance is the primary here (Appliance.start's default namespace).
    this.ns.lb = this.lbs[0];
  }

  static override create(opts: TopologyOptions = {}): HaTopology {
    return Topology.finish(new HaTopology(opts), opts);
  }

  protected override build(): void {
    const { client, sw, rs } = this.ns;
    const lbs = this.lbs;
    this.log(`building ${this.prefix}: ${[client, ...lbs, sw, ...rs].join(" ")}`);
    for (const n of [client, ...lbs, sw, ...rs]) this.addNs(n);
    this.bridge("br0"); // server side
    this.bridge("br1"); // client side

    this.veth(client, "c0", sw, "cc", "02:00:00:00:00:10");
    this.bridgePort("cc", "br1");
    this.ip(client, "addr", "add", `${CLIENT_ADDR}/24`, "dev", "c0");
    this.ip(client, "link", "set", "c0", "up");
    this.ip(client, "route", "add", VIP_NET, "dev", "c0");
    lbs.forEach((lb, d) => {
      this.veth(lb, LB_CLIENT_LINK, sw, `l${d + 1}c`, HA_MAC.client(d));
      this.bridgePort(`l${d + 1}c`, "br1");
      this.veth(lb, LB_SERVER_LINK, sw, `l${d + 1}s`, HA_MAC.server(d));
      this.bridgePort(`l${d + 1}s`, "br0");
    });
    this.addClientSegmentLink();
    rs.forEach((_, i) => this.addRealServer(i));
  }

  override vethEnds(): [string, string][] {
    const { client, sw, rs } = this.ns;
    return [
      [client, "c0"], [sw, "cc"], [client, "c1"], [sw, "cl"],
      ...this.lbs.flatMap((lb, d): [string, string][] => [
        [lb, LB_CLIENT_LINK], [sw, `l${d + 1}c`], [lb, LB_SERVER_LINK], [sw, `l${d + 1}s`],
      ]),
      ...rs.flatMap((n, i): [string, string][] => [[n, "eth0"], [sw, `rs${i + 1}`]]),
    ];
  }

  /**
   * Cuts (up=false) or restores director d's link on one side: "director" sets
   * its own end down (`ip link set eth0 down` inside its namespace, what the
   * appliance sees as its link going down), "switch" the bridge port (the
   * director keeps a link whose carrier is gone).
   */
  setLink(d: number, side: "client" | "server", where: "director" | "switch", up: boolean): void {
    const state = up ? "up" : "down";
    if (where === "director") this.ip(this.lbs[d], "link", "set", side === "client" ? LB_CLIENT_LINK : LB_SERVER_LINK, state);
    else this.ip(this.ns.sw, "link", "set", `l${d + 1}${side === "client" ? "c" : "s"}`, state);
  }
}
