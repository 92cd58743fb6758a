import { spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync, readdirSync, readFileSync, statSync } from "node:fs";
import { chmod, copyFile, mkdir, mkdtemp, rename, rm, writeFile } from "node:fs/promises";
import { availableParallelism, tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { gzipSync } from "node:zlib";
import type { GuestBackend } from "./guest-boot.js";

/**
 * The QEMU backend: Debian's own kernel (`linux-image-amd64`) booted by `qemu-system-x86_64`, KVM where a
 * probe boot proved it works (guest-select.ts), else TCG (software emulation: slow, but it runs on every
 * CPU). The host's `/` is the guest's root over 9p (virtio), mounted by a tiny initramfs: static busybox
 * and the virtio/9p modules, built once per kernel into the guest cache folder. `cache=loose` because the
 * default caching makes every process start three times slower; the guest only reads what the host does
 * not change during a run, and writes results the host reads after power-off.
 */

export const QEMU_PACKAGES = [
  "qemu-system-x86",
  "linux-image-amd64",
  "busybox-static",
  "cpio",
  "kmod",
] as const;
const INITRAMFS_MODULES = ["virtio_pci", "9pnet_virtio", "9p"];
const MOUNT_OPTIONS = "trans=virtio,version=9p2000.L,msize=524288,cache=loose";

/** The guest cache folder (initramfs images): `node_modules/.cache/lvsq-guest` of this repository. */
export function guestCacheDir(): string {
  const { env } = process;
  if (env.LVSQ_GUEST_CACHE) return env.LVSQ_GUEST_CACHE;
  // Walk up: this module also runs bundled from node_modules/.cache/<name>/ (npm run demo, npm run bench).
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    const manifest = join(dir, "package.json");
    if (existsSync(manifest) && "workspaces" in JSON.parse(readFileSync(manifest, "utf8"))) break;
    const parent = dirname(dir);
    if (parent === dir) {
      dir = process.cwd();
      break;
    }
    dir = parent;
  }
  return join(dir, "node_modules/.cache/lvsq-guest");
}

function findQemu(): string | undefined {
  return ["/usr/bin/qemu-system-x86_64", "/usr/local/bin/qemu-system-x86_64"].find((p) => existsSync(p));
}

/** The newest installed kernel whose modules include IPVS. */
function findKernel(): { version: string; image: string } | undefined {
  const versions = existsSync("/boot")
    ? readdirSync("/boot")
        .filter((f) => f.startsWith("vmlinuz-"))
        .map((f) => f.slice("vmlinuz-".length))
    : [];
  const usable = versions.filter(
    (v) =>
      existsSync(`/lib/modules/${v}/kernel/net/netfilter/ipvs`) &&
      existsSync(`/lib/modules/${v}/modules.dep`),
  );
  const version = usable.sort((a, b) => a.localeCompare(b, undefined, { numeric: true })).at(-1);
  return version === undefined ? undefined : { version, image: `/boot/vmlinuz-${version}` };
}

function hasStaticBusybox(): boolean {
  // dpkg-query's own ${Status} field syntax, not a template.
  const format = "-f=$" + "{Status}";
  const query = spawnSync("dpkg-query", ["-W", format, "busybox-static"], { encoding: "utf8" });
  return query.status === 0 && query.stdout.includes("install ok installed") && existsSync("/bin/busybox");
}

/** What QEMU needs that is not installed (empty when it can boot). */
export function qemuMissing(): string[] {
  const missing: string[] = [];
  if (findQemu() === undefined) missing.push("qemu-system-x86");
  if (findKernel() === undefined) missing.push("linux-image-amd64");
  if (!hasStaticBusybox()) missing.push("busybox-static");
  if (!existsSync("/usr/bin/cpio")) missing.push("cpio");
  return missing;
}

/** The QEMU backend with `accel`, or why it cannot boot here. Builds the initramfs if it is not cached. */
export async function qemuBackend(accel: "kvm" | "tcg"): Promise<GuestBackend | string> {
  const missing = qemuMissing();
  const qemu = findQemu();
  const kernel = findKernel();
  if (missing.length > 0 || qemu === undefined || kernel === undefined) {
    return `QEMU cannot boot: missing ${missing.join(", ")} (apt-get install -y ${QEMU_PACKAGES.join(" ")})`;
  }
  const initrd = await ensureInitramfs(kernel.version);
  const cpus = Math.min(2, availableParallelism());
  return {
    name: "qemu",
    accel,
    kernel: kernel.version,
    label: `QEMU (${accel.toUpperCase()}), Linux ${kernel.version}`,
    modulesDir: `/lib/modules/${kernel.version}`,
    slackS: 7,
    async prepare() {},
    // The host's /lib/modules is the guest's: plain modprobe finds them.
    modprobe: () => "modprobe",
    argv: (_workDir, initPath, memMb) => [
      qemu,
      ...(accel === "kvm"
        ? ["-accel", "kvm", "-cpu", "host"]
        : ["-accel", "tcg,thread=multi", "-cpu", "max"]),
      ...["-m", `${memMb}M`, "-smp", String(cpus)],
      ...["-kernel", kernel.image, "-initrd", initrd],
      ...["-append", `console=ttyS0 quiet panic=-1 lvsq_init=${initPath}`],
      ...["-nographic", "-no-reboot", "-nic", "none"],
      ...[
        "-virtfs",
        "local,path=/,mount_tag=hostroot,security_model=passthrough,multidevs=remap,id=hostroot",
      ],
    ],
  };
}

