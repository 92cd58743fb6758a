import { build } from "esbuild";

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
    // Some dependencies are CommonJS inside; give the ESM bundle a require for them.
    banner: {
      js: "import { createRequire as __lvsqRequire } from 'node:module'; const require = __lvsqRequire(import.meta.url);",
    },
  });
  return outFile;
}
