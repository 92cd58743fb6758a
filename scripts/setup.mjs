#!/usr/bin/env node
// Makes a fresh Debian machine ready for `npm test`, `npm run demo` and `npm run bench`:
//  1. `npm ci` when node_modules is missing or older than package-lock.json (which also builds, via prepare);
//  2. the Debian packages the tests use, with apt-get when running as root, else the exact command to run;
//  3. the guest kernel for the kernel tests: whichever of UML and QEMU boots here, and only its packages;
//  4. a fresh Debian root for the package test (debootstrap, once; cached under node_modules/.cache).
// Only Node built-ins until step 3: steps 1-2 run before node_modules exists.
import { spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const say = (text) => process.stderr.write(`[setup] ${text}\n`);

const [major, minor] = process.versions.node.split(".").map(Number);
if (major < 20 || (major === 20 && minor < 19)) {
  say(`Node ${process.versions.node} is too old: lvsq needs Node >= 20.19`);
  process.exit(1);
}

// 1. node_modules
const lockHash = createHash("sha256")
  .update(readFileSync(join(root, "package-lock.json")))
  .digest("hex");
const stamp = join(root, "node_modules", ".lvsq-lock-hash");
const fresh = existsSync(stamp) && readFileSync(stamp, "utf8") === lockHash;
if (!fresh) {
  say("node_modules missing or stale: npm ci");
  const ci = spawnSync("npm", ["ci", "--no-audit", "--no-fund"], { cwd: root, stdio: "inherit" });
  if (ci.status !== 0) {
    say("npm ci failed");
    process.exit(ci.status ?? 1);
  }
  writeFileSync(stamp, lockHash);
}

// 2. Debian packages the host side uses: binary → package
const wanted = [
  ["nats-server", "nats-server"],
  ["ipvsadm", "ipvsadm"],
  ["modprobe", "kmod"],
  ["ip", "iproute2"],
  ["curl", "curl"],
  ["openssl", "openssl"],
  ["chromium", "chromium"],
  // icmp checks run the system's ping; the import round-trip test runs keepalived in the guest.
  ["ping", "iputils-ping"],
  ["keepalived", "keepalived"],
  // checks through the forwarding path mark their connections with nft (forwarding-path test)
  ["nft", "nftables"],
  // the chaos run starts one director with its wall clock ahead (LD_PRELOAD of libfaketime)
  ["faketime", "faketime"],
  // the Debian package: build it (npm run package) and install it into a fresh root in a container
  ["dpkg-shlibdeps", "dpkg-dev"],
  ["strip", "binutils"],
  ["debootstrap", "debootstrap"],
  ["systemd-nspawn", "systemd-container"],
  ["systemd-analyze", "systemd"],
];
const PATHS = ["/usr/local/sbin", "/usr/local/bin", "/usr/sbin", "/usr/bin", "/sbin", "/bin"];
const has = (binary) => PATHS.some((dir) => existsSync(join(dir, binary)));
let updated = false;
function aptInstall(packages) {
  const command = `apt-get install -y ${packages.join(" ")}`;
  const isRoot = process.getuid?.() === 0;
  if (!isRoot || !existsSync("/usr/bin/apt-get")) {
    say(`missing Debian packages: ${packages.join(", ")}`);
    say(`install them with:  sudo apt-get update && sudo ${command}`);
    process.exit(1);
  }
  say(`installing ${packages.join(" ")} with apt-get`);
  const env = { ...process.env, DEBIAN_FRONTEND: "noninteractive" };
  const update = updated ? { status: 0 } : spawnSync("apt-get", ["update", "-qq"], { stdio: "inherit", env });
  updated = update.status === 0;
  const install =
    update.status === 0
      ? spawnSync("apt-get", ["install", "-y", "-qq", ...packages], { stdio: "inherit", env })
      : update;
  if (install.status !== 0) {
    say(`apt-get failed; run by hand: apt-get update && ${command}`);
    process.exit(1);
  }
}
const missing = [...new Set(wanted.filter(([binary]) => !has(binary)).map(([, pkg]) => pkg))];
if (missing.length > 0) aptInstall(missing);

// 3. The guest kernel with a real IPVS table (test/harness/guest-select.ts): User-Mode Linux where a probe
// boot shows it works, else QEMU (KVM where a probe boot shows it works, else TCG). Only the chosen
// backend's packages are installed; the answer is cached per boot of this host. LVSQ_GUEST=uml|qemu forces.
// import-ts.mjs needs esbuild, which step 1 just installed: a static import would fail before it.
const { importTs } = await import("./import-ts.mjs");
const { selectGuest, selectQemuGuest } = await importTs(root, "test/harness/guest-select.ts", "lvsq-setup");
const guest = await selectGuest({ install: aptInstall, log: (line) => say(`guest ${line}`) });
// Debian's UML kernel has no nf_tables for IPv4: the forwarding-path test boots QEMU beside it.
const qemuToo =
  guest.name === "uml"
    ? await selectQemuGuest({ install: aptInstall, log: (line) => say(`guest ${line}`) })
    : undefined;

// 4. The package test's fresh root: Debian's minimal base plus systemd (to boot it as a container) and adduser
// (the package's one dependency that is not a library). Built in a temp folder and renamed when complete, so
// an interrupted run leaves nothing that looks usable; bounded in time. LVSQ_DEBIAN_MIRROR picks a mirror.
const debianRoot = join(root, "node_modules/.cache/lvsq-debian-root/bookworm");
if (!existsSync(join(debianRoot, ".lvsq-complete"))) {
  // biome-ignore lint/suspicious/noUndeclaredEnvVars: the set-up runs before and outside turbo's tasks
  const mirror = process.env.LVSQ_DEBIAN_MIRROR ?? "http://deb.debian.org/debian";
  const partial = `${debianRoot}.partial`;
  say(`debootstrap of a fresh Debian bookworm root for the package test (${mirror}; about a minute)`);
  rmSync(partial, { recursive: true, force: true });
  rmSync(debianRoot, { recursive: true, force: true });
  mkdirSync(dirname(partial), { recursive: true });
  const made = spawnSync(
    "timeout",
    ["900", "debootstrap", "--variant=minbase", "--include=systemd,adduser", "bookworm", partial, mirror],
    { stdio: ["ignore", "ignore", "inherit"] },
  );
  if (made.status !== 0) {
    rmSync(partial, { recursive: true, force: true });
    say(`debootstrap failed (exit ${made.status}); it needs ${mirror} (LVSQ_DEBIAN_MIRROR sets another)`);
    process.exit(1);
  }
  // the downloaded .debs are debootstrap's leftovers, not part of an installed system
  const archives = join(partial, "var/cache/apt/archives");
  for (const file of readdirSync(archives)) if (file.endsWith(".deb")) rmSync(join(archives, file));
  writeFileSync(
    join(partial, ".lvsq-complete"),
    `debootstrap --variant=minbase --include=systemd,adduser bookworm\n`,
  );
  renameSync(partial, debianRoot);
}
say(`ready (guest: ${guest.label}${qemuToo ? `; for the forwarding pins: ${qemuToo.label}` : ""})`);
