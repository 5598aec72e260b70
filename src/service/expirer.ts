import type { ServiceLogger } from './service.js';

/**
 * Sweeps for pending requests past their TTL. Deadlines live in the store, so a restart loses
 * none: the first sweep after start expires whatever came due while the process was down.
 * Several replicas may sweep at once; the store's compare-and-set lets exactly one win.
 */
export class Expirer {
  private timer: NodeJS.Timeout | undefined;
  private running = false;

  constructor(
    private readonly sweep: () => Promise<number>,
    private readonly intervalMs: number,
    private readonly logger?: ServiceLogger,
  ) {}

  start(): void {
    void this.tick();
    this.timer = setInterval(() => void this.tick(), this.intervalMs);
    this.timer.unref();
  }

  stop(): void {
    clearInterval(this.timer);
  }

  private async tick(): Promise<void> {
    if (this.running) return;
    this.running = true;
    try {
      await this.sweep();
    } catch (error) {
      this.logger?.error({ err: error }, 'expiry sweep failed; will retry');
    } finally {
      this.running = false;
    }
  }
}
