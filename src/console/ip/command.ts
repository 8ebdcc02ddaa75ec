// The `ip` word: the appliance's links, addresses, routes and neighbours in
// iproute2's words and layouts.

import type { Draft } from "../../config/draft.js";
import { fail } from "../../errors.js";
import type { ConsoleEnv } from "../env.js";
import type { CommandHandler } from "../registry.js";
import { ok, type Reply } from "../types.js";
import { addrAdd, addrConfig, addrDel, addrShow } from "./addr.js";
import { linkConfig, linkSet, linkShow } from "./link.js";
import { neighShow } from "./neigh.js";
import { routeAdd, routeConfig, routeDel, routeShow } from "./route.js";
import { pick, type FamilyFilter } from "./words.js";

interface Line { object: string; verb: string; args: string[]; fam: FamilyFilter; }

const VERBS: Record<string, string[]> = {
  link: ["show", "list", "lst", "set"],
  address: ["add", "delete", "show", "list", "lst"],
  route: ["add", "delete", "show", "list", "lst"],
  neighbour: ["show", "list", "lst"],
};

function parse(args: string[]): Line {
  let fam: FamilyFilter;
  let i = 0;
  for (; args[i]?.startsWith("-"); i++) {
    if (args[i] === "-4") fam = 4;
    else if (args[i] === "-6") fam = 6;
    else fail("UNSUPPORTED_OPTION", `unsupported option '${args[i]}'`);
  }
  if (args[i] === undefined) fail("MISSING_ARGUMENT", "missing object (link, addr, route, neigh)");
  let object = pick(args[i], ["address", "route", "neighbor", "neighbour", "link"], "object");
  if (object === "neighbor") object = "neighbour";
  const rest = args.slice(i + 1);
  const verb0 = rest.length ? pick(rest[0], VERBS[object], `command for ip ${object}`) : "show";
  const verb = verb0 === "list" || verb0 === "lst" ? "show" : verb0;
  return { object, verb, args: rest.slice(1), fam };
}

function stageLine(l: Line, d: Draft): void {
  const key = `${l.object} ${l.verb}`;
  switch (key) {
    case "link set": return linkSet(d, l.args);
    case "address add": return addrAdd(d, l.args);
    case "address delete": return addrDel(d, l.args);
    case "route add": return routeAdd(d, l.args, l.fam);
    case "route delete": return routeDel(d, l.args, l.fam);
  }
}

export class IpCommand implements CommandHandler {
  readonly help = "ip link show|set DEV up|down|mtu N; ip addr add|del A/LEN dev DEV; ip addr show; ip route add|del PREFIX via GW [dev DEV]; ip route show; ip neigh show";

  constructor(private readonly env: ConsoleEnv) {}

  stage(args: string[], d: Draft): void {
    const l = parse(args);
    if (l.verb !== "show") stageLine(l, d);
  }

  runningConfig(): string[] {
    const st = this.env.model.state;
    return [...linkConfig(st), ...addrConfig(st), ...routeConfig(st)];
  }

  async execute(args: string[]): Promise<Reply> {
    const l = parse(args);
    const { model } = this.env;
    if (l.verb !== "show") {
      await model.change((d) => stageLine(l, d));
      return ok();
    }
    const st = model.state;
    switch (l.object) {
      case "link": return ok(linkShow(st, l.args).join("\n"));
      case "address": return ok(addrShow(st, l.args, l.fam).join("\n"));
      case "route": return ok(routeShow(st, l.args, l.fam).join("\n"));
      default: return ok(neighShow(model.dp, st, l.args, l.fam).join("\n"));
    }
  }
}
