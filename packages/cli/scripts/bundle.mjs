// Bundles the `lvsq` binary after `tsc -b` built every package's dist/: resolving and reading hundreds of
// module files is most of a process start (about 0.4 s on a host, 7 s in a QEMU/TCG test guest, against
// 0.2 s and 2.5 s bundled). The entry, dist/lvsq.mjs, holds commander and every command's options and help
// only; each command's implementation (src/actions/) is a chunk under dist/chunks/ that its action imports
// when it runs, so `lvsq --version` and `--help` parse none of zod, yaml, the NATS client or undici, and an
// agent loads only what it uses. dist/lvsq.meta.json (esbuild's metafile) lets a test check that.
// pino stays outside: its transports (pino-pretty) run in a worker that loads files by path; so does
// netlink, whose native binding is loaded from its own folder. The status page's files are copied to
// dist/web, where @lvsq/status looks when it runs bundled.
import { cpSync, rmSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { build } from "esbuild";

const cli = join(dirname(fileURLToPath(import.meta.url)), "..");
const dist = join(cli, "dist");
// Chunk names carry a content hash: without this, chunks of earlier builds would pile up.
rmSync(join(dist, "chunks"), { recursive: true, force: true });
const result = await build({
  entryPoints: { lvsq: join(dist, "main.js") },
  outdir: dist,
  entryNames: "[name]",
  chunkNames: "chunks/[name]-[hash]",
  outExtension: { ".js": ".mjs" },
  bundle: true,
  splitting: true,
  platform: "node",
  format: "esm",
  target: "node20",
  external: ["pino", "pino-pretty", "netlink", "netlink/*"],
  metafile: true,
  logLevel: "warning",
  // Some dependencies are CommonJS inside; give each ESM chunk a require for them.
  banner: {
    js: "import { createRequire as __lvsqRequire } from 'node:module'; const require = __lvsqRequire(import.meta.url);",
  },
});
writeFileSync(join(dist, "lvsq.meta.json"), JSON.stringify(result.metafile));
cpSync(join(cli, "../status/web"), join(dist, "web"), { recursive: true });
