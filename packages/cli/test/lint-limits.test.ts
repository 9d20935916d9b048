// Issue 9, item 8: `vexil lint` passed a flag nested ~4,000 levels deep, which then broke every bulk route.
import { it } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

const root = resolve(import.meta.dirname, '../../..');
const bin = join(root, 'packages/cli/src/bin/vexil.ts');

it('vexil lint reports a flag nested deeper than the limit, with file and line, and exits 1', () => {
  const dir = mkdtempSync(join(tmpdir(), 'vexil-lint-limits-'));
  try {
    const file = join(dir, 'poison.json');
    writeFileSync(file, `{\n  "poison": {"variations": {"a": 1}, "defaultRule": {"variation": "a"}, "metadata": ${'{"a":'.repeat(4000)}1${'}'.repeat(4000)}}\n}\n`);
    const result = spawnSync(process.execPath, ['--conditions=source', '--import', 'tsx', bin, 'lint', file], { cwd: root, encoding: 'utf8' });
    assert.equal(result.status, 1, result.stdout + result.stderr);
    assert.equal(result.stdout.trim(), `${file}:2:3 poison: the flag nests deeper than 32 levels (the limit on flag depth)`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
