// The cri-logrotate image, built by hand the way Containerfile builds it, for a machine without base images
// or an image builder: this machine's `node` binary and the shared libraries `ldd` lists for it (and for the
// package's native modules), the packed package installed with `npm install -g` (the same tarball the
// installed-package test installs), the rules module also at /opt/cri-logrotate/cri-logrotate.wasm, and the
// final stage's ENTRYPOINT, CMD, USER and WORKDIR read from Containerfile itself. Where node:20-bookworm-slim
// has coreutils, this image has busybox: `env` for the command's `#!/usr/bin/env node`, `cp` for the
// DaemonSet's init container, `sh`.
import { execFile } from "node:child_process";
import { cp, copyFile, mkdir, mkdtemp, readFile, readlink, readdir, rm, symlink, writeFile } from "node:fs/promises";
import { dirname, join } from "node:path";
import { promisify } from "node:util";
import { installedFromCache, packCheckout, type InstalledPackage } from "../../support/installed-package.js";
import { containerfileFinalStage, IMAGE_WASM_PATH } from "../../support/containerfile.js";
import { repoFile } from "../../support/repo.js";
import { BUSYBOX_PATH, packImage, type ImageConfig } from "./image.js";

const run = promisify(execFile);

/** npm install -g's layout in node images: prefix /usr/local. */
const PREFIX = "/usr/local";
// The official node images' PATH.
const NODE_IMAGE_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
const BUSYBOX_LINKS = ["/usr/bin/env", "/bin/sh", "/bin/cp"];
const EMPTY_DIRS = ["proc", "sys", "dev", "tmp", "run", "var/log", "etc"];

export interface ShimImage {
  tarPath: string;
  tag: string;
  installed: InstalledPackage;
  config: ImageConfig;
}

/**
 * Builds `<dir>/shim-image.tar` tagged `tag`: packs the (built) checkout, installs the tarball (or reuses an
 * install of the same tarball), assembles the rootfs and writes the docker-archive.
 */
export async function buildShimImage(dir: string, tag: string): Promise<ShimImage> {
  await mkdir(dir, { recursive: true });
  const packDir = await mkdtemp(join(dir, "pack-"));
  const installed = await installedFromCache(await packCheckout(packDir));
  const rootfs = join(dir, "rootfs");
  await rm(rootfs, { recursive: true, force: true });
  const at = (p: string) => join(rootfs, p);

  for (const d of EMPTY_DIRS) await mkdir(at(d), { recursive: true });
  // node, as in the official images, and what its dynamic loader needs.
  await mkdir(at(`${PREFIX}/bin`), { recursive: true });
  await copyFile(process.execPath, at(`${PREFIX}/bin/node`));
  // The installed package, and the bin link npm made (relative: ../lib/node_modules/…).
  const packageDir = `${PREFIX}/lib/node_modules/cri-logrotate`;
  await mkdir(dirname(at(packageDir)), { recursive: true });
  await cp(installed.root, at(packageDir), { recursive: true, verbatimSymlinks: true });
  await symlink(await readlink(installed.bin), at(`${PREFIX}/bin/cri-logrotate`));
  const natives = (await filesUnder(at(packageDir))).filter((f) => f.endsWith(".node"));
  for (const lib of await sharedLibraries([process.execPath, ...natives])) {
    await mkdir(dirname(at(lib)), { recursive: true });
    await copyFile(lib, at(lib)); // follows the library's symlink chain: the file under the name the loader asks for
  }
  await mkdir(dirname(at(IMAGE_WASM_PATH)), { recursive: true });
  await copyFile(join(installed.root, "build", "cri-logrotate.wasm"), at(IMAGE_WASM_PATH));
  await mkdir(at("/bin"), { recursive: true });
  await copyFile(BUSYBOX_PATH, at("/bin/busybox"));
  for (const link of BUSYBOX_LINKS) {
    await mkdir(dirname(at(link)), { recursive: true });
    await symlink("/bin/busybox", at(link));
  }
  await writeFile(at("/etc/passwd"), "root:x:0:0:root:/root:/bin/sh\n");
  await writeFile(at("/etc/group"), "root:x:0:\n");

  const stage = containerfileFinalStage(await readFile(repoFile("Containerfile"), "utf8"));
  const config: ImageConfig = {
    Env: [`PATH=${NODE_IMAGE_PATH}`, `NODE_VERSION=${process.versions.node}`, ...stage.env],
    Entrypoint: stage.entrypoint,
    Cmd: stage.cmd,
    WorkingDir: stage.workdir ?? "/",
    User: stage.user,
  };
  const tarPath = await packImage(dir, rootfs, { tag, tarName: "shim-image.tar", config, createdBy: "cri-logrotate e2e: Containerfile's final stage, by hand" });
  await rm(rootfs, { recursive: true, force: true });
  await rm(packDir, { recursive: true, force: true });
  return { tarPath, tag, installed, config };
}

async function filesUnder(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const e of await readdir(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) out.push(...(await filesUnder(p)));
    else if (e.isFile()) out.push(p);
  }
  return out;
}

/** Every shared library (and the dynamic loader) `ldd` lists for these ELF files, by the path it prints. */
export async function sharedLibraries(files: string[]): Promise<string[]> {
  const libs = new Set<string>();
  for (const f of files) {
    const { stdout } = await run("ldd", [f], { timeout: 30_000 });
    for (const line of stdout.split("\n")) {
      // "libstdc++.so.6 => /lib/x86_64-linux-gnu/libstdc++.so.6 (0x…)" or "/lib64/ld-linux-x86-64.so.2 (0x…)"
      const m = /(?:=>\s*)?(\/\S+)\s+\(0x[0-9a-f]+\)/.exec(line);
      if (m) libs.add(m[1]!);
      if (/not found/.test(line)) throw new Error(`ldd ${f}: ${line.trim()}`);
    }
  }
  return [...libs].sort();
}
