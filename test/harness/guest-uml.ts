import { existsSync, readdirSync } from "node:fs";
import { mkdir, symlink } from "node:fs/promises";
import { delimiter, join } from "node:path";
import { type GuestBackend, shellQuote } from "./guest-boot.js";

/**
 * The User-Mode Linux backend: Debian's `linux.uml` (a Linux 6.1 kernel that runs as a host process, every
 * guest system call trapped by ptrace) with the host's `/` as its root over hostfs. Boots in about 3 s; a
 * process start inside costs 50-250 ms. It panics at its first process on hosts whose CPU has AMX
 * (`ptrace set fp regs failed, errno = 14`): guest-select.ts finds that out with a probe boot.
 */

export const UML_PACKAGES = ["user-mode-linux", "kmod"] as const;
const MODULES_ROOT = "/usr/lib/uml/modules";

/** Where `linux.uml` is, or undefined. */
export function findLinuxUml(searchPath = process.env.PATH ?? ""): string | undefined {
  const dirs = [...searchPath.split(delimiter), "/usr/bin"].filter((d) => d !== "");
  return dirs.map((dir) => join(dir, "linux.uml")).find((candidate) => existsSync(candidate));
}

/** The UML kernel's module tree (e.g. /usr/lib/uml/modules/6.1.176), or undefined. */
function umlModulesDir(): string | undefined {
  const versions = existsSync(MODULES_ROOT) ? readdirSync(MODULES_ROOT).sort() : [];
  const version = versions.at(-1);
  return version === undefined ? undefined : join(MODULES_ROOT, version);
}

/** The UML backend, or why it is not installed. */
export function umlBackend(): GuestBackend | string {
  const linuxUml = findLinuxUml();
  const modulesDir = umlModulesDir();
  if (linuxUml === undefined || modulesDir === undefined) {
    return `User-Mode Linux is not installed (apt-get install -y ${UML_PACKAGES.join(" ")})`;
  }
  const kernel = modulesDir.split("/").at(-1) as string;
  // UML's modules are not under /lib/modules: init loads them with `modprobe -d <work>/mroot`.
  const moduleRoot = (workDir: string) => join(workDir, "mroot");
  return {
    name: "uml",
    kernel,
    label: `User-Mode Linux, Linux ${kernel}`,
    modulesDir,
    slackS: 5,
    async prepare(workDir) {
      const link = join(moduleRoot(workDir), "lib/modules", kernel);
      await mkdir(join(moduleRoot(workDir), "lib/modules"), { recursive: true });
      if (!existsSync(link)) await symlink(modulesDir, link);
      await mkdir(join(workDir, "uml"), { recursive: true });
    },
    modprobe: (workDir) => `modprobe -d ${shellQuote(moduleRoot(workDir))}`,
    argv: (workDir, initPath, memMb) => [
      linuxUml,
      `mem=${memMb}M`,
      "rootfstype=hostfs",
      "rootflags=/",
      "rw",
      `init=${initPath}`,
      "con=null",
      "con0=null,fd:1",
      `uml_dir=${join(workDir, "uml")}`,
      "quiet",
    ],
  };
}
