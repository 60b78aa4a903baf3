#!/usr/bin/env node
// The installed command: runs the compiled CLI (npm run build makes dist/).
import { main } from "../dist/host/cli.js";

const stop = new Promise((resolve) => {
  process.once("SIGTERM", resolve);
  process.once("SIGINT", resolve);
});
process.exitCode = await main(process.argv.slice(2), { stdout: process.stdout, stderr: process.stderr, stopSignal: stop });
// The daemon resolved its stop signal; nothing else should keep the process alive.
process.exit();
