// Errors from data-plane control calls, with stable machine-readable codes.

export class WeirError extends Error {
  readonly code: string;
  constructor(code: string, message: string) {
    super(message);
    this.code = code;
    this.name = "WeirError";
  }
}

const HINTS: Record<string, string> = {
  INVALID_ARGUMENT: "invalid argument",
  NO_SUCH_SERVICE: "no such service",
  SERVICE_EXISTS: "service already exists",
  NO_SUCH_DEST: "no such real server",
  DEST_EXISTS: "real server already exists",
  UNKNOWN_SCHEDULER: "unknown scheduler",
  NO_TRANSACTION: "no transaction open",
  TRANSACTION_OPEN: "a transaction is already open",
  TABLE_FULL: "table full",
  ADDRESS_FAMILY: "address family mismatch",
  NO_SUCH_LINK: "no such link",
  NO_SUCH_ADDRESS: "no such address",
  NO_ROUTE: "no such route",
  EXISTS: "already exists",
  NOT_FOUND: "not found",
};

/** Builds the error for a negative control-call result; name comes from the data plane. */
export function controlError(name: string, what: string): WeirError {
  return new WeirError(`WEIR_ERR_${name}`, `${what}: ${HINTS[name] ?? name.toLowerCase()}`);
}
