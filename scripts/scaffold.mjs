// One-off scaffolder kept for adding packages consistently: node scripts/scaffold.mjs name dep1 dep2 ...
import { mkdirSync, writeFileSync, existsSync } from "node:fs";
const [name, ...deps] = process.argv.slice(2);
const dir = `packages/${name}`;
mkdirSync(`${dir}/src`, { recursive: true });
const internal = deps.filter((d) => d.startsWith("@lvsq/"));
const external = Object.fromEntries(
  deps
    .filter((d) => !d.startsWith("@lvsq/"))
    .map((d) => d.split("="))
    .map(([n, v]) => [n, v]),
);
const pkg = {
  name: `@lvsq/${name}`,
  version: "0.1.0",
  private: true,
  type: "module",
  exports: { ".": { source: "./src/index.ts", types: "./dist/index.d.ts", default: "./dist/index.js" } },
  scripts: { build: "tsc -b", typecheck: "tsc -b", lint: "biome lint src" },
  dependencies: { ...Object.fromEntries(internal.map((d) => [d, "0.1.0"])), ...external },
};
writeFileSync(`${dir}/package.json`, JSON.stringify(pkg, null, 2) + "\n");
writeFileSync(
  `${dir}/tsconfig.json`,
  JSON.stringify(
    {
      extends: "../../tsconfig.base.json",
      compilerOptions: { rootDir: "src", outDir: "dist", tsBuildInfoFile: "dist/tsconfig.tsbuildinfo" },
      include: ["src"],
      references: internal.map((d) => ({ path: `../${d.slice(6)}` })),
    },
    null,
    2,
  ) + "\n",
);
if (!existsSync(`${dir}/src/index.ts`)) writeFileSync(`${dir}/src/index.ts`, "export {};\n");
