// Browser bundle size: what an app shipping flag evaluation to the browser pays, minified and gzipped (esbuild,
// ES module, browser platform, one file: dynamic imports inlined), for Vexil's light entry (compileFlags for JSON + evaluate), its full entry, and the
// peers' evaluation cores. `npm run bench -- bundle`. Peers are imported by package name only.
import { gzipSync } from 'node:zlib';
import { dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

// Packages resolve from this folder, as the benchmarks' own imports do (peers may live in a bench workspace).
const here = dirname(fileURLToPath(import.meta.url));

const ENTRIES: Array<[string, string]> = [
  ['Vexil `@vexil/core/json`: compileFlags (JSON) + evaluate', `import { compileFlags, evaluate } from '@vexil/core/json'; export { compileFlags, evaluate };`],
  ['Vexil `@vexil/core/json` + loadJsonLogic (the JsonLogic engine bundled in)', `import { compileFlags, evaluate, loadJsonLogic } from '@vexil/core/json'; export { compileFlags, evaluate, loadJsonLogic };`],
  ['Vexil `@vexil/core` (YAML, TOML, JsonLogic included)', `import { compileFlags, evaluate } from '@vexil/core'; export { compileFlags, evaluate };`],
  ['GrowthBook `@growthbook/growthbook` (GrowthBook class)', `export { GrowthBook } from '@growthbook/growthbook';`],
  ['flagd-core `@openfeature/flagd-core` (FlagdCore)', `export { FlagdCore } from '@openfeature/flagd-core';`],
];

export async function run(): Promise<void> {
  const rows: Array<Record<string, string>> = [];
  for (const [name, contents] of ENTRIES) {
    try {
      const result = await build({
        stdin: { contents, resolveDir: here, loader: 'js' },
        bundle: true,
        minify: true,
        format: 'esm',
        platform: 'browser',
        target: 'es2022',
        splitting: false,
        write: false,
        logLevel: 'silent',
      });
      const code = result.outputFiles[0]!.contents;
      rows.push({ bundle: name, 'minified KB': (code.length / 1024).toFixed(1), 'gzipped KB': (gzipSync(code, { level: 9 }).length / 1024).toFixed(1) });
    } catch (error) {
      rows.push({ bundle: name, 'minified KB': `failed: ${(error as Error).message.split('\n')[0]}`, 'gzipped KB': '' });
    }
  }
  console.log('browser bundle, minified ES module (esbuild), gzip -9 (goal for the first row: < 30 KB):');
  console.table(rows);
}

if (import.meta.url === `file://${process.argv[1]}`) await run();
