// What every e2e suite does first: decide whether it may skip (never under CI=true), then start a private
// containerd and a CRI client that answers.
import { createCriAdmin, type CriAdmin } from "../../support/cri-admin.js";
import { containerdAvailable, INSTALL_HINT, startContainerd, type ContainerdOptions, type PrivateContainerd } from "./containerd.js";
import { waitForCri } from "./pods.js";

const availability = containerdAvailable();

/** The suite's `skip` option: the reason on a machine without containerd; in CI a missing containerd is a broken runner, so never. */
export const e2eSkip: string | false = !availability.ok && process.env.CI !== "true" ? availability.reason ?? "containerd unavailable" : false;

/** Starts a private containerd and a CRI client on it; throws (never skips) when containerd is missing. */
export async function startPrivateCri(options: ContainerdOptions = {}): Promise<{ containerd: PrivateContainerd; cri: CriAdmin }> {
  if (!availability.ok) throw new Error(`e2e cannot run in CI: ${availability.missing}; ${INSTALL_HINT}`);
  const containerd = await startContainerd(options);
  const cri = createCriAdmin({ endpoint: containerd.endpoint, timeoutMs: 10_000 });
  await waitForCri(cri);
  return { containerd, cri };
}
