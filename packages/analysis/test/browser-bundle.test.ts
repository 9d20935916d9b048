// The package must run in a browser (the results page) and at the edge: bundling it for the browser platform fails on
// any Node built-in it would pull in.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { build } from 'esbuild';
import { fileURLToPath } from 'node:url';

describe('@vexil/analysis in the browser', () => {
  it('bundles for the browser with no Node built-ins, and the bundle computes results', async () => {
    const result = await build({
      entryPoints: [fileURLToPath(new URL('../src/index.ts', import.meta.url))],
      bundle: true,
      platform: 'browser',
      format: 'esm',
      write: false,
      logLevel: 'silent',
    });
    assert.equal(result.errors.length, 0);
    const code = result.outputFiles[0]!.text;
    assert.doesNotMatch(code, /require\(["'](node:)?(fs|path|os|child_process|net|http|crypto)["']\)/);
    const bundled = await import(`data:text/javascript;base64,${Buffer.from(code).toString('base64')}`);
    const r = bundled.frequentistTest(bundled.proportion(28, 14), bundled.proportion(30, 16));
    assert.ok(Math.abs(r.pValue - 0.8070716832) < 1e-9, String(r.pValue));
  });
});
