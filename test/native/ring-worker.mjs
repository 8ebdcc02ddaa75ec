// Worker side of the "shared" scenario: maps an RX ring into the shared Wasm
// memory it was given, blocks in poll until woken, then exits without closing
// (the addon's environment cleanup must close and unmap).
import { parentPort, workerData } from "node:worker_threads";
import * as native from "../../native/index.js";

const { mem, b, waker } = workerData;
const view = new Uint8Array(mem.buffer);
const rx = native.openRx(b, { blockSize: 1 << 16, blockCount: 8, frameSize: 2048 });
const geometry = native.mapInto(rx, view, 0);
parentPort.postMessage({ type: "mapped", rx, geometry });
parentPort.on("message", (m) => {
  if (m.type === "block") {
    parentPort.postMessage({ type: "blocking" });
    const t = performance.now();
    const ready = native.poll([waker], 5000);
    parentPort.postMessage({ type: "woke", ready, elapsed: performance.now() - t });
  } else if (m.type === "exit") {
    process.exit(0);
  }
});
