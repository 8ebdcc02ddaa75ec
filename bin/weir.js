#!/usr/bin/env node
// The `weir` command: the compiled CLI (npm ci builds dist/).
import { main } from "../dist/cli.js";

main(process.argv).catch((e) => {
  console.error(`weir: ${e?.message ?? e}`);
  process.exit(2);
});
