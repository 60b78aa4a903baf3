// Builds the e2e image by hand: a docker-archive tar holding one layer with the static busybox and a few
// applet links. No registry and no network: `ctr images import` reads the tar directly. The same image is
// the pod sandbox ("pause" is its Cmd, `sleep 2147483647`) and every container's image.
import { execFile } from "node:child_process";
import { createHash } from "node:crypto";
import { createReadStream } from "node:fs";
import { copyFile, mkdir, rename, rm, symlink, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { promisify } from "node:util";

const run = promisify(execFile);

export const E2E_IMAGE = "localhost/busybox:e2e";
export const BUSYBOX_PATH = "/bin/busybox"; // where Debian's busybox-static puts it (dpkg -L busybox-static)

// Applets the scenarios use; each is a symlink to /bin/busybox in the image.
const APPLETS = ["sh", "sleep", "echo", "cat", "ls", "ps", "date", "true", "wc", "seq", "head", "tr", "yes"];
const EMPTY_DIRS = ["etc", "proc", "sys", "dev", "tmp", "var/log"];

// Fixed mtime so that two builds of the same busybox give the same layer digest.
const TAR_DETERMINISM = ["--sort=name", "--owner=0", "--group=0", "--numeric-owner", "--mtime=@0"];

/** Builds `<dir>/busybox-image.tar` (docker-archive format, tagged localhost/busybox:e2e) and returns its path. */
export async function buildBusyboxImage(dir: string): Promise<string> {
  const rootfs = join(dir, "rootfs");
  await rm(rootfs, { recursive: true, force: true });

  await mkdir(join(rootfs, "bin"), { recursive: true });
  await copyFile(BUSYBOX_PATH, join(rootfs, "bin", "busybox"));
  for (const applet of APPLETS) await symlink("busybox", join(rootfs, "bin", applet));
  for (const d of EMPTY_DIRS) await mkdir(join(rootfs, d), { recursive: true });

  return packImage(dir, rootfs, {
    tag: E2E_IMAGE,
    tarName: "busybox-image.tar",
    config: { Env: ["PATH=/bin"], Cmd: ["/bin/sleep", "2147483647"], WorkingDir: "/" },
    createdBy: "cri-logrotate e2e: busybox-static",
  });
}

export interface ImageConfig {
  Env: string[];
  Entrypoint?: string[];
  Cmd?: string[];
  WorkingDir: string;
  User?: string;
}

/**
 * Packs `rootfs` as a one-layer docker-archive tar (what `docker save` writes; `ctr images import` reads it)
 * tagged `tag`, at `<dir>/<tarName>`. Owners become root and mtimes the epoch, so the same files give the
 * same digests.
 */
export async function packImage(dir: string, rootfs: string, image: { tag: string; tarName: string; config: ImageConfig; createdBy: string }): Promise<string> {
  const archive = join(dir, "archive");
  await rm(archive, { recursive: true, force: true });
  // The layer is written beside the archive first: its directory name is its own digest.
  await mkdir(archive, { recursive: true });
  const layerTmp = join(dir, "layer.tar");
  await tar([...TAR_DETERMINISM, "-C", rootfs, "-cf", layerTmp, "."]);
  const layerSha = await sha256File(layerTmp);
  await mkdir(join(archive, layerSha));
  await rename(layerTmp, join(archive, layerSha, "layer.tar"));

  const config = JSON.stringify({
    architecture: goArch(),
    os: "linux",
    created: "1970-01-01T00:00:00Z",
    config: image.config,
    rootfs: { type: "layers", diff_ids: [`sha256:${layerSha}`] },
    history: [{ created: "1970-01-01T00:00:00Z", created_by: image.createdBy }],
  });
  const configSha = createHash("sha256").update(config).digest("hex");
  await writeFile(join(archive, `${configSha}.json`), config);
  await writeFile(
    join(archive, "manifest.json"),
    JSON.stringify([{ Config: `${configSha}.json`, RepoTags: [image.tag], Layers: [`${layerSha}/layer.tar`] }]),
  );

  const imageTar = join(dir, image.tarName);
  await tar([...TAR_DETERMINISM, "-C", archive, "-cf", imageTar, "."]);
  await rm(archive, { recursive: true, force: true });
  return imageTar;
}

async function tar(args: string[]): Promise<void> {
  try {
    await run("tar", args, { timeout: 120_000 });
  } catch (cause) {
    throw new Error(`failed to run tar ${args.join(" ")}`, { cause });
  }
}

function sha256File(path: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const hash = createHash("sha256");
    createReadStream(path)
      .on("data", (chunk) => hash.update(chunk))
      .on("error", (cause) => reject(new Error(`failed to hash "${path}"`, { cause })))
      .on("end", () => resolve(hash.digest("hex")));
  });
}

// The image config names the Go architecture; containerd refuses to unpack a platform it does not match.
function goArch(): string {
  const map: Record<string, string> = { x64: "amd64", arm64: "arm64", arm: "arm", ia32: "386", ppc64: "ppc64le", s390x: "s390x" };
  return map[process.arch] ?? process.arch;
}
