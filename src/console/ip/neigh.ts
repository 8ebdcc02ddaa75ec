// ip neigh show [dev DEV]: the data plane's neighbour table.

import type { DataPlaneApi } from "../../dataplane/dataplane.js";
import { fail } from "../../errors.js";
import { compareIp } from "../../keys.js";
import type { ConfigState } from "../../config/state.js";
import { devArg } from "./link.js";
import type { FamilyFilter } from "./words.js";

export function neighShow(dp: Pick<DataPlaneApi, "neighbours">, st: ConfigState, args: string[], fam: FamilyFilter): string[] {
  let only: string | undefined;
  if (args.length) {
    const [dev, next] = devArg(args, 0);
    if (args[next] !== undefined) fail("UNEXPECTED_ARGUMENT", `unexpected argument '${args[next]}'`);
    if (!st.links.has(dev)) fail("NO_SUCH_DEVICE", `device '${dev}' does not exist`);
    only = dev;
  }
  const names = new Map([...st.links.values()].map((l) => [l.id, l.name]));
  return dp.neighbours()
    .map((n) => ({ ...n, dev: names.get(n.link) ?? `link${n.link}`, af: n.addr.includes(":") ? 6 : 4 }))
    .filter((n) => (!only || n.dev === only) && (!fam || n.af === fam))
    .sort((a, b) => a.link - b.link || compareIp(a.addr, b.addr))
    .map((n) => n.state === "incomplete" ? `${n.addr} dev ${n.dev} INCOMPLETE` : `${n.addr} dev ${n.dev} lladdr ${n.mac} ${n.state.toUpperCase()}`);
}
