// A data plane wired as the reference topology of TESTING.md, in memory:
// link 0 faces the clients (198.18.0.0/24, VIP 198.18.100.1 owned there),
// link 1 faces the real servers (198.19.0.0/24). Neighbours are static so
// tests see forwarded frames at once.

import { DataPlane, type LoadOptions } from "../../src/dataplane/dataplane.js";
import type { Batch, FrameResult } from "../../src/dataplane/batch.js";

export const LB0_MAC = "02:00:00:00:00:01";
export const LB1_MAC = "02:00:00:00:01:01";
export const CLIENT = "198.18.0.10";
export const CLIENT_MAC = "02:00:00:00:00:10";
export const CLIENT6 = "2001:db8::10";
export const VIP = "198.18.100.1";
export const VIP6 = "2001:db8:100::1";
export const RS = ["198.19.0.11", "198.19.0.12", "198.19.0.13"];
export const RS_MAC = ["02:00:00:00:01:11", "02:00:00:00:01:12", "02:00:00:00:01:13"];
export const RS6 = ["2001:db8:1::11", "2001:db8:1::12", "2001:db8:1::13"];

export interface Appliance {
  dp: DataPlane;
  batch: Batch;
  /** Runs one frame through the data plane at time now (ms). */
  send(frame: Uint8Array, link: number, now?: number): FrameResult;
  /** Runs several frames in one batch. */
  sendAll(frames: { frame: Uint8Array; link: number }[], now?: number): FrameResult[];
  reasonName(code: number): string;
}

export async function makeAppliance(opts: LoadOptions & { neighbours?: boolean } = {}): Promise<Appliance> {
  const dp = await DataPlane.load({ connCapacity: 4096, connCapacity6: 1024, seed: 12345, debug: true, ...opts });
  dp.setLink(0, { mac: LB0_MAC, mtu: 1500 });
  dp.setLink(1, { mac: LB1_MAC, mtu: 1500 });
  dp.addAddress(0, "198.18.0.1/24");
  dp.addAddress(0, `${VIP}/32`);
  dp.addAddress(1, "198.19.0.1/24");
  dp.addAddress(0, "2001:db8::1/64");
  dp.addAddress(0, `${VIP6}/128`);
  dp.addAddress(1, "2001:db8:1::1/64");
  if (opts.neighbours !== false) {
    dp.setNeighbour(0, CLIENT, CLIENT_MAC);
    dp.setNeighbour(0, CLIENT6, CLIENT_MAC);
    RS.forEach((a, i) => dp.setNeighbour(1, a, RS_MAC[i]));
    RS6.forEach((a, i) => dp.setNeighbour(1, a, RS_MAC[i]));
  }
  const batch = dp.createBatch(64, 2048);
  const names = ["none", ...dp.dropReasons];
  return {
    dp,
    batch,
    send(frame, link, now = 1000) {
      batch.clear();
      batch.set(0, frame, link);
      batch.run(now);
      return batch.result(0);
    },
    sendAll(frames, now = 1000) {
      batch.clear();
      frames.forEach((f, i) => batch.set(i, f.frame, f.link));
      batch.run(now);
      return frames.map((_, i) => batch.result(i));
    },
    reasonName: (c) => names[c] ?? `reason ${c}`,
  };
}
