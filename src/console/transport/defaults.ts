// Default places of the consoles, in a module of their own: the CLI names
// them in its option help without loading the consoles themselves (every
// `weir ctl` would otherwise pay for the whole supervisor's imports).

export const DEFAULT_CTL_PATH = "/run/weir/ctl.sock";
export const DEFAULT_CONSOLE_URL = "ws://127.0.0.1:8443";
