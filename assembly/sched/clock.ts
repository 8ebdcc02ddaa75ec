// Scheduler clock: the time (milliseconds, the same wrapping u32 as the
// `now` of runBatch) that lblc/lblcr stamp their cache entries with, as IPVS
// uses jiffies. schedule() has no time argument, so the batch loop is meant
// to call setSchedNow(now) once per batch. Until something calls it the clock
// stays at 0: entries then never age out and lblc/lblcr keep their mappings
// until a table is full (see lblc.ts).

export let schedNow: u32 = 0;

export function setSchedNow(now: u32): void { schedNow = now; }

/** Milliseconds since t, as an unsigned difference (correct across one wrap of the u32 clock). */
@inline export function since(t: u32): u32 { return schedNow - t; }
