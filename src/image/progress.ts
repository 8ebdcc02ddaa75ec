// Build progress: one line per step with its result and time; on a terminal
// the running step shows a ticking elapsed time.

export class Progress {
  private readonly started = performance.now();
  private step = 0;
  constructor(private readonly total: number, private readonly out: NodeJS.WriteStream = process.stderr) {}

  async run<T>(title: string, fn: () => Promise<T>, result?: (v: T) => string): Promise<T> {
    const n = ++this.step;
    const t0 = performance.now();
    const head = `[${n}/${this.total}] ${title}`;
    const tty = this.out.isTTY;
    const timer = tty ? setInterval(() => this.out.write(`\r${head} … ${secs(performance.now() - t0)}`), 200) : undefined;
    if (!tty) this.out.write(`${head} …\n`);
    try {
      const v = await fn();
      const line = `${head}: ${result ? result(v) : "done"} (${secs(performance.now() - t0)})`;
      this.out.write(tty ? `\r\x1b[K${line}\n` : `    ${line}\n`);
      return v;
    } catch (e) {
      this.out.write(`${tty ? "\r\x1b[K" : ""}${head}: FAILED\n`);
      throw e;
    } finally {
      if (timer) clearInterval(timer);
    }
  }

  elapsed(): string { return secs(performance.now() - this.started); }
}

function secs(ms: number): string {
  return `${(ms / 1000).toFixed(1)} s`;
}

export function mb(bytes: number): string {
  return `${(bytes / 1e6).toFixed(1)} MB`;
}
