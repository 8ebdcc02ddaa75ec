// SyncRawLink (src/sync/link.ts) over a stub addon: the sync filter and an
// RX ring sized for bulks reach openRx; failures are SYNC_IO / NO_DEVICE
// errors naming connection-sync I/O. (Frames through a real link: test/e2e/connsync.test.ts.)

import { describe, expect, it } from "vitest";
import { SyncRawLink, syncRxRing } from "../../src/sync/link.js";
import { syncFilter } from "../../src/sync/frame.js";

function stub(code: string) {
  const calls: { dev: string; opts: Record<string, unknown> }[] = [];
  const native = {
    openRx(dev: string, opts: Record<string, unknown>) {
      calls.push({ dev, opts });
      throw Object.assign(new Error(`openRx ${dev}: ${code}`), { code });
    },
  };
  return { calls, native: native as never };
}

describe("SyncRawLink", () => {
  it("opens with the sync filter and a ring of ~2 MiB in slots that fit the MTU", async () => {
    const s = stub("EPERM");
    await expect(SyncRawLink.open("eth1", { onFrame: () => {}, native: s.native, mtu: 1500 }))
      .rejects.toMatchObject({ code: "WEIR_ERR_SYNC_IO", message: expect.stringMatching(/^cannot open connection-sync packet I\/O on eth1: .*EPERM/) });
    expect(s.calls[0].opts).toMatchObject({ version: 2, frameSize: 2048, blockSize: 4096, blockCount: 512, ignoreOutgoing: true });
    expect(s.calls[0].opts.filter).toEqual(syncFilter());
    expect(syncRxRing(9000)).toEqual({ slotSize: 16384, slots: 128 });
    expect(syncRxRing(1500)).toEqual({ slotSize: 2048, slots: 1024 });
    expect(syncRxRing(1950)).toEqual({ slotSize: 4096, slots: 512 }); // 1950 + tag + header > 2048
  });

  it("an unknown link is NO_DEVICE", async () => {
    await expect(SyncRawLink.open("nope0", { onFrame: () => {}, native: stub("ENODEV").native }))
      .rejects.toMatchObject({ code: "WEIR_ERR_NO_DEVICE" });
  });
});
