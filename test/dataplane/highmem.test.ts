// A data plane whose memory passes 2 GiB (large connection tables do): the
// offsets it hands out above 2^31 must reach TypeScript as the unsigned
// numbers they are. Wasm's i32 results arrive in JavaScript signed, so a
// buffer there came back as a negative offset.
import { describe, expect, it } from "vitest";
import { DataPlane } from "../../src/dataplane/dataplane.js";

describe("data plane memory above 2 GiB", () => {
  it("hands out buffers there as unsigned offsets, and frames pass through them", async () => {
    const dp = await DataPlane.load({ debug: false, connCapacity: 4096, connCapacity6: 256, memoryBytes: 3 * 2 ** 30 });
    // Fill the heap below 2 GiB with large blocks, then take one more.
    let last = 0;
    for (let i = 0; i < 8 && last < 2 ** 31; i++) last = dp.x.allocBuffer(256 * 2 ** 20, 4096);
    const high = dp.x.allocBuffer(4096, 4096);
    expect(high).toBeGreaterThan(2 ** 31);
    const b = dp.createBatch(1);
    b.set(0, new Uint8Array(60), 0);
    b.run(1000); // a frame on a link that is not up: a counted drop, read from high memory
    expect(b.result(0).verdict).toBe(0);
  });
});
