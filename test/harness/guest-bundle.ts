import { createRequire } from "node:module";
import { build, type Plugin } from "esbuild";

/**
 * The `netlink` package loads its native binding from its own folder (node-gyp-build(__dirname)), so it
 * cannot be bundled: it stays an import of its absolute path in node_modules, which the guest sees as
 * the host does (the host's root is the guest's).
 */
const nativeExternal: Plugin = {
  name: "native-external",
  setup(build) {
    const require = createRequire(import.meta.url);
    build.onResolve({ filter: /^netlink(\/.*)?$/ }, (args) => ({
      path: require.resolve(args.path),
      external: true,
    }));
  },
};

/**
 * Bundles a TypeScript scenario into one ESM file node 20 can run inside the guest: @lvsq/* resolve to
 * their src/ (the "source" condition, as in vitest), so no build is needed and nothing is stale.
 */
export async function bundleForGuest(entry: string, outFile: string): Promise<string> {
  await build({
    entryPoints: [entry],
    outfile: outFile,
    bundle: true,
    platform: "node",
    format: "esm",
    target: "node20",
    conditions: ["source", "node", "import", "default"],
    sourcemap: "inline",
    logLevel: "error",
    plugins: [nativeExternal],
    // Some dependencies are CommonJS inside; give the ESM bundle a require for them.
    banner: {
      js: "import { createRequire as __lvsqRequire } from 'node:module'; const require = __lvsqRequire(import.meta.url);",
    },
  });
  return outFile;
}
