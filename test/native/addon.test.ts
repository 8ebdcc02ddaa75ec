// The addon without links: loading, argument checking, wakers and poll. Runs
// unprivileged (rings.test.ts covers real links, as root).
import { describe, expect, it } from "vitest";
import * as native from "../../native/index.js";

function errorOf(fn: () => unknown): { code?: string; message: string } | null {
  try {
    fn();
    return null;
  } catch (e) {
    return e as { code?: string; message: string };
  }
}

describe("native addon", () => {
  it("looks up links by name", () => {
    const lo = native.linkInfo("lo");
    expect(lo).toMatchObject({ ifindex: 1, mac: "00:00:00:00:00:00", up: true });
    expect(lo.mtu).toBeGreaterThanOrEqual(1500);
    const e = errorOf(() => native.linkInfo("weirnosuch0"));
    expect(e).toMatchObject({ code: "ENODEV", message: "ioctl(SIOCGIFINDEX) on weirnosuch0: ENODEV (No such device)" });
    expect(errorOf(() => native.linkInfo("x".repeat(16)))?.code).toBe("WEIR_ERR_INVALID_ARG");
    expect(errorOf(() => native.linkInfo(42 as unknown as string))?.message).toBe("ifname must be a string");
  });

  it("checks ring options before any system call", () => {
    const rx = (o: object) => errorOf(() => native.openRx("lo", o as native.RxOptions));
    expect(rx({ blockSize: 4096, blockCount: 2 })?.message).toBe("openRx options.frameSize is required");
    expect(rx({ blockSize: 4096, blockCount: 2, frameSize: 100 })?.message).toMatch(/frameSize 100 must be a multiple of 16/);
    expect(rx({ blockSize: 4096, blockCount: 0, frameSize: 2048 })?.message).toMatch(/blockCount 0 must be at least 1/);
    expect(rx({ blockSize: 4096, blockCount: 2, frameSize: 2048, version: 1 })?.message).toMatch(/version 1 must be 3/);
    expect(rx({ blockSize: 8192, blockCount: 2, frameSize: 3072, version: 2 })?.message).toMatch(/must divide blockSize/);
    expect(rx({ blockSize: 4096, blockCount: 2, frameSize: 2048, fanoutMode: "cbpf", fanoutGroup: 1 })?.message).toMatch(/needs options.cbpf/);
    expect(rx({ blockSize: 4096, blockCount: 2, frameSize: 2048, fanoutMode: "lb" })?.message).toMatch(/need options.fanoutGroup/);
    expect(rx({ blockSize: 4096, blockCount: 2, frameSize: 2048, cbpf: new Uint8Array(7), fanoutGroup: 1, fanoutMode: "cbpf" })?.message).toMatch(/sock_filter/);
    const tx = (o: object) => errorOf(() => native.openTx("lo", o as native.TxOptions));
    expect(tx({ frameSize: 2048, frameCount: 3 })?.message).toMatch(/frameCount 3 must be a positive multiple of 2/);
    expect(tx({ frameSize: 4112, frameCount: 2 })?.message).toMatch(/does not tile pages/);
    expect(errorOf(() => native.mapInto(999999, new Uint8Array(4096), 0))?.code).toBe("WEIR_ERR_BAD_HANDLE");
    expect(errorOf(() => native.kickTx(-1))?.code).toBe("WEIR_ERR_INVALID_ARG");
  });

  it("wakes a poll from a waker, blocking and async, and times out otherwise", async () => {
    const w = native.wakerOpen();
    try {
      const t0 = performance.now();
      expect(native.poll([w], 50)).toEqual([]);
      expect(performance.now() - t0).toBeGreaterThanOrEqual(45);
      native.wake(w);
      expect(native.poll([w], 1000)).toEqual([w]);
      expect(native.poll([w], 0)).toEqual([]); // drained by the poll that reported it
      const pending = native.pollAsync([w], 5000);
      setTimeout(() => native.wake(w), 20);
      expect(await pending).toEqual([w]);
      expect(await native.pollAsync([w], 10)).toEqual([]);
      expect(errorOf(() => native.wake(12345678))?.code).toBe("WEIR_ERR_BAD_HANDLE");
    } finally {
      native.close(w);
    }
    expect(errorOf(() => native.close(w))?.code).toBe("WEIR_ERR_BAD_HANDLE");
  });

  it("exports the ring layout constants", () => {
    expect(native.BLOCK_DESC).toMatchObject({ BLOCK_STATUS: 8, NUM_PKTS: 12, OFFSET_TO_FIRST_PKT: 16, SIZE: 48 });
    expect(native.TPACKET3_HDR).toMatchObject({ NEXT_OFFSET: 0, SNAPLEN: 12, LEN: 16, STATUS: 20, MAC: 24, SIZE: 48 });
    expect(native.TPACKET2_HDR).toMatchObject({ STATUS: 0, LEN: 4, MAC: 12, DATA_OFFSET: 32 });
    expect(native.TP_STATUS).toMatchObject({ USER: 1, CSUMNOTREADY: 8, SEND_REQUEST: 1, WRONG_FORMAT: 4, GSO_TCP: 256 });
    expect(native.VIRTIO_NET_HDR).toMatchObject({ SIZE: 10, F_NEEDS_CSUM: 1, GSO_TCPV4: 1 });
    expect(native.tapClose).toBe(native.close);
  });

  it("watches a handle on this thread's event loop: a call per readiness, microtasks run, none after unwatch or close", async () => {
    const w = native.wakerOpen();
    const seen: number[] = [];
    let microtasks = 0;
    const id = native.watch(w, (h) => {
      seen.push(h);
      native.poll([w], 0); // drains the waker: readiness ends
      void Promise.resolve().then(() => { microtasks++; });
    });
    const tick = () => new Promise((r) => setTimeout(r, 30));
    try {
      await tick();
      expect(seen).toEqual([]); // nothing to read yet
      for (let i = 0; i < 3; i++) {
        native.wake(w);
        await tick();
      }
      expect(seen).toEqual([w, w, w]);
      expect(microtasks).toBe(3);
      expect(native.unwatch(id)).toBe(true);
      expect(native.unwatch(id)).toBe(false);
      native.wake(w);
      await tick();
      expect(seen).toHaveLength(3);
      native.poll([w], 0);
      // Closing the handle under a watch is safe (the watch holds a duplicate descriptor) until unwatched.
      const id2 = native.watch(w, () => { seen.push(-1); });
      native.close(w);
      await tick();
      expect(seen).toHaveLength(3);
      expect(native.unwatch(id2)).toBe(true);
      expect(errorOf(() => native.watch(w, () => {}))?.code).toBe("WEIR_ERR_BAD_HANDLE");
      expect(errorOf(() => native.watch(12345678, () => {}))?.code).toBe("WEIR_ERR_BAD_HANDLE");
    } finally {
      try { native.close(w); } catch { /* closed above */ }
    }
  });
});
