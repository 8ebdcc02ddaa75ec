// Configuration errors: a stable code and one line a person can act on,
// naming the offending token. The console prints the message after "error: ".

import { WeirError } from "../dataplane/errors.js";

export { WeirError };

/** Throws a WeirError with code WEIR_ERR_<code>. */
export function fail(code: string, message: string): never {
  throw new WeirError(`WEIR_ERR_${code}`, message);
}
