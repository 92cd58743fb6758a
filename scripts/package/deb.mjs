#!/usr/bin/env node
// `npm run package`: builds dist/lvsq_<version>_amd64.deb with dpkg-deb, after `turbo run build`.
//   /usr/bin/lvsq                      the CLI as one executable with its own Node runtime (sea.mjs)
//   /usr/lib/systemd/system/lvsq-*     the hardened units (deploy/systemd)
//   /etc/lvsq/fleet.yaml               the example fleet config, a conffile (an edited copy survives upgrades)
//   /etc/default/lvsq                  unit settings (extra flags per agent kind), a conffile
//   /usr/share/doc/lvsq/               README, operations / configuration / status docs, examples, licenses
// Maintainer scripts (deploy/debian): a `lvsq` system user; an upgrade restarts running lvsq units. Depends
// are what dpkg-shlibdeps finds the executable needs, plus adduser; ipvsadm and nats-server are Recommends.
import { spawnSync } from "node:child_process";
import {
  chmodSync,
  copyFileSync,
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { gzipSync } from "node:zlib";
import { buildSea, NETLINK_ADDON } from "./sea.mjs";

const root = join(dirname(fileURLToPath(import.meta.url)), "../..");
const say = (text) => process.stderr.write(`[package] ${text}\n`);
const started = Date.now();

function run(command, args, options = {}) {
  const result = spawnSync(command, args, { encoding: "utf8", ...options });
  if (result.error?.code === "ENOENT")
    throw new Error(`${command} not found: ${options.hint ?? "install it"}`);
  if (result.error) throw new Error(`${command}: ${result.error.message}`);
  if (result.status !== 0)
    throw new Error(`${command} ${args.join(" ")} exited ${result.status}: ${result.stderr}`);
  return result.stdout;
}

const version = JSON.parse(readFileSync(join(root, "package.json"), "utf8")).version;
const out = join(root, "dist");
const work = join(out, "package");
const tree = join(work, "root");
rmSync(work, { recursive: true, force: true });
mkdirSync(tree, { recursive: true });

say(`building the single executable (Node ${process.versions.node})`);
const { executable, packages } = await buildSea(root, work);
const reported = run(executable, ["--version"]).trim();
if (reported !== version) throw new Error(`the executable says ${reported}, package.json says ${version}`);

const put = (from, to, mode = 0o644) => {
  const target = join(tree, to);
  mkdirSync(dirname(target), { recursive: true });
  copyFileSync(from, target);
  chmodSync(target, mode);
};
const write = (to, text, mode = 0o644) => {
  const target = join(tree, to);
  mkdirSync(dirname(target), { recursive: true });
  writeFileSync(target, text);
  chmodSync(target, mode);
};

put(executable, "usr/bin/lvsq", 0o755);
// The netlink driver's socket binding, beside the executable (see sea.mjs).
put(join(root, "node_modules/netlink/prebuilds/linux-x64/node.napi.node"), NETLINK_ADDON.slice(1));
for (const unit of readdirSync(join(root, "deploy/systemd"))) {
  put(join(root, "deploy/systemd", unit), `usr/lib/systemd/system/${unit}`);
}
put(join(root, "deploy/fleet.example.yaml"), "etc/lvsq/fleet.yaml");
put(join(root, "deploy/debian/default"), "etc/default/lvsq");
const doc = "usr/share/doc/lvsq";
put(join(root, "README.md"), `${doc}/README.md`);
for (const page of [
  "operations.md",
  "configuration.md",
  "status.md",
  "pairs.md",
  "decisions.md",
  "checks.md",
]) {
  put(join(root, "docs", page), `${doc}/${page}`);
}
put(join(root, "deploy/fleet.example.yaml"), `${doc}/examples/fleet.yaml`);
put(join(root, "docs/examples/seed.yaml"), `${doc}/examples/seed.yaml`);
put(join(root, "deploy/nats/nats-server.conf"), `${doc}/examples/nats-server.conf`);
write(
  `${doc}/copyright`,
  [
    "Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/",
    "Upstream-Name: lvsq",
    "",
    "Files: *",
    "License: Apache-2.0",
    " On Debian systems the full text is in /usr/share/common-licenses/Apache-2.0.",
    "",
    "Files: usr/bin/lvsq",
    `Comment: carries the Node.js ${process.versions.node} runtime (license: node-LICENSE, beside this file) and`,
    " these npm packages, bundled: third-party.txt, beside this file.",
    "",
  ].join("\n"),
);
const nodeLicense = join(dirname(process.execPath), "../share/doc/nodejs/LICENSE");
if (!existsSync(nodeLicense))
  throw new Error(`${nodeLicense} is missing: the package must carry Node's license`);
put(nodeLicense, `${doc}/node-LICENSE`);
write(
  `${doc}/third-party.txt`,
  `${packages.map((p) => `${p.name} ${p.version}  ${p.license}`).join("\n")}\n`,
);
write(
  `${doc}/changelog.Debian.gz`,
  gzipSync(
    `lvsq (${version}) unstable; urgency=medium\n\n  * Built from the lvsq repository by npm run package.\n\n -- lvsq maintainers <lvsq@invalid>  ${new Date().toUTCString().replace("GMT", "+0000")}\n`,
  ),
);

// DEBIAN/: control, conffiles, maintainer scripts
for (const script of ["postinst", "prerm", "postrm"])
  put(join(root, "deploy/debian", script), `DEBIAN/${script}`, 0o755);
write("DEBIAN/conffiles", "/etc/lvsq/fleet.yaml\n/etc/default/lvsq\n");
mkdirSync(join(work, "shlibs/debian"), { recursive: true });
writeFileSync(join(work, "shlibs/debian/control"), "Source: lvsq\n\nPackage: lvsq\nArchitecture: amd64\n");
const shlibs = run("dpkg-shlibdeps", ["-O", "-e", join(tree, "usr/bin/lvsq")], {
  cwd: join(work, "shlibs"),
  hint: "apt-get install -y dpkg-dev",
});
const libraries = /shlibs:Depends=(.*)/.exec(shlibs)?.[1]?.trim();
if (!libraries) throw new Error(`dpkg-shlibdeps said nothing usable: ${shlibs}`);
const installedKb = Math.ceil(sizeOf(tree) / 1024);
write(
  "DEBIAN/control",
  [
    "Package: lvsq",
    `Version: ${version}`,
    "Architecture: amd64",
    "Maintainer: lvsq maintainers <lvsq@invalid>",
    `Installed-Size: ${installedKb}`,
    `Depends: adduser, ${libraries}`,
    "Recommends: ipvsadm, nats-server",
    "Section: net",
    "Priority: optional",
    "Description: quorum-voted health checking for Linux Virtual Server (LVS/IPVS)",
    " Probe agents on several sites check real servers and publish health votes over NATS;",
    " director agents change their node's IPVS table only on quorum, and director pairs",
    " share one decision stream. `lvsq run` replaces the director shell loop on a single",
    " node, with no NATS. The lvsq executable carries its own Node.js runtime.",
    "",
  ].join("\n"),
);

const deb = join(out, `lvsq_${version}_amd64.deb`);
// xz at level 1: within 15 % of level 6's size at a twentieth of its time (about 5 s against 2 min for the
// 90 MB executable on this 2-core machine), so the install test can build the real package every run.
run("dpkg-deb", ["--root-owner-group", "-Zxz", "-z1", "--build", tree, deb], {
  hint: "apt-get install -y dpkg",
});
rmSync(work, { recursive: true, force: true }); // the staging tree and a 90 MB node copy
const seconds = ((Date.now() - started) / 1000).toFixed(1);
say(
  `${deb}: ${(statSync(deb).size / 1e6).toFixed(1)} MB, installs ${(installedKb / 1024).toFixed(0)} MiB, built in ${seconds} s`,
);
process.stdout.write(`${deb}\n`);

function sizeOf(dir) {
  let total = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) total += entry.name === "DEBIAN" ? 0 : sizeOf(path);
    else total += statSync(path).size;
  }
  return total;
}
