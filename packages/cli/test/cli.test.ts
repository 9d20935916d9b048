import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

const root = resolve(import.meta.dirname, '../../..');
const bin = join(root, 'packages/cli/src/bin/vexil.ts');
const examples = join(root, 'examples/flags.goff.yaml');

function vexil(args: string[], input?: string) {
  const result = spawnSync(process.execPath, ['--conditions=source', '--import', 'tsx', bin, ...args], {
    cwd: root,
    encoding: 'utf8',
    input,
    maxBuffer: 256 * 1024 * 1024,
  });
  return { code: result.status, stdout: result.stdout, stderr: result.stderr };
}

let dir: string;
before(() => {
  dir = mkdtempSync(join(tmpdir(), 'vexil-cli-'));
});
after(() => rmSync(dir, { recursive: true, force: true }));

describe('vexil lint', () => {
  it('passes the example flags', () => {
    const result = vexil(['lint', examples]);
    assert.equal(result.code, 0, result.stdout + result.stderr);
    assert.equal(result.stdout, '');
    assert.match(result.stderr, /0 errors/);
  });
  it('prints file:line:col flag field: message and exits 1', () => {
    const file = join(dir, 'bad.yaml');
    writeFileSync(file, 'f:\n  variations: { a: 1 }\n  defaultRule: { variation: b }\n');
    const result = vexil(['lint', file]);
    assert.equal(result.code, 1);
    assert.equal(result.stdout.trim(), `${file}:3:18 f defaultRule.variation: unknown variation "b" (the flag has "a")`);
  });
});

describe('vexil eval', () => {
  it('evaluates one flag for one context and prints the contract shape', () => {
    const result = vexil(['eval', '--flags', examples, '--flag', 'new-checkout', '--context', '{"targetingKey":"user-42","email":"a@example.com"}']);
    assert.equal(result.code, 0, result.stderr);
    const out = JSON.parse(result.stdout);
    assert.deepEqual(Object.keys(out), ['key', 'value', 'variant', 'reason', 'flagMetadata']);
    assert.equal(out.key, 'new-checkout');
    assert.equal(out.value, true);
    assert.equal(out.variant, 'enabled');
    assert.equal(out.reason, 'TARGETING_MATCH');
    assert.equal(out.flagMetadata.evaluatedRuleName, 'staff-first');
  });

  it('answers a JSON-lines file line by line, in order, with --now', () => {
    const lines = [
      { flag: 'dark-mode', context: { targetingKey: 'u1', beta: true } },
      { flag: 'missing-flag', context: {} },
      { flag: 'dark-mode', context: { targetingKey: 'u2' } },
    ];
    const file = join(dir, 'requests.jsonl');
    writeFileSync(file, lines.map((l) => JSON.stringify(l)).join('\n') + '\nnot json\n');
    const before = vexil(['eval', '--flags', examples, '--requests', file, '--now', '2026-11-01T00:00:00Z']);
    const after = vexil(['eval', '--flags', examples, '--requests', file, '--now', '2026-12-01T00:00:00Z']);
    const parse = (text: string) => text.trim().split('\n').map((l) => JSON.parse(l));
    const [b, a] = [parse(before.stdout), parse(after.stdout)];
    assert.equal(b.length, 4);
    assert.deepEqual(b.map((r: { value: unknown }) => r.value), [false, null, false, null]);
    assert.deepEqual(a.map((r: { value: unknown }) => r.value), [true, null, false, null]);
    assert.equal(a[1].errorCode, 'FLAG_NOT_FOUND');
    assert.equal(a[3].errorCode, 'PARSE_ERROR');
  });

  it('explains which rule matched and the bucket', () => {
    const result = vexil(['eval', '--flags', examples, '--flag', 'new-checkout', '--context', '{"targetingKey":"user-42","country":"fr"}', '--explain']);
    const out = JSON.parse(result.stdout);
    const split = out.explain.find((s: { step: string }) => s.step === 'split');
    assert.ok(split.bucket >= split.range[0] && split.bucket < split.range[1]);
    assert.equal(out.reason, 'TARGETING_MATCH_SPLIT');
  });

  it('handles 100,000 requests', () => {
    const file = join(dir, 'many.jsonl');
    const body: string[] = [];
    for (let i = 0; i < 100_000; i++) body.push(JSON.stringify({ flag: 'banner-color', context: { targetingKey: `user-${i}` } }));
    writeFileSync(file, body.join('\n') + '\n');
    const result = vexil(['eval', '--flags', examples, '--requests', file, '--now', '2026-12-01T00:00:00Z']);
    assert.equal(result.code, 0, result.stderr);
    const out = result.stdout.trimEnd().split('\n');
    assert.equal(out.length, 100_000);
    const counts: Record<string, number> = {};
    for (const line of out) {
      const variant = JSON.parse(line).variant as string;
      counts[variant] = (counts[variant] ?? 0) + 1;
    }
    for (const [variant, share] of Object.entries({ control: 34, green: 33, orange: 33 })) {
      assert.ok(Math.abs((counts[variant]! / 1000) - share) < 1, `${variant}: ${counts[variant]}`);
    }
  });

  it('fails with one line and a non-zero exit on bad arguments and unreadable files', () => {
    const missing = vexil(['eval', '--flags', join(dir, 'nope.yaml'), '--flag', 'x']);
    assert.notEqual(missing.code, 0);
    assert.equal(missing.stderr.trim().split('\n').length, 1);
    assert.match(missing.stderr, /nope\.yaml: no such file/);
    const badContext = vexil(['eval', '--flags', examples, '--flag', 'x', '--context', '{oops']);
    assert.notEqual(badContext.code, 0);
    assert.match(badContext.stderr, /--context is not valid JSON/);
    const unknown = vexil(['eval', '--bogus']);
    assert.notEqual(unknown.code, 0);
  });

  it('prints help for the program and each command', () => {
    assert.match(vexil(['--help']).stdout, /lint[\s\S]*eval[\s\S]*serve/);
    assert.match(vexil(['eval', '--help']).stdout, /--requests/);
  });
});

