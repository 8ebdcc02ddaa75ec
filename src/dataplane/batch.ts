// A batch of frame slots in the data plane's memory: input slot i and
// output slot i, and descriptor i pointing at them. Tests and benchmarks
// fill inputs and read outputs; the I/O layer will use ring frames instead.

import type { WeirExports } from "./wasm.js";
import type { DescLayout } from "./layout.js";

export interface FrameResult {
  verdict: number; reason: number; outLink: number; out: Uint8Array;
  /** Offload state of the output (virtio_net_hdr folded into 32 bits: assembly/xmit/offload.ts, offload.ts here). */
  flags: number;
}

export class Batch {
  count = 0;
  constructor(
    private readonly x: WeirExports,
    /** The descriptor's offsets (DataPlane.layout.desc). */
    private readonly d: DescLayout,
    readonly desc: number,
    readonly frames: number,
    readonly capacity: number,
    readonly slotSize: number,
  ) {}

  inSlot(i: number): number { return this.frames + i * 2 * this.slotSize; }
  outSlot(i: number): number { return this.inSlot(i) + this.slotSize; }

  /** Puts frame bytes in slot i for ingress link, with its offload flags; returns i. */
  set(i: number, frame: Uint8Array, link: number, flags = 0): number {
    if (frame.length > this.slotSize) throw new RangeError(`frame of ${frame.length} bytes exceeds slot size ${this.slotSize}`);
    const mem = new Uint8Array(this.x.memory.buffer);
    mem.set(frame, this.inSlot(i));
    const v = new DataView(this.x.memory.buffer, this.desc + i * this.d.size, this.d.size);
    v.setUint32(this.d.inOff, this.inSlot(i), true);
    v.setUint32(this.d.inLen, frame.length, true);
    v.setUint32(this.d.outOff, this.outSlot(i), true);
    v.setUint32(this.d.outCap, this.slotSize, true);
    v.setUint32(this.d.outLen, 0, true);
    v.setUint16(this.d.inLink, link, true);
    v.setUint32(this.d.flags, flags >>> 0, true);
    if (i >= this.count) this.count = i + 1;
    return i;
  }

  /** Processes slots 0..count-1; returns how many produced output. */
  run(nowMs: number): number {
    return this.x.runBatch(this.desc, this.count, nowMs >>> 0);
  }

  result(i: number): FrameResult {
    const v = new DataView(this.x.memory.buffer, this.desc + i * this.d.size, this.d.size);
    const len = v.getUint32(this.d.outLen, true);
    const outOff = v.getUint32(this.d.outOff, true);
    return {
      verdict: v.getUint16(this.d.verdict, true),
      reason: v.getUint16(this.d.reason, true),
      outLink: v.getUint16(this.d.outLink, true),
      out: new Uint8Array(this.x.memory.buffer.slice(outOff, outOff + len)),
      flags: v.getUint32(this.d.flags, true),
    };
  }

  clear(): void { this.count = 0; }
}
