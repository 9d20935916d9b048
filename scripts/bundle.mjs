// Bundles the entry points that must start fast into single ES modules (run by `npm run build`, after tsc).
// Node loads each ES module file separately (resolve, read, compile): @vexil/core/json as 27 modules takes ~15-20 ms to
// import on this machine, as one bundle ~3 ms. Code that only some inputs need (YAML/TOML parsers, JsonLogic) stays in
// chunks loaded by dynamic import; npm dependencies stay external (resolved from node_modules as usual).
import { rmSync } from 'node:fs';
import { build } from 'esbuild';

const bundles = [
  { entryPoints: ['packages/core/dist/json.js'], outdir: 'packages/core/dist/bundle', platform: 'neutral' },
  { entryPoints: ['packages/openfeature/dist/index.js', 'packages/openfeature/dist/client-entry.js'], outdir: 'packages/openfeature/dist/bundle', platform: 'node' },
];

for (const { entryPoints, outdir, platform } of bundles) {
  rmSync(outdir, { recursive: true, force: true }); // chunk names carry a hash: no stale chunk left behind
  await build({
    entryPoints,
    outdir,
    bundle: true,
    splitting: true,
    format: 'esm',
    platform,
    target: 'es2022',
    packages: 'external',
    logLevel: 'warning',
  });
}
