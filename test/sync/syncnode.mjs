// One director's connection sync for the namespace test
// test/e2e/connsync.test.ts, run inside a namespace (modules from dist/):
//
//   ip netns exec NS node test/sync/syncnode.mjs DEV ROLE KEYHEX ADDR
//
// A real data plane (one NAT service, set up as test/helpers/appliance.ts
// does), a SyncDaemon on a SyncRawLink on DEV following a role set over
// stdin. Prints {"ready":true,…} once running; stdin takes JSON commands,
// each answered with its id:
//   {"id":1,"role":"MASTER"}                 → {"id":1}
//   {"id":2,"tcp":1001,"flags":"S"}          → {"id":2,"verdict":1,"rs":"198.19.0.11"} (a client packet through the data plane)
//   {"id":6,"syns":[5000,3000]}              → {"id":6,"forwarded":3000} (SYNs from ports 5000…7999)
//   {"id":3,"conns":true}                    → {"id":3,"conns":["1001>198.19.0.11:8080 SYN_RECV",…]}
//   {"id":4,"stats":true}                    → {"id":4,"stats":{…}}
//   {"id":5,"raw":"hex"}                     → {"id":5,"sent":true} (a frame on DEV as it is)
// It exits when stdin closes (stopping the daemon, which closes the link).
import { createInterface } from "node:readline";
import { readFileSync } from "node:fs";
import pino from "pino";
import { DataPlane } from "../../dist/dataplane/dataplane.js";
import { SyncDaemon } from "../../dist/sync/daemon.js";
import { SyncRawLink } from "../../dist/sync/link.js";
import { addrBytes, checksumOf, ethernet, ipPacket, macBytes, sum16 } from "../../dist/vrrp/packet.js";

const [dev, role0, keyHex, addr] = process.argv.slice(2);
if (!dev || !role0 || !keyHex || !addr) {
  process.stderr.write("usage: syncnode.mjs DEV ROLE KEYHEX ADDR\n");
  process.exit(2);
}
const out = (o) => process.stdout.write(JSON.stringify(o) + "\n");
const now = () => Math.floor(performance.now()) + 10_000;

const LB0_MAC = "02:00:00:00:00:01", LB1_MAC = "02:00:00:00:01:01", CLIENT = "198.18.0.10", CLIENT_MAC = "02:00:00:00:00:10";
const VIP = "198.18.100.1", RS = ["198.19.0.11", "198.19.0.12", "198.19.0.13"];
const dp = await DataPlane.load({ connCapacity: 4096, connCapacity6: 1024, seed: 12345 });
dp.setLink(0, { mac: LB0_MAC, mtu: 1500 });
dp.setLink(1, { mac: LB1_MAC, mtu: 1500 });
dp.addAddress(0, "198.18.0.1/24");
dp.addAddress(0, `${VIP}/32`);
dp.addAddress(1, "198.19.0.1/24");
dp.setNeighbour(0, CLIENT, CLIENT_MAC);
RS.forEach((a, i) => dp.setNeighbour(1, a, `02:00:00:00:01:1${i + 1}`));
const NAT = { proto: "tcp", addr: VIP, port: 80 };
dp.transaction((tx) => {
  tx.addService(NAT, { scheduler: "rr" });
  for (const a of RS) tx.addDest(NAT, { addr: a, port: 8080, fwd: "nat" });
});
const batch = dp.createBatch(4, 2048);

function tcpFrame(sport, flags) {
  const src = addrBytes(CLIENT, 4), dst = addrBytes(VIP, 4);
  const t = new Uint8Array(20);
  const v = new DataView(t.buffer);
  v.setUint16(0, sport);
  v.setUint16(2, 80);
  v.setUint32(4, 1000);
  v.setUint32(8, flags.includes("A") ? 1 : 0);
  t[12] = 5 << 4;
  t[13] = (flags.includes("S") ? 0x02 : 0) | (flags.includes("A") ? 0x10 : 0);
  v.setUint16(14, 65535);
  const pseudo = new Uint8Array(12);
  pseudo.set(src, 0); pseudo.set(dst, 4); pseudo[9] = 6; pseudo[11] = 20;
  v.setUint16(16, checksumOf(sum16(t, 0, 20, sum16(pseudo))));
  return ethernet(macBytes(LB0_MAC), macBytes(CLIENT_MAC), 0x0800, ipPacket(4, 6, src, dst, t, { ttl: 64, tos: 0 }));
}

let role = role0;
const subs = new Set();
const roleSource = { state: () => role, subscribe: (fn) => { subs.add(fn); return () => subs.delete(fn); } };
const mac = readFileSync(`/sys/class/net/${dev}/address`, "utf8").trim();
const mtu = Number(readFileSync(`/sys/class/net/${dev}/mtu`, "utf8"));
let daemon;
const link = await SyncRawLink.open(dev, { onFrame: (f) => daemon?.receive(f), mtu });
daemon = new SyncDaemon({
  dev, instance: "VI_1", syncId: 0, key: Buffer.from(keyHex, "hex"), dp, role: roleSource, link,
  source: { mac, addr }, mtu, now, log: pino({ level: "silent" }),
});
out({ ready: true, mac, mtu, epoch: daemon.stats().epoch });

const rl = createInterface({ input: process.stdin });
rl.on("line", (line) => {
  let c;
  try {
    c = JSON.parse(line);
    if (c.role) {
      role = c.role;
      for (const f of subs) f(role);
      out({ id: c.id });
    } else if (c.tcp) {
      batch.clear();
      batch.set(0, tcpFrame(c.tcp, c.flags ?? "S"), 0);
      batch.run(now() >>> 0);
      const r = batch.result(0);
      out({ id: c.id, verdict: r.verdict, rs: r.out && r.out.length >= 34 ? `${r.out[30]}.${r.out[31]}.${r.out[32]}.${r.out[33]}` : null });
    } else if (c.syns) {
      const [from, count] = c.syns;
      let forwarded = 0;
      for (let i = 0; i < count; i += 4) {
        batch.clear();
        const n = Math.min(4, count - i);
        for (let j = 0; j < n; j++) batch.set(j, tcpFrame(from + i + j, "S"), 0);
        batch.run(now() >>> 0);
        for (let j = 0; j < n; j++) if (batch.result(j).verdict === 1) forwarded++;
      }
      out({ id: c.id, forwarded });
    } else if (c.conns) {
      out({ id: c.id, conns: dp.connections(now()).map((e) => `${e.cport}>${e.daddr}:${e.dport} ${e.state}`).sort() });
    } else if (c.stats) {
      out({ id: c.id, stats: { ...daemon.stats(), link: link.stats() } });
    } else if (c.raw) {
      out({ id: c.id, sent: link.send(Buffer.from(c.raw, "hex")) });
    } else out({ id: c.id, error: `unknown command ${line}` });
  } catch (e) {
    out({ id: c?.id, error: String(e?.message ?? e) });
  }
});
rl.on("close", () => {
  daemon.stop();
  process.exit(0);
});
