// The words of the console language and who handles them. Modules add their
// words (health, image, …) with register(); a word may be several tokens
// ("show stats"), and the longest registered match wins.

import type { Draft } from "../config/draft.js";
import { fail } from "../errors.js";
import type { CommandContext, Reply } from "./types.js";

export interface CommandHandler {
  /** args: the tokens after the word. */
  execute(args: string[], ctx: CommandContext): Promise<Reply>;
  /** Lines that rebuild this module's state, for show running-config and save. */
  runningConfig?(): string[];
  /** One line (or a few) for `help`. */
  help: string;
  /**
   * For configuration words of the core (ipvsadm, iptables, ip): applies the
   * line to a draft without committing, so a config file becomes one change.
   * Lines of words without stage() are run after that change, in order.
   */
  stage?(args: string[], draft: Draft): void;
  /** Before a config load runs this word's lines: returns how to undo them. */
  checkpoint?(): () => void | Promise<void>;
}

export class Registry {
  private readonly words = new Map<string, CommandHandler>();
  private readonly order: string[] = [];

  register(word: string, h: CommandHandler): void {
    const w = word.trim().split(/\s+/).join(" ");
    if (!w) fail("BAD_WORD", "empty command word");
    if (this.words.has(w)) fail("EXISTS", `command '${w}' is already registered`);
    this.words.set(w, h);
    this.order.push(w);
  }

  /** The handler for the longest registered prefix of tokens, and the rest. */
  resolve(tokens: string[]): { word: string; handler: CommandHandler; args: string[] } | null {
    for (let n = Math.min(tokens.length, 4); n > 0; n--) {
      const w = tokens.slice(0, n).join(" ");
      const h = this.words.get(w);
      if (h) return { word: w, handler: h, args: tokens.slice(n) };
    }
    return null;
  }

  /** Words in registration order. */
  list(): [string, CommandHandler][] { return this.order.map((w) => [w, this.words.get(w)!]); }
}
