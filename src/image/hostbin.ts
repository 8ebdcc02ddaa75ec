// Host binaries for the image (Node.js, ip, nft) with the shared libraries
// they link, found with ldd.

import fs from "node:fs";
import { run } from "./exec.js";

/** The binary and every library it loads (absolute paths, resolved), sorted. */
export async function withLibraries(binary: string): Promise<string[]> {
  if (!fs.existsSync(binary)) throw new Error(`${binary} not found on this machine (the image takes it from the host)`);
  const { stdout } = await run("ldd", [binary]);
  const libs = new Set<string>([binary]);
  for (const line of stdout.split("\n")) {
    const m = line.match(/=>\s+(\/\S+)/) ?? line.match(/^\s*(\/\S+)\s+\(/);
    if (m) libs.add(m[1]);
    else if (/not found/.test(line)) throw new Error(`${binary}: ${line.trim()}`);
  }
  return [...libs].sort();
}
