// `weir console-password check --file F`: the recovery shell's gate in the
// image's init (image/init). Asks on the terminal (no echo) and exits 0 when
// the password matches or none is set, 1 otherwise; three tries.

import readline from "node:readline";
import { readPasswordHash, verifyPassword } from "../password.js";

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
  const rlw = rl as unknown as { _writeToOutput(s: string): void };
  rlw._writeToOutput = () => {}; // no echo
  let closed = false;
  rl.once("close", () => { closed = true; });
  try {
    for (let i = 0; i < 3; i++) {
      output.write("Password: ");
      const pw = closed ? undefined : await new Promise<string | undefined>((resolve) => {
        rl.once("close", () => resolve(undefined));
        rl.question("", resolve);
      });
      output.write("\n");
      if (pw === undefined) return 1;
      if (await verifyPassword(pw, hash)) return 0;
      await new Promise((r) => setTimeout(r, 2000));
      output.write("Login incorrect\n");
    }
    return 1;
  } finally {
    rl.close();
  }
}
