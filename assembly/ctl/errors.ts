// Control-call results. 0 is success; a negative value names what was wrong.
// The supervisor turns them into errors with a WEIR_ERR_ code (errorName()).

export const OK: i32 = 0;
export const E_INVAL: i32 = -1;
export const E_NOSVC: i32 = -2;
export const E_SVC_EXISTS: i32 = -3;
export const E_NODEST: i32 = -4;
export const E_DEST_EXISTS: i32 = -5;
export const E_SCHED: i32 = -6;
export const E_NOTX: i32 = -7;
export const E_TX_OPEN: i32 = -8;
export const E_FULL: i32 = -9;
export const E_AF: i32 = -10;
export const E_NOLINK: i32 = -11;
export const E_NOADDR: i32 = -12;
export const E_NOROUTE: i32 = -13;
export const E_EXISTS: i32 = -14;
export const E_NOTFOUND: i32 = -15;

const NAMES: StaticArray<string> = [
  "OK", "INVALID_ARGUMENT", "NO_SUCH_SERVICE", "SERVICE_EXISTS", "NO_SUCH_DEST", "DEST_EXISTS",
  "UNKNOWN_SCHEDULER", "NO_TRANSACTION", "TRANSACTION_OPEN", "TABLE_FULL", "ADDRESS_FAMILY",
  "NO_SUCH_LINK", "NO_SUCH_ADDRESS", "NO_ROUTE", "EXISTS", "NOT_FOUND",
];

export function errorName(code: i32): string {
  const i = -code;
  return i >= 0 && i < NAMES.length ? NAMES[i] : "UNKNOWN";
}
