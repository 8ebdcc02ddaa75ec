// The sync daemon's raw link: a RawLink (dataplane/rawlink.ts) whose socket
// filter takes only sync frames (frame.ts syncFilter), with its errors said
// as "connection-sync packet I/O" (code SYNC_IO).

import { RawLink, type RawLinkOptions } from "../dataplane/rawlink.js";
import { syncFilter } from "./frame.js";

export class SyncRawLink extends RawLink {
  /** Opens dev for sync frames; throws WeirError NO_DEVICE or SYNC_IO, leaving nothing open. */
  static open(dev: string, o: RawLinkOptions): Promise<SyncRawLink> {
    return SyncRawLink.openRaw(dev, { filter: syncFilter(), what: "connection-sync packet I/O", ioCode: "WEIR_ERR_SYNC_IO" }, o);
  }
}

/** The default opener the console word uses: frames go to onFrame. */
export function openSyncLink(dev: string, onFrame: (frame: Uint8Array) => void): Promise<SyncRawLink> {
  return SyncRawLink.open(dev, { onFrame: (f) => onFrame(f) });
}
