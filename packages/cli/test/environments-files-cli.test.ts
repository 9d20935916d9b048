// `vexil lint|eval|import|export` with environments: ENV=FILE items (as `serve --flags` takes them) and
// `--project P --env E`, through the real command line.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

const root = resolve(import.meta.dirname, '../../..');
const bin = join(root, 'packages/cli/src/bin/vexil.ts');
// Run from the files' folder (relative paths in the output), so tsx is named by its location.
const tsx = import.meta.resolve('tsx');

function vexil(args: string[]) {
  const result = spawnSync(process.execPath, ['--conditions=source', '--import', tsx, bin, ...args], { cwd: dir, encoding: 'utf8' });
  return { code: result.status, stdout: result.stdout, stderr: result.stderr };
}

function ok(args: string[]): string {
  const result = vexil(args);
  assert.equal(result.code, 0, `vexil ${args.join(' ')}\n${result.stdout}${result.stderr}`);
  return result.stdout;
}

const flag = (key: string, serve: string) => `${key}:\n  variations:\n    on: true\n    off: false\n  defaultRule:\n    variation: ${serve}\n`;

let dir: string;
before(() => {
  dir = mkdtempSync(join(tmpdir(), 'vexil-env-files-'));
  writeFileSync(join(dir, 'base.yaml'), flag('checkout', 'off'));
  writeFileSync(join(dir, 'prod.yaml'), flag('checkout', 'on') + flag('banner', 'off'));
  writeFileSync(join(dir, 'staging.yaml'), flag('checkout', 'off') + flag('search', 'on'));
  // One broken flag in staging only.
  writeFileSync(join(dir, 'staging-broken.yaml'), flag('checkout', 'maybe'));
});
after(() => rmSync(dir, { recursive: true, force: true }));

const evalValue = (args: string[], key: string): unknown => {
  const lines = ok(['eval', ...args, '--flag', key, '--context', '{"targetingKey":"u1"}']).trim().split('\n');
  return (JSON.parse(lines[0]!) as { value: unknown }).value;
};

describe('vexil lint with environments', { timeout: 120_000 }, () => {
  it('lints every environment by default, naming the environment in each problem line', () => {
    const result = vexil(['lint', 'production=prod.yaml', 'staging=staging-broken.yaml,checkout/staging=staging.yaml']);
    assert.equal(result.code, 1, result.stderr);
    assert.match(result.stdout, /^staging-broken\.yaml:\d+:\d+ checkout defaultRule\.variation: unknown variation "maybe".* \[default\/staging\]$/m);
    assert.equal(result.stdout.trim().split('\n').length, 1, 'production and checkout/staging have no problem');
    assert.match(result.stderr, /3 files in 3 environments, 5 flags: 1 error, 0 warnings/);
  });

  it('--env lints only that environment\'s files', () => {
    const production = vexil(['lint', 'production=prod.yaml', 'staging=staging-broken.yaml', '--env', 'production']);
    assert.equal(production.code, 0, production.stdout + production.stderr);
    assert.match(production.stderr, /1 file in 1 environment, 2 flags: 0 errors/);
    const staging = vexil(['lint', 'production=prod.yaml', 'staging=staging-broken.yaml', '--env', 'staging']);
    assert.equal(staging.code, 1);
    assert.match(staging.stdout, /\[default\/staging\]/);
    const project = vexil(['lint', 'production=prod.yaml', 'checkout/staging=staging.yaml', '--project', 'checkout']);
    assert.equal(project.code, 0, project.stderr);
    assert.match(project.stderr, /1 file in 1 environment/);
  });

  it('names a bad item and an environment no file is for', () => {
    const bad = vexil(['lint', 'Production=prod.yaml']);
    assert.equal(bad.code, 1);
    assert.match(bad.stderr, /flag file spec "Production=prod.yaml": "Production" is not an environment key/);
    const missing = vexil(['lint', 'staging=']);
    assert.match(missing.stderr, /"staging=": no file after "staging="/);
    const none = vexil(['lint', 'production=prod.yaml', '--env', 'qa']);
    assert.equal(none.code, 1);
    assert.match(none.stderr, /no flag file is for environment default\/qa \(files are for default\/production\)/);
  });

  it('keeps plain paths as before: no environment in the lines or the summary', () => {
    const result = vexil(['lint', 'staging-broken.yaml']);
    assert.equal(result.code, 1);
    assert.match(result.stdout, /^staging-broken\.yaml:\d+:\d+ checkout defaultRule\.variation: unknown variation "maybe"[^[]*$/m);
    assert.match(result.stderr, /^1 file, 1 flag: 1 error, 0 warnings$/m);
  });
});

describe('vexil eval with environments', { timeout: 120_000 }, () => {
  it('evaluates with the files of the environment --env names', () => {
    const files = ['--flags', 'base.yaml,production=prod.yaml,staging=staging.yaml'];
    assert.equal(evalValue([...files, '--env', 'production'], 'checkout'), true);
    assert.equal(evalValue([...files, '--env', 'staging'], 'checkout'), false);
    assert.equal(evalValue([...files, '--env', 'staging'], 'search'), true);
    assert.equal(evalValue([...files, '--env', 'default'], 'checkout'), false, 'default/default: the bare path');
    // A flag of another environment is not found in this one.
    const out = ok(['eval', ...files, '--env', 'production', '--flag', 'search']);
    assert.match(out, /"errorCode":"FLAG_NOT_FOUND"/);
  });

  it('asks for --env when the files are for several environments, and needs none for one', () => {
    const several = vexil(['eval', '--flags', 'production=prod.yaml,staging=staging.yaml']);
    assert.equal(several.code, 1);
    assert.match(several.stderr, /the flag files are for 2 environments \(default\/production, default\/staging\): choose one with --env/);
    assert.equal(evalValue(['--flags', 'production=prod.yaml'], 'checkout'), true);
    assert.equal(evalValue(['--flags', 'base.yaml'], 'checkout'), false, 'plain paths as before');
  });
});

describe('vexil export with environments', { timeout: 120_000 }, () => {
  it('exports one environment of a file store', () => {
    const store = `file:base.yaml,production=prod.yaml,checkout/staging=staging.yaml`;
    const production = JSON.parse(ok(['export', '--store', store, '--env', 'production'])) as { flags: Record<string, { flag: { defaultRule: { variation: string } } }> };
    assert.deepEqual(Object.keys(production.flags).sort(), ['banner', 'checkout']);
    assert.equal(production.flags.checkout!.flag.defaultRule.variation, 'on');
    const staging = ok(['export', '--store', store, '--project', 'checkout', '--env', 'staging', '--format', 'yaml']);
    assert.match(staging, /search:/);
    assert.doesNotMatch(staging, /banner/);
    const root = JSON.parse(ok(['export', '--store', store])) as { flags: Record<string, unknown> };
    assert.deepEqual(Object.keys(root.flags), ['checkout'], 'without --env: default/default, as before');
    const unknown = vexil(['export', '--store', store, '--env', 'qa']);
    assert.equal(unknown.code, 1);
    assert.match(unknown.stderr, /no environment "qa" in project "default"/);
  });
});
