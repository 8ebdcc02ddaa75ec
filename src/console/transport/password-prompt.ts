// `weir console-password check --file F`: the recovery shell's gate in the
// image's init (image/init). Asks on the terminal (no echo) and exits 0 when
// the password matches or none is set, 1 otherwise; three tries.

import readline from "node:readline";
import { readPasswordHash } from "../password.js";
import { asker, passwordLogin } from "./ask.js";

export async function checkPasswordOnTerminal(file: string, input = process.stdin, output = process.stdout): Promise<number> {
  let hash: string | undefined;
  try {
    hash = readPasswordHash(file);
  } catch (e) {
    output.write(`cannot read ${file}: ${(e as Error).message}\n`);
    return 1; // fail closed: an unreadable password file opens nothing
  }
  if (hash === undefined) return 0;
  const rl = readline.createInterface({ input, output, terminal: input.isTTY === true });
  try {
    return (await passwordLogin(asker(rl, output), hash, { output })) ? 0 : 1;
  } finally {
    rl.close();
  }
}
