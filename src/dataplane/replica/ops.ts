// Changes to the data plane as messages: the control instance (the
// supervisor's) records each change that succeeded (replicated.ts) and
// every replica (a worker thread's instance) applies the same ones, in the
// same order, so all instances run the same configuration.

import type { DataPlaneApi, DestSpec, ServiceKey, Transaction } from "../dataplane.js";
import type { Pause } from "../../util/yield.js";
import { destId as destKey, normalAddr, serviceId as serviceKey } from "../../keys.js";

/** One operation inside a transaction (Transaction's methods and their arguments). */
export type TxOp = { [M in keyof Transaction]: { m: M; a: Parameters<Transaction[M]> } }[keyof Transaction];

type Direct = Pick<DataPlaneApi, "setTimeouts" | "setLink" | "deleteLink" | "addAddress" | "deleteAddress" | "setAddressOwned" | "addRoute" | "deleteRoute" | "setNeighbour" | "zeroStats" | "setConnSync">;

/** A change: a whole transaction, or one of the calls outside transactions. */
export type DpOp = { m: "tx"; ops: TxOp[] } | { [M in keyof Direct]: { m: M; a: Parameters<Direct[M]> } }[keyof Direct];

/**
 * Applies op to a replica. A transaction is applied in slices (pause) so the
 * replica's packet loop goes on while a large one is staged; it becomes
 * visible at once, at its commit.
 */
export async function applyOp(dp: DataPlaneApi, op: DpOp, pause: Pause): Promise<void> {
  if (op.m !== "tx") {
    (dp[op.m] as (...a: unknown[]) => void).apply(dp, op.a);
    return;
  }
  await dp.transactionChunked(op.ops.map((o) => (tx: Transaction) => runTxOp(tx, o)), pause);
}

/** Runs transaction operations on an open transaction (one streaming in parts), with a turn whenever pause is due. */
export async function applyTxOps(tx: Transaction, ops: TxOp[], pause: Pause): Promise<void> {
  for (const o of ops) {
    runTxOp(tx, o);
    if (pause.due()) await pause.next();
  }
}

function runTxOp(tx: Transaction, o: TxOp): void {
  (tx[o.m] as (...a: unknown[]) => void)(...o.a);
}

// Keys come from the console and from listings, and IPv6 text has many
// spellings ("::1", "0:0::1"): the address is normalised before the key is made.

/** A service's identity as text (keys.ts serviceId), the same however the key object was spelled. */
export function serviceId(k: ServiceKey): string {
  return serviceKey("fwmark" in k ? k : { ...k, addr: normalAddr(k.addr) });
}

/** A real server's identity within its service (keys.ts destId). */
export function destId(d: Pick<DestSpec, "addr" | "port">): string {
  return destKey({ addr: normalAddr(d.addr), port: d.port });
}
