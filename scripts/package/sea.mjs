// Builds /usr/bin/lvsq for the Debian package: a Node single executable application (SEA). The package carries
// its own runtime because Debian 12's nodejs (18.x) is older than lvsq needs (>= 20.19); see docs/operations.md.
//  1. one minified CommonJS bundle of the CLI (Node 20's SEA runs one CommonJS script; everything is bundled,
//     pino and pino-pretty included, because a SEA cannot load files from node_modules). The commands'
//     code, which the CLI imports lazily, stays in this one script: esbuild wraps each imported module so
//     it runs only when its command does, and `lvsq --version` runs commander alone;
//  2. the SEA blob (`node --experimental-sea-config`) with V8's code cache and the status page's files as
//     assets (`sea.getAsset("web/index.html")`);
//  3. a stripped copy of the running node binary with the blob injected (postject).
// The netlink driver's N-API socket cannot live inside the executable (a SEA loads no file by its own
// require): the package installs it as /usr/lib/lvsq/netlink.node (NETLINK_ADDON) and the bundle loads it
// from there, through a require made for a path on disk.
import { spawnSync } from "node:child_process";
import { chmodSync, copyFileSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { build } from "esbuild";
import { inject } from "postject";

/** Node's documented sentinel: postject flips it so the binary knows a blob is inside. */
const FUSE = "NODE_SEA_FUSE_fce680ab2cc467b6e072b8b5df1996b2";

/** Where the package puts the netlink package's prebuilt binding (LVSQ_NETLINK_ADDON overrides it). */
export const NETLINK_ADDON = "/usr/lib/lvsq/netlink.node";

/** The netlink package loads its binding with node-gyp-build from its own folder: point it at the file. */
const netlinkAddon = {
  name: "netlink-addon",
  setup(build) {
    build.onLoad({ filter: /netlink[\\/]dist[\\/]raw\.js$/ }, (args) => {
      const source = readFileSync(args.path, "utf8");
      const loader = `require("node:module").createRequire(process.execPath)(process.env.LVSQ_NETLINK_ADDON || ${JSON.stringify(NETLINK_ADDON)})`;
      const patched = source.replace("require('node-gyp-build')(__dirname + '/..')", loader);
      if (patched === source)
        throw new Error(`${args.path}: the netlink package no longer loads its binding as expected`);
      return { contents: patched, loader: "js" };
    });
  },
};

const ENTRY = `
const { usePrettyInProcess } = require("@lvsq/runtime");
usePrettyInProcess(require("pino-pretty"));
const { runCli } = require("@lvsq/cli");
runCli(process.argv.slice(2)).then((code) => { process.exitCode = code; });
`;

function run(command, args, options = {}) {
  const result = spawnSync(command, args, { encoding: "utf8", ...options });
  if (result.error) throw new Error(`${command}: ${result.error.message}`);
  if (result.status !== 0)
    throw new Error(`${command} ${args.join(" ")} exited ${result.status}: ${result.stderr}`);
  return result.stdout;
}

/**
 * Writes `<work>/lvsq` (the executable) and returns it with the npm packages bundled into it (for the
 * third-party notice).
 */
export async function buildSea(root, work) {
  const [major, minor] = process.versions.node.split(".").map(Number);
  if (major < 20 || (major === 20 && minor < 19))
    throw new Error(`Node ${process.versions.node}: need >= 20.19`);
  if (!readFileSync(process.execPath).includes(FUSE)) {
    throw new Error(`${process.execPath} was built without single executable support (no ${FUSE})`);
  }
  const bundle = join(work, "lvsq.cjs");
  const result = await build({
    stdin: {
      contents: ENTRY,
      resolveDir: join(root, "packages/cli"),
      loader: "js",
      sourcefile: "sea-entry.js",
    },
    outfile: bundle,
    bundle: true,
    platform: "node",
    format: "cjs",
    target: "node20",
    minify: true,
    legalComments: "none",
    metafile: true,
    logLevel: "error",
    plugins: [netlinkAddon],
  });
  const packages = bundledPackages(root, Object.keys(result.metafile.inputs));

  const web = join(root, "packages/status/web");
  const assets = Object.fromEntries(readdirSync(web).map((file) => [`web/${file}`, join(web, file)]));
  const blob = join(work, "lvsq.blob");
  const seaConfig = join(work, "sea-config.json");
  writeFileSync(
    seaConfig,
    JSON.stringify({
      main: bundle,
      output: blob,
      disableExperimentalSEAWarning: true,
      useCodeCache: true,
      assets,
    }),
  );
  run(process.execPath, ["--experimental-sea-config", seaConfig]);

  const executable = join(work, "lvsq");
  copyFileSync(process.execPath, executable);
  chmodSync(executable, 0o755);
  // The debug symbols are most of node's size here; the blob goes in after stripping.
  run("strip", ["--strip-all", executable]);
  // postject's ELF reader (LIEF) warns "Can't find string offset for section name" about the stripped
  // binary's notes on stderr; harmless: the executable is run and checked right after.
  await inject(executable, "NODE_SEA_BLOB", readFileSync(blob), { sentinelFuse: FUSE });
  return { executable, packages };
}

/** npm packages (name, version, license) that esbuild put into the bundle, from its metafile inputs. */
function bundledPackages(root, inputs) {
  const found = new Map();
  for (const input of inputs) {
    const match = /node_modules\/((?:@[^/]+\/)?[^/]+)\//.exec(input);
    if (!match) continue;
    const dir = input.slice(0, match.index + match[0].length);
    if (found.has(dir)) continue;
    const manifest = JSON.parse(readFileSync(join(root, dir, "package.json"), "utf8"));
    found.set(dir, {
      name: manifest.name,
      version: manifest.version,
      license: manifest.license ?? "see package",
    });
  }
  return [...found.values()].sort(
    (a, b) => a.name.localeCompare(b.name) || a.version.localeCompare(b.version),
  );
}
