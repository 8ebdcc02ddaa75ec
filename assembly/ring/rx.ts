// Walking a link's RX ring in place (native/README.md, "RX"): TPACKET_V2
// (one slot per frame, handed over at once: lowest latency) or TPACKET_V3
// (frames packed in blocks handed over when full or after the block
// timeout). Each frame is handed to forward.ts's visit and its slot (V2) or block (V3)
// goes back to the kernel after it; status is read first and written last.

import { LinkRings, count, C_RX_FRAMES, C_RX_BYTES, C_RX_TRUNCATED } from "./rings";
import { fromVnet } from "../xmit/offload";
import { visit } from "./forward";

const TP_STATUS_KERNEL: u32 = 0;
const TP_STATUS_USER: u32 = 1;
const VNET_LEN: usize = 10;

@inline function one(p: LinkRings, frame: usize, snap: u32, len: u32, ): void {
  count(p, C_RX_FRAMES);
  count(p, C_RX_BYTES, len);
  if (snap < len) { count(p, C_RX_TRUNCATED); return; } // never forward a cut frame
  const f = p.rxVnet ? fromVnet(frame - VNET_LEN, frame, snap) : 0;
  visit(p, frame, snap, f);
}

/** Takes up to quota frames from a TPACKET_V2 ring. */
export function drainV2(p: LinkRings, quota: u32): u32 {
  let n: u32 = 0;
  while (n < quota) {
    const s = p.rxBase + <usize>p.rxCur * <usize>p.rxFrameSize;
    if ((load<u32>(s) & TP_STATUS_USER) == 0) break;
    one(p, s + <usize>load<u16>(s, 12), load<u32>(s, 8), load<u32>(s, 4));
    store<u32>(s, TP_STATUS_KERNEL);
    p.rxCur = p.rxCur + 1 == p.rxFrameCount ? 0 : p.rxCur + 1;
    n++;
  }
  return n;
}

/** Takes up to quota frames from a TPACKET_V3 ring, resuming inside a block. */
export function drainV3(p: LinkRings, quota: u32): u32 {
  let n: u32 = 0;
  let empties: u32 = 0;
  while (n < quota) {
    const blk = p.rxBase + <usize>p.rxCur * <usize>p.rxBlockSize;
    if (p.v3Left == 0) {
      if ((load<u32>(blk, 8) & TP_STATUS_USER) == 0) break;
      const np = load<u32>(blk, 12);
      if (np == 0) {
        store<u32>(blk, TP_STATUS_KERNEL, 8);
        p.rxCur = p.rxCur + 1 == p.rxBlockCount ? 0 : p.rxCur + 1;
        if (++empties >= p.rxBlockCount) break;
        continue;
      }
      p.v3Left = np;
      p.v3Hdr = blk + <usize>load<u32>(blk, 16);
    }
    const h = p.v3Hdr;
    one(p, h + <usize>load<u16>(h, 24), load<u32>(h, 12), load<u32>(h, 16));
    n++;
    if (--p.v3Left == 0) {
      store<u32>(blk, TP_STATUS_KERNEL, 8);
      p.rxCur = p.rxCur + 1 == p.rxBlockCount ? 0 : p.rxCur + 1;
    } else {
      p.v3Hdr = h + <usize>load<u32>(h);
    }
  }
  return n;
}
