// Bundles the `lvsq` binary after `tsc -b` built every package's dist/: resolving and reading hundreds of
// module files is most of a process start (about 0.4 s on a host, 7 s in a QEMU/TCG test guest, against
// 0.2 s and 2.5 s bundled). One file per entry point:
//   dist/lvsq.mjs            commander and every command's options and help (src/commands/), nothing else:
//                            `lvsq --version` and `--help` load none of zod, yaml, NATS, undici or pino;
//   dist/lvsq-<command>.mjs  one command's implementation (src/actions/<command>.ts) with everything it uses,
//                            imported by the entry when that command runs.
// Each command is bundled on its own (not as shared chunks) so esbuild tree-shakes it alone: `lvsq run`
// carries no NATS client, `lvsq director` no HTTP client. dist/lvsq.meta.json (esbuild's metafiles) lets a
// test check that. pino stays outside: its transports (pino-pretty) run in a worker that loads files by
// path; so does netlink, whose native binding is loaded from its own folder. The status page's files are
// copied to dist/web, where @lvsq/status looks when it runs bundled.
import { cpSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { basename, dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { build } from "esbuild";

const cli = join(dirname(fileURLToPath(import.meta.url)), "..");
const dist = join(cli, "dist");
const commands = readdirSync(join(dist, "actions"))
  .filter((file) => file.endsWith(".js"))
  .map((file) => basename(file, ".js"));
// A command that was renamed or removed must not leave its old bundle behind.
for (const file of readdirSync(dist)) if (/^lvsq-[a-z-]+\.mjs$/.test(file)) rmSync(join(dist, file));
rmSync(join(dist, "chunks"), { recursive: true, force: true });

const common = {
  bundle: true,
  platform: "node",
  format: "esm",
  target: "node20",
  external: ["pino", "pino-pretty", "netlink", "netlink/*"],
  metafile: true,
  logLevel: "warning",
  // Some dependencies are CommonJS inside; give each ESM bundle a require for them.
  banner: {
    js: "import { createRequire as __lvsqRequire } from 'node:module'; const require = __lvsqRequire(import.meta.url);",
  },
};

/** In the entry, a command's `import("../actions/<command>.js")` becomes an import of its own bundle. */
const commandBundles = {
  name: "command-bundles",
  setup(build) {
    build.onResolve({ filter: /^\.\.\/actions\/[a-z-]+\.js$/ }, (args) => ({
      path: `./lvsq-${basename(args.path, ".js")}.mjs`,
      external: true,
    }));
  },
};

const [entry, actions] = await Promise.all([
  build({
    ...common,
    entryPoints: [join(dist, "main.js")],
    outfile: join(dist, "lvsq.mjs"),
    plugins: [commandBundles],
  }),
  build({
    ...common,
    entryPoints: Object.fromEntries(commands.map((c) => [`lvsq-${c}`, join(dist, "actions", `${c}.js`)])),
    outdir: dist,
    outExtension: { ".js": ".mjs" },
  }),
]);
writeFileSync(
  join(dist, "lvsq.meta.json"),
  JSON.stringify({
    inputs: { ...entry.metafile.inputs, ...actions.metafile.inputs },
    outputs: { ...entry.metafile.outputs, ...actions.metafile.outputs },
  }),
);
cpSync(join(cli, "../status/web"), join(dist, "web"), { recursive: true });