describe('vexil import / export', () => {
  it('imports only what changed, audited, and exports a snapshot with a content hash', () => {
    const store = `pglite:${join(dir, 'store')}`;
    const first = vexil(['import', '--store', store, examples]);
    assert.equal(first.code, 0, first.stderr);
    assert.match(first.stdout, /new-checkout: created \(version 1\)/);
    const again = vexil(['import', '--store', store, examples]);
    assert.equal(again.stdout, '');
    assert.match(again.stderr, /^0 changes/);
    const exported = JSON.parse(vexil(['export', '--store', store]).stdout);
    assert.equal(exported.format, 'vexil-snapshot/1');
    assert.match(exported.hash, /^[0-9a-f]{64}$/);
    assert.deepEqual(Object.keys(exported.flags).sort(), ['banner-color', 'dark-mode', 'legacy-export', 'new-checkout', 'recommendations-model', 'search-page-size']);
  });

  it('refuses files with errors and imports nothing', () => {
    const file = join(dir, 'broken.yaml');
    writeFileSync(file, 'f:\n  variations: { a: 1 }\n  defaultRule: { variation: b }\n');
    const store = `pglite:${join(dir, 'store2')}`;
    const result = vexil(['import', '--store', store, file]);
    assert.notEqual(result.code, 0);
    assert.match(result.stderr, /broken\.yaml:3:18 f defaultRule\.variation/);
    const exported = JSON.parse(vexil(['export', '--store', store]).stdout);
    assert.deepEqual(exported.flags, {});
  });
});

describe('the installed command', () => {
  it('npm links `vexil` at install time, and it runs the built CLI', () => {
    const linked = join(root, 'node_modules/.bin/vexil');
    const result = spawnSync(linked, ['lint', examples], { cwd: root, encoding: 'utf8' });
    assert.equal(result.status, 0, `${linked}: ${result.error ?? ''} ${result.stderr}`);
    assert.match(result.stderr, /6 flags: 0 errors/);
  });
});
