// Binding connections to real servers: the active/inactive/persistent
// counters the schedulers read, and the overload flag with IPVS's hysteresis
// (ip_vs_bind_dest / ip_vs_unbind_dest): over the upper threshold -x a real
// server takes no new connections until it drops below the lower threshold
// -y, or below 3/4 of -x when -y is not set.

import { DestState, DEST_F_OVERLOAD } from "./dest";

/** Every DestState that a connection may point to, by id (0 is never used). */
export const destStates = new Array<DestState | null>(1);
const freeIds = new Array<u32>();

export function registerDestState(st: DestState): void {
  if (freeIds.length > 0) {
    st.id = freeIds.pop();
    destStates[st.id] = st;
  } else {
    st.id = destStates.length;
    destStates.push(st);
  }
  st.refcnt = 1;
}

@inline export function destState(id: u32): DestState {
  return changetype<DestState>(unchecked(destStates[id]));
}

export function destPut(st: DestState): void {
  if (--st.refcnt == 0) {
    destStates[st.id] = null;
    freeIds.push(st.id);
    st.id = 0;
  }
}

@inline function total(st: DestState): u32 { return <u32>(st.activeconns + st.inactconns); }

export function bindConn(st: DestState, template: bool, inactive: bool): void {
  st.refcnt++;
  if (template) { st.persistconns++; return; }
  if (inactive) st.inactconns++; else st.activeconns++;
  if (st.uThreshold != 0 && total(st) >= st.uThreshold) st.flags |= DEST_F_OVERLOAD;
}

export function unbindConn(st: DestState, template: bool, inactive: bool): void {
  if (template) st.persistconns--;
  else {
    if (inactive) st.inactconns--; else st.activeconns--;
    updateOverload(st);
  }
  destPut(st);
}

/** Clears the overload flag per IPVS's rules (also used when thresholds change). */
export function updateOverload(st: DestState): void {
  if (st.lThreshold != 0) {
    if (total(st) < st.lThreshold) st.flags &= ~DEST_F_OVERLOAD;
  } else if (st.uThreshold != 0) {
    if (total(st) * 4 < st.uThreshold * 3) st.flags &= ~DEST_F_OVERLOAD;
  } else {
    st.flags &= ~DEST_F_OVERLOAD;
  }
  if (st.uThreshold != 0 && total(st) >= st.uThreshold) st.flags |= DEST_F_OVERLOAD;
}

/** TCP state change between established (active) and the rest (inactive). */
export function moveActive(st: DestState, toActive: bool): void {
  if (toActive) { st.inactconns--; st.activeconns++; }
  else { st.activeconns--; st.inactconns++; }
}
