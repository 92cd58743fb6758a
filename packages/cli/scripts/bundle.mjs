// Bundles the `lvsq` binary into one file, dist/lvsq.mjs, after `tsc -b` built every package's dist/:
// resolving and reading hundreds of module files is most of a process start (about 0.4 s on a host,
// 7 s in a QEMU/TCG test guest, against 0.2 s and 2.5 s bundled). pino stays outside: its transports
// (pino-pretty) run in a worker that loads files by path; so does netlink, whose native binding is loaded
// from its own folder. The status page's files are copied to dist/web,
// where @lvsq/status looks when it runs bundled.
import { cpSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { build } from "esbuild";

const cli = join(dirname(fileURLToPath(import.meta.url)), "..");
await build({
  entryPoints: [join(cli, "dist/main.js")],
  outfile: join(cli, "dist/lvsq.mjs"),
  bundle: true,
  platform: "node",
  format: "esm",
  target: "node20",
  external: ["pino", "pino-pretty", "netlink", "netlink/*"],
  logLevel: "warning",
  // Some dependencies are CommonJS inside; give the ESM bundle a require for them.
  banner: {
    js: "import { createRequire as __lvsqRequire } from 'node:module'; const require = __lvsqRequire(import.meta.url);",
  },
});
cpSync(join(cli, "../status/web"), join(cli, "dist/web"), { recursive: true });
