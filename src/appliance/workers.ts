// The supervisor's view of its data-plane workers: `show workers`, and the
// per-link counters of /metrics summed over the supervisor and the workers.

import type { CommandHandler } from "../console/registry.js";
import { ok } from "../console/types.js";
import { WeirError } from "../errors.js";
import type { PacketIo, LinkIoStats } from "../dataplane/io.js";
import type { WorkerPool } from "../dataplane/replica/pool.js";
import { sumLinks } from "../dataplane/replica/remote.js";

export function showWorkers(pool: WorkerPool): CommandHandler {
  return {
    help: "show workers — the data-plane worker threads: up, restarts, changes applied",
    async execute(args) {
      if (args.length) throw new WeirError("WEIR_ERR_UNEXPECTED_ARGUMENT", `unexpected argument '${args[0]}'`);
      return ok(pool.status().map((w) => `worker ${w.index} ${w.up ? "up" : "down"} restarts ${w.restarts} applied ${w.applied} frames_in ${w.framesIn}`).join("\n"));
    },
  };
}

/** TEST HOOK (registered only with WEIR_TEST_HOOKS=1): `debug crash-worker N` makes worker N throw, as a bug would. */
export function crashWorker(pool: WorkerPool): CommandHandler {
  return {
    help: "debug crash-worker N — test hook: worker N throws an uncaught error",
    async execute(args) {
      const n = Number(args[0]);
      if (args.length !== 1 || !Number.isInteger(n) || n < 0 || n >= pool.status().length) throw new WeirError("WEIR_ERR_BAD_WORKER", `usage: debug crash-worker N (0 to ${pool.status().length - 1})`);
      pool.crashForTest(n);
      return ok();
    },
  };
}

/** The links the supervisor has attached, with the workers' counters of each added. */
export function linkStats(io: PacketIo | undefined, pool: WorkerPool | undefined): LinkIoStats[] {
  const own = io?.stats() ?? [];
  if (!pool) return own;
  const devs = new Set(own.map((l) => l.dev));
  return sumLinks(own, pool.remote.links().filter((l) => devs.has(l.dev)));
}
