// `ws-token show`: the WebSocket console's token, for an operator at the
// serial console or on the control socket (root), now that the banner only
// names the file it is kept in. Never over the WebSocket itself, nor from a
// config file.

import type { CommandHandler } from "./registry.js";
import { err, ok } from "./types.js";

export function wsToken(token: () => string | undefined): CommandHandler {
  return {
    help: "ws-token show — the WebSocket console's token (serial console and control socket only)",
    async execute(args, ctx) {
      if (args.length !== 1 || args[0] !== "show") return err("usage: ws-token show");
      if (ctx.source !== "serial" && ctx.source !== "socket") return err("ws-token show works on the serial console and the control socket only");
      const t = token();
      return t ? ok(t) : err("no WebSocket console is running");
    },
  };
}
