// The fake CRI runtime for tests (never shipped). See fake-runtime.ts.
export * from "./fake-runtime.js";
export * from "./log-writer.js";
