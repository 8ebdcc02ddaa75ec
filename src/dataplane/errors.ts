// Errors from data-plane control calls: the data plane names what was wrong
// (assembly/ctl/errors.ts), and controlError() makes it a WeirError whose code
// and reason come from the one code table (../errors.ts). WeirError is
// re-exported for the data plane's files, which import it from beside them.

import { CODES, isCode, WeirError } from "../errors.js";

export { WeirError };

/** Builds the error for a negative control-call result; name comes from the data plane. */
export function controlError(name: string, what: string): WeirError {
  // Every name the data plane gives is in the table (test/errors.test.ts); this is the guard for one that is not.
  if (!isCode(name)) return new WeirError("WEIR_ERR_UNKNOWN", `${what}: ${name.toLowerCase()}`);
  return new WeirError(`WEIR_ERR_${name}`, `${what}: ${CODES[name]}`);
}
