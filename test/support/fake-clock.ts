// A clock tests set by hand: now() is what the test says; sleep() advances it and resolves at once (the
// test drives passes explicitly), so no test waits for wall time or patches Date.now.
import type { Clock } from "../../host/clock.js";

export class FakeClock implements Clock {
  constructor(private ms: number) {}
  now(): number {
    return this.ms;
  }
  set(ms: number): void {
    this.ms = ms;
  }
  advance(ms: number): void {
    this.ms += ms;
  }
  async sleep(ms: number): Promise<void> {
    this.ms += ms;
  }
}