const INITRAMFS_INIT = `#!/bin/busybox sh
/bin/busybox --install -s /bin
export PATH=/bin
mount -t proc proc /proc
mount -t sysfs sys /sys
mount -t devtmpfs dev /dev
for m in /lib/lvsq/*.ko; do insmod "$m" || echo "LVSQ-INITRAMFS insmod $m failed"; done
target=$(sed -n 's/.*lvsq_init=\\([^ ]*\\).*/\\1/p' /proc/cmdline)
mkdir -p /newroot
if ! mount -t 9p -o ${MOUNT_OPTIONS} hostroot /newroot; then
  echo "LVSQ-INITRAMFS cannot mount the host root over 9p"
  poweroff -f
fi
mount --move /dev /newroot/dev
umount /sys /proc
exec switch_root /newroot "$target"
`;

/** The virtio/9p modules the initramfs loads, in `modprobe --show-depends` order, each once. */
function initramfsModules(version: string): string[] {
  const shown = spawnSync("modprobe", ["-a", "-S", version, "--show-depends", ...INITRAMFS_MODULES], {
    encoding: "utf8",
  });
  if (shown.status !== 0) throw new Error(`modprobe --show-depends failed: ${shown.stderr.trim()}`);
  const paths = shown.stdout
    .split("\n")
    .map((line) => /^insmod (\S+)/.exec(line)?.[1])
    .filter((p): p is string => p !== undefined);
  return [...new Set(paths)];
}

/** Builds (once per kernel, busybox and init text) the gzipped newc initramfs; returns its path. */
export async function ensureInitramfs(version: string): Promise<string> {
  const modules = initramfsModules(version);
  const busybox = statSync("/bin/busybox");
  const key = createHash("sha256")
    .update(JSON.stringify([version, busybox.size, busybox.mtimeMs, modules, INITRAMFS_INIT]))
    .digest("hex")
    .slice(0, 12);
  const dir = guestCacheDir();
  const image = join(dir, `initramfs-${version}-${key}.cpio.gz`);
  if (existsSync(image)) return image;

  await mkdir(dir, { recursive: true });
  const stage = await mkdtemp(join(tmpdir(), "lvsq-initramfs-"));
  try {
    for (const sub of ["bin", "lib/lvsq", "proc", "sys", "dev", "newroot"]) {
      await mkdir(join(stage, sub), { recursive: true });
    }
    await copyFile("/bin/busybox", join(stage, "bin/busybox"));
    await chmod(join(stage, "bin/busybox"), 0o755);
    for (const [i, path] of modules.entries()) {
      const name = `${String(i).padStart(2, "0")}-${path.split("/").at(-1)}`;
      await writeModule(path, join(stage, "lib/lvsq", name.replace(/\.(xz|zst|gz)$/, "")));
    }
    await writeFile(join(stage, "init"), INITRAMFS_INIT);
    await chmod(join(stage, "init"), 0o755);
    // The kernel opens /dev/console for init before devtmpfs is mounted (a root-only mknod; harmless without).
    spawnSync("mknod", ["-m", "600", join(stage, "dev/console"), "c", "5", "1"]);
    const cpio = spawnSync("sh", ["-c", "find . | cpio -o -H newc --quiet"], {
      cwd: stage,
      maxBuffer: 256 * 1024 * 1024,
    });
    if (cpio.status !== 0) throw new Error(`cpio failed: ${cpio.stderr.toString().trim()}`);
    const partial = `${image}.${process.pid}.tmp`;
    await writeFile(partial, gzipSync(cpio.stdout, { level: 1 }));
    await rename(partial, image); // atomic: a concurrent run sees no half-written image
    return image;
  } finally {
    await rm(stage, { recursive: true, force: true });
  }
}

/** Copies a module, decompressing .ko.xz / .ko.zst / .ko.gz (busybox insmod takes plain .ko only). */
async function writeModule(source: string, target: string): Promise<void> {
  const tool = source.endsWith(".xz")
    ? "xz"
    : source.endsWith(".zst")
      ? "zstd"
      : source.endsWith(".gz")
        ? "gzip"
        : undefined;
  if (tool === undefined) return copyFile(source, target);
  const out = spawnSync(tool, ["-dc", source], { maxBuffer: 64 * 1024 * 1024 });
  if (out.status !== 0) throw new Error(`${tool} -dc ${source} failed: ${out.stderr.toString().trim()}`);
  await writeFile(target, out.stdout);
}
