/**
 * Bounds concurrent file transfers per pod (UPLOAD_CONCURRENCY); in S3_UPLOAD_MODE=buffered each holds partSize ×
 * (queueSize + 1).
 */
export class Semaphore {
  private waiting: Array<() => void> = [];
  private active = 0;
  constructor(private readonly limit: number) {}

  async run<T>(task: () => Promise<T>): Promise<T> {
    if (this.active >= this.limit) await new Promise<void>((resolve) => this.waiting.push(resolve));
    this.active++;
    try {
      return await task();
    } finally {
      this.active--;
      this.waiting.shift()?.();
    }
  }
}
