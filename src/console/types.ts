// What every console (serial tty, control socket, WebSocket, config replay)
// shares: one interpreter of the console language (CONTRACTS.md) that takes a
// line and gives a plain-text reply.

export interface Reply {
  /** false for an error reply: then text is one line starting with "error: ". */
  ok: boolean;
  /** Reply text, without a trailing newline; may be empty. */
  text: string;
}

export type ConsoleSource = "serial" | "socket" | "ws" | "config";

export interface CommandContext {
  source: ConsoleSource;
  /**
   * Data attached to the line, for commands that read a stream as ipvsadm -R
   * reads stdin (`weir ctl -- ipvsadm -R < rules` sends the file here).
   */
  input?: string;
  /**
   * Asks the operator on the same terminal and resolves with the answer
   * (undefined when the session ended). Only the serial console can; a
   * secret answer is not echoed.
   */
  ask?(question: string, opts?: { secret?: boolean }): Promise<string | undefined>;
}

export interface Interpreter {
  execute(line: string, ctx: CommandContext): Promise<Reply>;
  /** Words offered by the consoles' tab completion and `help`. */
  commands(): string[];
}

export const ok = (text = ""): Reply => ({ ok: true, text });
export const err = (message: string): Reply => ({ ok: false, text: `error: ${message}` });
