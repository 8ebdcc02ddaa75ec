// Questions on a console terminal, shared by the serial console and the
// recovery shell's password check: an answer read without echo (readline
// echoes typed characters through _writeToOutput, which a secret question
// mutes), and the password login (three tries, a pause after a wrong one).

import type readline from "node:readline";
import { verifyPassword } from "../password.js";

export type Ask = (question: string, opts?: { secret?: boolean }) => Promise<string | undefined>;

/** Asks on rl; resolves undefined once rl is closed. */
export function asker(rl: readline.Interface, output: NodeJS.WritableStream): Ask {
  let muted = false;
  const rlw = rl as unknown as { _writeToOutput(s: string): void };
  const echo = rlw._writeToOutput.bind(rl);
  rlw._writeToOutput = (s: string) => { if (!muted) echo(s); };
  let gone = false;
  rl.once("close", () => { gone = true; });
  return (question, o = {}) =>
    new Promise<string | undefined>((resolve) => {
      if (gone) { resolve(undefined); return; }
      const onClose = () => resolve(undefined);
      rl.once("close", onClose);
      output.write(question);
      muted = o.secret === true;
      rl.question("", (answer) => {
        rl.off("close", onClose);
        if (muted) output.write("\n");
        muted = false;
        resolve(answer);
      });
    });
}

export const LOGIN_TRIES = 3;

/** True when the password matching hash was given within LOGIN_TRIES (and stopped() stayed false). */
export async function passwordLogin(ask: Ask, hash: string, o: {
  output: NodeJS.WritableStream; delayMs?: number; stopped?: () => boolean; onWrong?: () => void;
}): Promise<boolean> {
  for (let i = 0; i < LOGIN_TRIES && !o.stopped?.(); i++) {
    const pw = await ask("Password: ", { secret: true });
    if (pw === undefined) return false;
    if (await verifyPassword(pw, hash)) return true;
    o.onWrong?.();
    await new Promise((r) => setTimeout(r, o.delayMs ?? 2000));
    o.output.write("Login incorrect\n");
  }
  return false;
}
