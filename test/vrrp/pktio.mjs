// Raw frames in and out of one link, for the keepalived interop test
// (test/e2e/vrrp-keepalived.test.ts), run inside the peer's namespace:
//
//   ip netns exec NS node test/vrrp/pktio.mjs DEV
//
// Through the project's addon (AF_PACKET TPACKET_V2 rings, src/demo/rings.ts
// from dist/): every VRRP, ARP and ICMPv6 neighbour advertisement frame seen
// on DEV is printed as a JSON line {"t": µs, "hex": "…"}; stdin takes JSON
// commands, each answered with its id:
//   {"id":1,"send":["hex",…]}              send now        → {"id":1,"t":µs}
//   {"id":2,"repeat":["hex",…],"everyMs":N} send every N ms (replaces a running repeat)
//   {"id":3,"stop":true}                    stop repeating  → {"id":3,"t":µs of the last send}
// Times are this process's monotonic clock in µs. It exits when stdin closes.
import { createInterface } from "node:readline";
import * as native from "../../native/index.js";
import { RxRing, TxRing } from "../../dist/demo/rings.js";

const dev = process.argv[2];
if (!dev) {
  process.stderr.write("usage: pktio.mjs DEV\n");
  process.exit(2);
}

const now = () => Number(process.hrtime.bigint() / 1000n);
const hex = (b) => Buffer.from(b).toString("hex");
const out = (o) => process.stdout.write(JSON.stringify(o) + "\n");

const rx = new RxRing(dev, { slotSize: 4096, slots: 64 });
const tx = new TxRing(dev, { frameSize: 2048, frameCount: 16 });

function interesting(f) {
  if (f.length < 14) return false;
  const type = (f[12] << 8) | f[13];
  if (type === 0x0806) return true;
  if (type === 0x0800) return f.length >= 24 && f[23] === 112;
  if (type === 0x86dd) return f.length >= 55 && (f[20] === 112 || (f[20] === 58 && f[54] === 136));
  return false;
}

native.watch(rx.handle, () => {
  rx.drain(({ frame }) => {
    if (interesting(frame)) out({ t: now(), hex: hex(frame) });
  });
});

let lastSent = 0;
function send(frames) {
  for (const h of frames) {
    const f = Buffer.from(h, "hex");
    // A busy slot means the kernel has not sent the previous frames yet: kick and retry, bounded.
    for (let i = 0; !tx.put(f); i++) {
      tx.kick();
      if (i > 1000) throw new Error("TX ring stays full");
    }
  }
  tx.kick();
  lastSent = now();
  return lastSent;
}

let timer = null;
const rl = createInterface({ input: process.stdin });
rl.on("line", (line) => {
  let c;
  try {
    c = JSON.parse(line);
    if (c.send) out({ id: c.id, t: send(c.send) });
    else if (c.repeat) {
      if (timer) clearInterval(timer);
      send(c.repeat);
      timer = setInterval(() => send(c.repeat), c.everyMs);
      out({ id: c.id, t: lastSent });
    } else if (c.stop) {
      if (timer) clearInterval(timer);
      timer = null;
      out({ id: c.id, t: lastSent });
    } else out({ id: c.id, error: "unknown command" });
  } catch (e) {
    out({ id: c?.id ?? null, error: String(e?.message ?? e) });
  }
});
rl.on("close", () => {
  if (timer) clearInterval(timer);
  rx.close();
  tx.close();
  process.exit(0);
});

out({ ready: true, mac: native.linkInfo(dev).mac, t: now() });
