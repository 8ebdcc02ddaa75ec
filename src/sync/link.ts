// The sync daemon's raw link: a RawLink (dataplane/rawlink.ts) whose socket
// filter takes only sync frames (frame.ts syncFilter), with its errors said
// as "connection-sync packet I/O" (code SYNC_IO), and an RX ring deep enough
// for a bulk: the master sends it as fast as its TX ring goes, and a backup
// busy installing must not lose frames (each is a gap, and a resync).

import { RawLink, type RawLinkOptions } from "../dataplane/rawlink.js";
import { syncFilter } from "./frame.js";
import { holdAllmulticast } from "../dataplane/allmulti.js";
import { logger } from "../log.js";
import type { SyncLink } from "./daemon.js";

/** RX ring bytes: ~1000 messages of a 1500-byte MTU (19 000 entries), ~128 of 9000. */
const RX_BYTES = 2 << 20;

/** Slots of a power of two holding a frame of this MTU (with a tag) and the kernel's slot header. */
export function syncRxRing(mtu: number): { slotSize: number; slots: number } {
  let slotSize = 2048;
  while (slotSize < mtu + 18 + 128) slotSize *= 2;
  return { slotSize, slots: Math.max(32, Math.floor(RX_BYTES / slotSize)) };
}

export class SyncRawLink extends RawLink {
  /** Opens dev for sync frames; throws WeirError NO_DEVICE or SYNC_IO, leaving nothing open. */
  static open(dev: string, o: RawLinkOptions & { mtu?: number }): Promise<SyncRawLink> {
    return SyncRawLink.openRaw(dev, {
      filter: syncFilter(), what: "connection-sync packet I/O", ioCode: "WEIR_ERR_SYNC_IO", rxRing: syncRxRing(o.mtu ?? 1500),
    }, o);
  }
}

/** The default opener the console word uses: frames go to onFrame; the link is in allmulticast mode while open (dataplane/allmulti.ts). */
export async function openSyncLink(dev: string, onFrame: (frame: Uint8Array) => void, mtu?: number): Promise<SyncLink> {
  const link = await SyncRawLink.open(dev, { onFrame: (f) => onFrame(f), mtu });
  const release = await holdAllmulticast(dev, logger("sync"), "connection sync");
  return {
    send: (f) => link.send(f),
    close: () => {
      link.close();
      release();
    },
  };
}
