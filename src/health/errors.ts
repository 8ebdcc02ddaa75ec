// Errors of the health-check layer, with stable codes (WEIR_ERR_…).

export class HealthError extends Error {
  readonly code: string;
  constructor(code: string, message: string) {
    super(message);
    this.code = code;
    this.name = "HealthError";
  }
}
