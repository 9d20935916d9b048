// `vexil lint` on a flag file with an `experiment` block, through the real bin.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

const root = resolve(import.meta.dirname, '../../..');
const bin = join(root, 'packages/cli/bin/vexil.js');

describe('vexil lint: the experiment block', () => {
  it('passes a valid block and reports each mistake with file, line, flag and field', () => {
    const dir = mkdtempSync(join(tmpdir(), 'vexil-experiment-lint-'));
    try {
      const good = join(dir, 'good.yaml');
      writeFileSync(good, `checkout:\n  variations: { a: 1, b: 2 }\n  defaultRule: { percentage: { a: 50, b: 50 } }\n  experiment:\n    control: a\n    metrics: [{ event: purchase, type: binomial }]\n`);
      const ok = spawnSync(process.execPath, [bin, 'lint', good], { encoding: 'utf8' });
      assert.equal(ok.status, 0, ok.stdout + ok.stderr);
      const bad = join(dir, 'bad.yaml');
      writeFileSync(bad, `checkout:\n  variations: { a: 1, b: 2 }\n  defaultRule: { percentage: { a: 50, b: 50 } }\n  experiment:\n    control: c\n    attributionWindow: soon\n    metrics: [{ event: purchase, type: ratio }]\n`);
      const result = spawnSync(process.execPath, [bin, 'lint', bad], { encoding: 'utf8' });
      assert.equal(result.status, 1);
      const out = result.stdout + result.stderr;
      assert.match(out, /bad\.yaml:5:\d+ checkout experiment\.control: unknown variation "c"/);
      assert.match(out, /bad\.yaml:6:\d+ checkout experiment\.attributionWindow: "soon" is not a duration/);
      assert.match(out, /bad\.yaml:7:\d+ checkout experiment\.metrics\[0\]\.denominator: missing: a ratio metric needs the denominator event/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
