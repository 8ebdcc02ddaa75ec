// Logging: pino JSON lines on stderr, one child logger per module.

import pino, { type Logger } from "pino";

let root: Logger = pino(
  { level: process.env.WEIR_LOG_LEVEL ?? "info", base: { app: "weir" } },
  pino.destination({ dest: 2, sync: false }),
);

/** Replaces the root logger (tests capture logs this way). */
export function setRootLogger(l: Logger): void { root = l; }

export function logger(module: string): Logger {
  return root.child({ module });
}

export type { Logger };
