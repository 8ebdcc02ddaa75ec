// VrrpLink (src/dataplane/vrrpio.ts, from dist/) on one link, for the
// namespace test test/e2e/vrrpio.test.ts, run inside a namespace:
//
//   ip netns exec NS node test/vrrp/vrrplink.mjs DEV
//
// Prints {"ready":true,"mac":…} once open, then every frame VrrpLink hands
// on as {"t": at (µs), "vlan": id|null, "hex": "…"} and every socket error as
// {"linkError": errno}. stdin takes JSON commands, each answered with its id:
//   {"id":1,"send":["hex",…]}  → {"id":1,"sent":[true|false,…]}
//   {"id":2,"stats":true}      → {"id":2,"stats":{…}}
//   {"id":3,"close":true}      → {"id":3,"stats":{…},"afterClose":"WEIR_ERR_…"} (send after close)
// It exits when stdin closes (closing the link first).
import { createInterface } from "node:readline";
import * as native from "../../native/index.js";
import { VrrpLink } from "../../dist/dataplane/vrrpio.js";

const dev = process.argv[2];
if (!dev) {
  process.stderr.write("usage: vrrplink.mjs DEV\n");
  process.exit(2);
}
const out = (o) => process.stdout.write(JSON.stringify(o) + "\n");
const hex = (b) => Buffer.from(b).toString("hex");

const link = await VrrpLink.open(dev, {
  onFrame: (frame, at, vlan) => out({ t: at, vlan, hex: hex(frame) }),
  onLinkError: (errno) => out({ linkError: errno }),
});

const rl = createInterface({ input: process.stdin });
rl.on("line", (line) => {
  let c;
  try {
    c = JSON.parse(line);
    if (c.send) out({ id: c.id, sent: c.send.map((h) => link.send(Buffer.from(h, "hex"))) });
    else if (c.stats) out({ id: c.id, stats: link.stats() });
    else if (c.close) {
      const stats = link.stats();
      link.close();
      let afterClose = null;
      try {
        link.send(new Uint8Array(60));
      } catch (e) {
        afterClose = e.code;
      }
      out({ id: c.id, stats, afterClose });
    } else out({ id: c.id, error: "unknown command" });
  } catch (e) {
    out({ id: c?.id ?? null, error: String(e?.message ?? e), code: e?.code });
  }
});
rl.on("close", () => {
  link.close();
  process.exit(0);
});

out({ ready: true, mac: native.linkInfo(dev).mac });
