// Running work with bounded parallelism, and never two pieces of work on one container at once.

/** Runs `fn` over `items` with at most `limit` in flight. */
export async function runPool<T>(items: readonly T[], limit: number, fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  const workers = Array.from({ length: Math.min(Math.max(1, limit), items.length) }, async () => {
    while (next < items.length) {
      const item = items[next++]!;
      await fn(item);
    }
  });
  await Promise.all(workers);
}

/** One holder per key at a time: passes, growth-triggered rotations and clean never overlap on a container. */
export class KeyedLock {
  private readonly held = new Map<string, Promise<void>>();

  async run<T>(key: string, fn: () => Promise<T>): Promise<T> {
    for (;;) {
      const prior = this.held.get(key);
      if (!prior) break;
      await prior;
    }
    let release!: () => void;
    this.held.set(key, new Promise<void>((r) => (release = r)));
    try {
      return await fn();
    } finally {
      this.held.delete(key);
      release();
    }
  }

  isHeld(key: string): boolean {
    return this.held.has(key);
  }
}
