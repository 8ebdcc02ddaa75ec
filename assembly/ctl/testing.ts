// Hooks for the scheduler test suite: run a live service's scheduler on an
// input given in scratch, and set a real server's connection counters, so
// each scheduler's picks can be checked against its definition without
// building thousands of connections first.

import * as S from "./scratch";
import { liveSvc, liveDest } from "./api";
import { schedInput } from "../sched/input";
import { updateOverload } from "../svc/bind";

/**
 * Scratch: service key as usual; client address at ARG_ADDR, destination
 * address at ARG_ADDR2, client port (host order u16) at ARG_SPORT,
 * destination port at ARG_DPORT. Returns the index of the picked real server in the service's
 * list, -1 for none, -2 for no such service.
 */
export function testSchedule(): i32 {
  const s = liveSvc();
  if (s === null) return -2;
  const b = S.scratch;
  const inp = schedInput;
  inp.af = s!.af;
  inp.proto = s!.proto;
  const mask = s!.af == 4 ? i32x4.replace_lane(i32x4.splat(0), 0, -1) : i32x4.splat(-1);
  inp.saddr = v128.and(v128.load(b + S.ARG_ADDR), mask);
  inp.daddr = v128.and(v128.load(b + S.ARG_ADDR2), mask);
  inp.sport = bswap<u16>(load<u16>(b + S.ARG_SPORT));
  inp.dport = bswap<u16>(load<u16>(b + S.ARG_DPORT));
  const d = s!.sched.schedule(s!, inp);
  if (d === null) return -1;
  for (let i = 0; i < s!.dests.length; i++) if (s!.dests[i] === d) return i;
  return -3;
}

/** Sets the counters of the real server named by the dest spec. */
export function testSetDestConns(active: i32, inactive: i32): i32 {
  const d = liveDest();
  if (d === null) return -4;
  d!.st.activeconns = active;
  d!.st.inactconns = inactive;
  updateOverload(d!.st);
  return 0;
}
