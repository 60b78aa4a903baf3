// Files of the checkout the tests run from (tests are compiled to dist/test/…, three levels below the root).
import { fileURLToPath } from "node:url";

const REPO_ROOT = new URL("../../../", import.meta.url);

/** Absolute path of a file in the checkout, e.g. repoFile("examples/fluent-bit/fluent-bit.conf"). */
export function repoFile(relative: string): string {
  return fileURLToPath(new URL(relative, REPO_ROOT));
}
