// `vexil export` round-trips: its output (the snapshot document, or a GO Feature Flag file with --format) is read by
// `vexil import`, `lint` and `eval`, and gives back the same flags and the same answers.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

const root = resolve(import.meta.dirname, '../../..');
const bin = join(root, 'packages/cli/src/bin/vexil.ts');
const examples = join(root, 'examples/flags.goff.yaml');

function vexil(args: string[]) {
  const result = spawnSync(process.execPath, ['--conditions=source', '--import', 'tsx', bin, ...args], { cwd: root, encoding: 'utf8' });
  return { code: result.status, stdout: result.stdout, stderr: result.stderr };
}

function ok(args: string[]): string {
  const result = vexil(args);
  assert.equal(result.code, 0, `vexil ${args.join(' ')}\n${result.stdout}${result.stderr}`);
  return result.stdout;
}

const CONTEXTS = [
  { targetingKey: 'user-42', email: 'a@example.com' },
  { targetingKey: 'user-7', country: 'fr', beta: true, appVersion: '5.0.0' },
  { targetingKey: 'user-9', plan: 'pro' },
];

/** Every flag's answer for each context (`vexil eval` prints one line per flag; key order inside is not compared). */
function answers(flagsFile: string): unknown[][] {
  return CONTEXTS.map((context) =>
    ok(['eval', '--flags', flagsFile, '--context', JSON.stringify(context), '--now', '2026-12-01T00:00:00Z'])
      .trim()
      .split('\n')
      .map((line) => JSON.parse(line) as unknown),
  );
}

let dir: string;
before(() => {
  dir = mkdtempSync(join(tmpdir(), 'vexil-export-'));
});
after(() => rmSync(dir, { recursive: true, force: true }));

describe('vexil export round-trips through import, lint and eval', { timeout: 600_000 }, () => {
  it('for the snapshot document and for yaml, json and toml flag files', () => {
    const source = `pglite:${join(dir, 'source')}`;
    ok(['import', examples, '--store', source]);
    const original = JSON.parse(ok(['export', '--store', source])) as { hash: string; flags: Record<string, unknown> };
    assert.ok(Object.keys(original.flags).length >= 5);
    const expected = answers(examples);

    for (const format of ['snapshot', 'yaml', 'json', 'toml'] as const) {
      const file = join(dir, `export-${format}.${format === 'snapshot' ? 'json' : format}`);
      ok(['export', '--store', source, '--output', file, ...(format === 'snapshot' ? [] : ['--format', format])]);
      const text = readFileSync(file, 'utf8');
      if (format !== 'snapshot') assert.doesNotMatch(text, /vexil-snapshot/, 'a plain GO Feature Flag file');

      const lint = vexil(['lint', file]);
      assert.equal(lint.code, 0, `${format}: ${lint.stdout}${lint.stderr}`);
      assert.match(lint.stderr, new RegExp(`${Object.keys(original.flags).length} flags: 0 errors`), format);

      assert.deepEqual(answers(file), expected, `${format}: eval answers as the original file does`);

      const copy = `pglite:${join(dir, `copy-${format}`)}`;
      ok(['import', file, '--store', copy]);
      const copied = JSON.parse(ok(['export', '--store', copy])) as { hash: string };
      assert.equal(copied.hash, original.hash, `${format}: the imported copy holds exactly the same flags and segments`);
    }
  });

  it('--goff writes plain GO Feature Flag: segments inside the queries, no $segments, no offVariation, same answers', () => {
    const source = `pglite:${join(dir, 'source')}`;
    const definitions = (JSON.parse(ok(['export', '--store', source])) as { flags: Record<string, { flag: { offVariation?: string } }> }).flags;
    const withOffVariation = new Set(Object.keys(definitions).filter((key) => definitions[key]!.flag.offVariation !== undefined));
    assert.ok(withOffVariation.size > 0, 'the examples use offVariation');
    const expected = answers(examples);
    for (const format of ['yaml', 'json', 'toml'] as const) {
      const file = join(dir, `goff.${format}`);
      ok(['export', '--store', source, '--format', format, '--goff', '--output', file]);
      const text = readFileSync(file, 'utf8');
      assert.doesNotMatch(text, /\$segments|offVariation"?\s*[:=]|@staff|@beta-testers/, format);
      assert.equal(vexil(['lint', file]).code, 0, format);
      const got = answers(file);
      got.forEach((lines, index) => {
        const keep = (line: unknown) => !withOffVariation.has((line as { key: string }).key);
        assert.deepEqual(lines.filter(keep), expected[index]!.filter(keep), `${format}: same answers, context ${index}`);
        for (const line of lines.filter((each) => !keep(each))) assert.equal((line as { reason: string }).reason, 'DISABLED');
      });
    }
    assert.match(vexil(['export', '--store', source, '--goff']).stderr, /--goff needs --format/);
  });

  it('refuses an unknown format with a one-line error', () => {
    const result = vexil(['export', '--store', `pglite:${join(dir, 'source')}`, '--format', 'xml']);
    assert.equal(result.code, 1);
    assert.match(result.stderr, /unknown format "xml"/);
  });
});

describe('vexil lint on hostile and misleading files', { timeout: 60_000 }, () => {
  it('reports a YAML alias bomb as an error with its line instead of expanding it', () => {
    const bomb = join(root, 'packages/core/test/fixtures/alias-bomb.yaml');
    const result = vexil(['lint', bomb]);
    assert.equal(result.code, 1);
    assert.match(result.stdout, /alias-bomb\.yaml:2:\d+: YAML aliases expand this file to [\d,]+ values, more than the limit/);
  });

  it('warns about a quoted version ordered as text, with the unquoted form (exit 0; --strict exits 1)', () => {
    const file = join(dir, 'quoted.yaml');
    writeFileSync(file, `new-ui:\n  variations: { on: true, off: false }\n  targeting:\n    - query: 'appVersion ge "4.2.0"'\n      variation: on\n  defaultRule: { variation: off }\n`);
    const result = vexil(['lint', file]);
    assert.equal(result.code, 0, result.stdout + result.stderr);
    assert.match(result.stdout, /quoted\.yaml:4:\d+ new-ui targeting\[0\]\.query: warning: .*"4\.2\.0" is quoted, so ge compares text.*write it unquoted: appVersion ge 4\.2\.0/);
    assert.equal(vexil(['lint', '--strict', file]).code, 1);
  });
});
