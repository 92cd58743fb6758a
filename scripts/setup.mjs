#!/usr/bin/env node
// Makes a fresh Debian machine ready for `npm test`, `npm run demo` and `npm run bench`:
//  1. `npm ci` when node_modules is missing or older than package-lock.json (which also builds, via prepare);
//  2. the Debian packages the tests use, with apt-get when running as root, else the exact command to run.
// Only Node built-ins here: this runs before node_modules exists.
import { spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
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

// 2. Debian packages: binary → package
const wanted = [
  ["nats-server", "nats-server"],
  ["ipvsadm", "ipvsadm"],
  ["linux.uml", "user-mode-linux"],
  ["modprobe", "kmod"],
  ["ip", "iproute2"],
  ["curl", "curl"],
  ["openssl", "openssl"],
  ["chromium", "chromium"],
];
const PATHS = ["/usr/local/sbin", "/usr/local/bin", "/usr/sbin", "/usr/bin", "/sbin", "/bin"];
const has = (binary) => PATHS.some((dir) => existsSync(join(dir, binary)));
const missing = [...new Set(wanted.filter(([binary]) => !has(binary)).map(([, pkg]) => pkg))];
if (missing.length > 0) {
  const command = `apt-get install -y ${missing.join(" ")}`;
  const isRoot = process.getuid?.() === 0;
  const hasApt = existsSync("/usr/bin/apt-get");
  if (!isRoot || !hasApt) {
    say(`missing Debian packages: ${missing.join(", ")}`);
    say(`install them with:  sudo apt-get update && sudo ${command}`);
    process.exit(1);
  }
  say(`installing ${missing.join(" ")} with apt-get`);
  const env = { ...process.env, DEBIAN_FRONTEND: "noninteractive" };
  const update = spawnSync("apt-get", ["update", "-qq"], { stdio: "inherit", env });
  const install =
    update.status === 0
      ? spawnSync("apt-get", ["install", "-y", "-qq", ...missing], { stdio: "inherit", env })
      : update;
  if (install.status !== 0) {
    say(`apt-get failed; run by hand: apt-get update && ${command}`);
    process.exit(1);
  }
}
say("ready");
