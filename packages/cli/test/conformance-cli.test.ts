// Black-box conformance of `vexil eval` and `vexil lint` with GO Feature Flag (GOFF).
//
// Every expectation below comes from GOFF's public repository (thomaspoignant/go-feature-flag): its CLI testdata
// (cmd/cli/evaluate/testdata), its bucketing vectors (modules/core/flag/*_test.go, modules/core/utils/hash_test.go),
// its rollout examples (examples/rollout_*) and its validation rules (modules/core/flag/internal_flag.go IsValid).
// The flag files are restated in our own words under packages/server/test/fixtures/conformance/.
//
// Vexil's CLI prints its own documented shape ({key, value, variant, reason, errorCode?, errorMessage?,
// flagMetadata}) instead of GOFF's VariationResult; the values, variants, reasons, error codes and metadata must be
// GOFF's. All the processes are started once, a few at a time, in `before`, so the file stays fast.
import { before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

const root = resolve(import.meta.dirname, '../../..');
const bin = join(root, 'packages/cli/src/bin/vexil.ts');
const fixtures = join(root, 'packages/server/test/fixtures/conformance');
const fx = (name: string): string => join(fixtures, name);

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

function vexil(args: string[]): Promise<Run> {
  return new Promise((resolvePromise, reject) => {
    const child = spawn(process.execPath, ['--conditions=source', '--import', 'tsx', bin, ...args], { cwd: root });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child.on('error', reject);
    child.on('close', (code) => resolvePromise({ code, stdout, stderr }));
  });
}

type Line = Record<string, unknown>;
const lines = (run: Run): Line[] =>
  run.stdout
    .trim()
    .split('\n')
    .filter((l) => l !== '')
    .map((l) => JSON.parse(l) as Line);

/** Writes a JSON-lines requests file and returns its path. */
let tmp = '';
function requests(name: string, rows: { flag: string; context: Record<string, unknown> }[]): string {
  const file = join(tmp, name);
  writeFileSync(file, rows.map((r) => JSON.stringify(r)).join('\n') + '\n');
  return file;
}

const GOFF_META = { description: 'this is a simple feature flag', 'issue-link': 'https://jira.xxx/GOFF-01' };

// --- every process this file needs, started in `before` --------------------------------------------------------
const runs: Record<string, Run> = {};
const ROLLOUT_FILES = ['rollout-scheduled.goff.yaml', 'rollout-progressive.goff.yaml', 'rollout-experimentation.goff.yaml'].map(fx);
const SCHEDULED_KEY = '785a14bf-d2c5-4caa-9c70-2bbc4e3732a5';
// FNV-1a("progressive-flag" + key) % 100000: user-2 = 11557, user-6 = 1081 (under 50000); user-1 = 78700, carol = 76842.
// FNV-1a("experimentation-flag" + key) % 100000: user-1 = 20013, user-5 = 9537 (B_var, [0, 50000)); user-2 = 87156 (A_var).
const ROLLOUT_ROWS = [
  { flag: 'new-admin-access', context: { targetingKey: SCHEDULED_KEY } },
  { flag: 'new-admin-access', context: { targetingKey: 'someone', beta: 'true' } },
  { flag: 'new-admin-access', context: { targetingKey: 'someone', beta: 'false' } },
  { flag: 'progressive-flag', context: { targetingKey: 'user-2' } },
  { flag: 'progressive-flag', context: { targetingKey: 'user-1' } },
  { flag: 'experimentation-flag', context: { targetingKey: 'user-1' } },
  { flag: 'experimentation-flag', context: { targetingKey: 'user-2' } },
];
const ROLLOUT_DATES: Record<string, string> = {
  before: '2020-01-01T00:00:00Z', // before every step, start and window
  middle: '2021-03-20T17:00:00Z', // step 1 due; progressive halfway (50%); experiment running
  late: '2023-01-01T00:00:00Z', // both steps due; progressive over; experiment over
  step2At: '2022-05-12T13:36:00.100Z', // exactly the second step's date (2022-05-12T15:36:00.1+02:00): due
  step2Before: '2022-05-12T13:36:00.099Z', // one millisecond before it: not due
  expStart: '2021-03-20T05:00:00.100Z', // exactly the experiment start: running (bounds are inclusive)
  expEnd: '2021-03-21T05:00:00.100Z', // exactly the experiment end: running
  expAfter: '2021-03-21T05:00:01Z', // after the end: over
};

// [flag, context, GOFF's variant]: the pinned answers (see fixtures/conformance/queries.goff.yaml).
const QUERY_CASES: [string, Record<string, unknown>, 'yes' | 'no'][] = [
  ['q-string-eq-ignores-case', { name: 'john' }, 'yes'],
  ['q-string-eq-ignores-case', { name: 'Jane' }, 'no'],
  ['q-string-in-is-case-sensitive', { country: 'FR' }, 'no'],
  ['q-string-in-is-case-sensitive', { country: 'fr' }, 'yes'],
  ['q-ne-on-missing-attribute', {}, 'no'],
  ['q-ne-on-missing-attribute', { x: 2 }, 'yes'],
  ['q-not-on-missing-attribute', {}, 'yes'],
  ['q-and-or-left-to-right', { a: 1, b: 0, c: 0 }, 'no'],
  ['q-and-or-left-to-right', { a: 0, b: 1, c: 1 }, 'yes'],
  ['q-int-truncates-float', { age: 42.9 }, 'yes'],
  ['q-semver-prerelease', { version: '1.0.0-11' }, 'yes'],
  ['q-semver-prerelease', { version: '1.0.0-2' }, 'no'],
  ['q-eq-null', {}, 'yes'],
  ['q-eq-null', { x: 'a' }, 'no'],
  ['q-present', { email: 'a@b.c' }, 'yes'],
  ['q-present', {}, 'no'],
  ['q-starts-ends-contains', { email: 'john.doe@example.com' }, 'yes'],
  ['q-float-compare', { score: 11 }, 'yes'],
  ['q-float-compare', { score: 10 }, 'no'],
  ['q-int-list', { tier: 2 }, 'yes'],
  ['q-int-list', { tier: 3 }, 'no'],
  ['q-nested-path', { company: { size: 11 } }, 'yes'],
  ['q-targeting-key-and-key', { targetingKey: 'u-1' }, 'yes'],
  ['q-jsonlogic-in', { country: 'fr' }, 'yes'],
  ['q-jsonlogic-in', { country: 'it' }, 'no'],
  ['q-jsonlogic-truthy-string', {}, 'yes'],
  ['q-multiline-in', { targetingKey: 'random-key-1' }, 'yes'],
  ['q-multiline-in', { targetingKey: 'other' }, 'no'],
];
const VALID_LINT_FILES = [
  fx('lint/valid-goff-accepts.goff.yaml'),
  fx('cli-flags.goff.yaml'),
  fx('relay-flags.goff.yaml'),
  fx('flag-config.goff.json'),
  fx('flag-config.goff.toml'),
  fx('queries.goff.yaml'),
  ...ROLLOUT_FILES,
];
const INVALID_LINT_FILES = [
  'invalid-percentage-type.goff.yaml',
  'no-default-rule.goff.yaml',
  'no-variation.goff.yaml',
  'not-json.goff.json',
  'not-toml.goff.toml',
  'null-variation.goff.yaml',
  'mixed-types.goff.yaml',
  'percentage-sum-zero.goff.yaml',
  'duplicate-rule-names.goff.yaml',
  'rule-without-query.goff.yaml',
  'percentage-unknown-variation.goff.yaml',
  'progressive-initial-above-end.goff.yaml',
  'rule-without-outcome.goff.yaml',
  'invalid-query.goff.yaml',
];

before(async () => {
  tmp = mkdtempSync(join(tmpdir(), 'vexil-conformance-cli-'));
  const cliRows = requests('cli.jsonl', [
    { flag: 'test-flag', context: { targetingKey: 'random-key' } },
    { flag: 'test-flag2', context: { targetingKey: 'not-a-key' } },
    { flag: 'test-flag', context: { targetingKey: 'user-123' } },
    { flag: 'test-flag2', context: { targetingKey: 'user-123' } },
    { flag: 'non-existent-flag', context: { targetingKey: 'user-123' } },
  ]);
  const rollouts = requests('rollouts.jsonl', ROLLOUT_ROWS);
  const currentDateTime = requests('current-date-time.jsonl', [
    { flag: 'experimentation-flag', context: { targetingKey: 'user-1', gofeatureflag: { currentDateTime: '2021-03-20T17:00:00Z' } } },
    { flag: 'experimentation-flag', context: { targetingKey: 'user-1', gofeatureflag: { currentDateTime: '2019-01-01T00:00:00Z' } } },
    { flag: 'new-admin-access', context: { targetingKey: 'someone', beta: 'true', gofeatureflag: { currentDateTime: '2021-01-01T00:00:00Z' } } },
    { flag: 'progressive-flag', context: { targetingKey: 'user-1', gofeatureflag: { currentDateTime: '2020-01-01T00:00:00Z' } } },
  ]);
  const vectorsA = requests('vectors-a.jsonl', [
    { flag: 'flagname+', context: { targetingKey: 'userkey' } },
    { flag: 'my-flag', context: { targetingKey: 'user-key' } },
    { flag: 'TEST', context: { targetingKey: 'random-key' } },
    { flag: 'test-flag', context: { targetingKey: 'random-key-ssss1' } },
    { flag: 'new-admin-access', context: { targetingKey: 'a20b1cd5-7165-4e02-a279-c0c8b90a8912' } },
    { flag: 'new-admin-access', context: { targetingKey: '4f433951-4c8c-42b3-9f18-8c9a5ed8e9eb' } },
  ]);
  const vectorsB = requests('vectors-b.jsonl', [
    { flag: 'flagname+', context: { targetingKey: 'randomUserID' } },
    { flag: 'flagname+', context: { targetingKey: '96ac59e6-7492-436b-b15a-ba1d797d2423' } },
    { flag: 'my-flag', context: { targetingKey: 'user-key-123' } },
  ]);
  const vectorsC = requests('vectors-c.jsonl', [
    { flag: 'flagname+', context: { targetingKey: 'userkey' } },
    { flag: 'my-flag', context: { targetingKey: 'user-key', teamId: 'team-123' } },
    { flag: 'my-flag', context: { targetingKey: 'user-key' } },
  ]);
  const vectorsD = requests('vectors-d.jsonl', [{ flag: 'my-flag', context: { targetingKey: 'user-key', company: { id: 'company-456' } } }]);
  const vectorsE = requests('vectors-e.jsonl', [{ flag: 'my-flag', context: { targetingKey: 'user-key' } }]);

  const queryRows = requests(
    'queries.jsonl',
    QUERY_CASES.map(([flag, context]) => ({ flag, context: { targetingKey: 'someone', ...context } })),
  );
  const jobs: [string, string[]][] = [
    ['queries', ['eval', '--flags', fx('queries.goff.yaml'), '--requests', queryRows]],
    ['cliAll', ['eval', '--flags', fx('cli-flags.goff.yaml'), '--context', '{"targetingKey":"user-123"}']],
    ['cliSingle', ['eval', '--flags', fx('cli-flags.goff.yaml'), '--flag', 'test-flag', '--context', '{"targetingKey":"user-123"}']],
    ['cliNoKey', ['eval', '--flags', fx('cli-flags.goff.yaml'), '--context', '{}']],
    ['yamlRows', ['eval', '--flags', fx('cli-flags.goff.yaml'), '--requests', cliRows]],
    ['jsonRows', ['eval', '--flags', fx('flag-config.goff.json'), '--requests', cliRows]],
    ['tomlRows', ['eval', '--flags', fx('flag-config.goff.toml'), '--requests', cliRows]],
    ['vectorsA', ['eval', '--flags', fx('bucketing-a.goff.yaml'), '--requests', vectorsA]],
    ['vectorsB', ['eval', '--flags', fx('bucketing-b.goff.yaml'), '--requests', vectorsB]],
    ['vectorsC', ['eval', '--flags', fx('bucketing-c.goff.yaml'), '--requests', vectorsC]],
    ['vectorsD', ['eval', '--flags', fx('bucketing-d.goff.yaml'), '--requests', vectorsD]],
    ['vectorsE', ['eval', '--flags', fx('bucketing-e.goff.yaml'), '--requests', vectorsE, '--now', '2022-01-01T00:00:00Z']],
    ['currentDateTime', ['eval', '--flags', ...ROLLOUT_FILES, '--requests', currentDateTime]],
    ['lint', ['lint', ...VALID_LINT_FILES, ...INVALID_LINT_FILES.map((f) => fx(`lint/${f}`))]],
    [
      'cliCurrentDateTime',
      ['eval', '--flags', ...ROLLOUT_FILES, '--flag', 'experimentation-flag', '--context', '{"targetingKey":"user-1","gofeatureflag":{"currentDateTime":"2021-03-20T17:00:00Z"}}'],
    ],
  ];
  for (const [name, date] of Object.entries(ROLLOUT_DATES)) jobs.push([`rollout:${name}`, ['eval', '--flags', ...ROLLOUT_FILES, '--requests', rollouts, '--now', date]]);

  // A few at a time: the machine has two cores.
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < jobs.length) {
      const [name, args] = jobs[next++]!;
      runs[name] = await vexil(args);
    }
  };
  await Promise.all([worker(), worker(), worker(), worker()]);
});


function ok(name: string): Run {
  const run = runs[name];
  assert.ok(run, `no run ${name}`);
  assert.equal(run.code, 0, `${name} exited ${run.code}: ${run.stderr}`);
  return run;
}

describe('vexil eval on GO Feature Flag CLI testdata (cmd/cli/evaluate/testdata/flag.goff.yaml)', () => {
  test('all flags for {"targetingKey":"user-123"} (res/all-flag.json): DEFAULT vs STATIC, metadata, sorted by key', () => {
    assert.deepEqual(lines(ok('cliAll')), [
      { key: 'simple-flag', value: true, variant: 'B', reason: 'STATIC', flagMetadata: GOFF_META },
      { key: 'test-flag', value: false, variant: 'Default', reason: 'DEFAULT', flagMetadata: GOFF_META },
      { key: 'test-flag2', value: false, variant: 'Default', reason: 'DEFAULT', flagMetadata: {} },
    ]);
  });

  test('--flag test-flag (res/single-flag.json)', () => {
    assert.deepEqual(lines(ok('cliSingle')), [{ key: 'test-flag', value: false, variant: 'Default', reason: 'DEFAULT', flagMetadata: GOFF_META }]);
  });

  test('no targeting key (res/all-flag-no-targeting.json): TARGETING_KEY_MISSING only where percentages split users; metadata kept on the error', () => {
    const out = lines(ok('cliNoKey'));
    assert.deepEqual(out[0], { key: 'simple-flag', value: true, variant: 'B', reason: 'STATIC', flagMetadata: GOFF_META });
    for (const [index, key, meta] of [
      [1, 'test-flag', GOFF_META],
      [2, 'test-flag2', {}],
    ] as const) {
      const line = out[index]!;
      assert.equal(line.key, key);
      assert.equal(line.value, null);
      assert.equal(line.reason, 'ERROR');
      assert.equal(line.errorCode, 'TARGETING_KEY_MISSING');
      assert.equal(line.variant, undefined);
      assert.deepEqual(line.flagMetadata, meta);
    }
  });

  test('an unknown flag (res/empty.json): ERROR / FLAG_NOT_FOUND, value null', () => {
    const line = lines(ok('yamlRows'))[4]!;
    assert.equal(line.key, 'non-existent-flag');
    assert.equal(line.value, null);
    assert.equal(line.reason, 'ERROR');
    assert.equal(line.errorCode, 'FLAG_NOT_FOUND');
  });

  test('unquoted True / False variation names stay "True" / "False" (GOFF reads YAML with yaml.v3): random-key → True, TARGETING_MATCH', () => {
    const [first, second] = lines(ok('yamlRows'));
    assert.deepEqual(first, {
      key: 'test-flag',
      value: true,
      variant: 'True',
      reason: 'TARGETING_MATCH',
      flagMetadata: { ...GOFF_META, evaluatedRuleName: 'rule1' },
    });
    assert.deepEqual(second, { key: 'test-flag2', value: true, variant: 'True', reason: 'TARGETING_MATCH', flagMetadata: { evaluatedRuleName: 'rule1' } });
  });
});

describe('vexil eval: the same flags in JSON and TOML (testdata/flag-config.{json,toml})', () => {
  test('JSON, TOML and YAML give identical answers line for line', () => {
    const yaml = lines(ok('yamlRows'));
    assert.deepEqual(lines(ok('jsonRows')), yaml);
    assert.deepEqual(lines(ok('tomlRows')), yaml);
    assert.equal(yaml.length, 5);
    assert.deepEqual(yaml[2], { key: 'test-flag', value: false, variant: 'Default', reason: 'DEFAULT', flagMetadata: GOFF_META });
  });
});

describe('vexil eval: GO Feature Flag bucketing vectors end to end', () => {
  const pick = (line: Line) => [line.key, line.variant, line.reason];
  test('modules/core/flag/rule_test.go, internal_flag_test.go, variation_test.go, cmd/wasm and relay testdata (set A)', () => {
    assert.deepEqual(lines(ok('vectorsA')).map(pick), [
      ['flagname+', 'variation_C', 'SPLIT'], // hash 8465 < 9000
      ['my-flag', 'variation_A', 'SPLIT'], // hash 73349
      ['TEST', 'enable', 'TARGETING_MATCH_SPLIT'], // wasm valid.json
      ['test-flag', 'False', 'SPLIT'], // hash 21953
      ['new-admin-access', 'True', 'SPLIT'], // hash 25867
      ['new-admin-access', 'True', 'SPLIT'], // ofrep valid_response.json
    ]);
  });
  test('{D:70, C:10, B:20} and {B:30, C:70} (set B)', () => {
    assert.deepEqual(lines(ok('vectorsB')).map(pick), [
      ['flagname+', 'variation_C', 'SPLIT'], // 71816
      ['flagname+', 'variation_B', 'SPLIT'], // 83297
      ['my-flag', 'variation_C', 'SPLIT'], // 5560
    ]);
  });
  test('weights summing to 182 and bucketingKey teamId (set C)', () => {
    assert.deepEqual(lines(ok('vectorsC')).map(pick), [
      ['flagname+', 'variation_B', 'SPLIT'],
      ['my-flag', 'variation_B', 'SPLIT'], // teamId team-123: 66936, just under 67000
      ['my-flag', undefined, 'ERROR'],
    ]);
    // A bucketingKey the context does not carry is TARGETING_KEY_MISSING (internal_flag.go GetBucketingKeyValue).
    assert.equal(lines(ok('vectorsC'))[2]!.errorCode, 'TARGETING_KEY_MISSING');
  });
  test('nested bucketingKey company.id (set D)', () => {
    assert.deepEqual(lines(ok('vectorsD')).map(pick), [['my-flag', 'variation_B', 'SPLIT']]); // 40345
  });
  test('progressive rollout 0% → 5% after its end: user-key (73349) stays on the initial variation, reason SPLIT (set E)', () => {
    assert.deepEqual(lines(ok('vectorsE')).map(pick), [['my-flag', 'variation_A', 'SPLIT']]);
  });
});

describe('vexil eval --now on GO Feature Flag rollout examples (examples/rollout_*/flags.goff.yaml)', () => {
  const at = (name: string) => lines(ok(`rollout:${name}`));
  const brief = (line: Line) => ({ value: line.value, variant: line.variant, reason: line.reason, ...(line.errorCode ? { errorCode: line.errorCode } : {}) });

  test('scheduled: before the first step rule_1 targets the key; its name shows in flagMetadata', () => {
    const [byKey, betaTrue, betaFalse] = at('before');
    assert.deepEqual(byKey, { key: 'new-admin-access', value: true, variant: 'true_var', reason: 'TARGETING_MATCH', flagMetadata: { evaluatedRuleName: 'rule_1' } });
    assert.deepEqual(brief(betaTrue!), { value: false, variant: 'default', reason: 'DEFAULT' });
    assert.deepEqual(brief(betaFalse!), { value: false, variant: 'default', reason: 'DEFAULT' });
  });
  test('scheduled: after the first step (2020-04-10) rule_1 is patched by name to beta eq "true"', () => {
    const [byKey, betaTrue, betaFalse] = at('middle');
    assert.deepEqual(brief(byKey!), { value: false, variant: 'default', reason: 'DEFAULT' });
    assert.deepEqual(brief(betaTrue!), { value: true, variant: 'true_var', reason: 'TARGETING_MATCH' });
    assert.deepEqual(brief(betaFalse!), { value: false, variant: 'default', reason: 'DEFAULT' });
  });
  test('scheduled: after the second step (2022-05-12) rule_1 is beta eq "false"', () => {
    const [, betaTrue, betaFalse] = at('late');
    assert.deepEqual(brief(betaTrue!), { value: false, variant: 'default', reason: 'DEFAULT' });
    assert.deepEqual(brief(betaFalse!), { value: true, variant: 'true_var', reason: 'TARGETING_MATCH' });
  });
  test('scheduled: a step applies at exactly its date (date <= now, fractional seconds and +02:00 offset honoured)', () => {
    assert.equal(at('step2At')[2]!.variant, 'true_var');
    assert.equal(at('step2At')[1]!.variant, 'default');
    assert.equal(at('step2Before')[1]!.variant, 'true_var');
    assert.equal(at('step2Before')[2]!.variant, 'default');
  });
  test('progressive: before the start everyone gets the initial variation, reason SPLIT', () => {
    const rows = at('before');
    assert.deepEqual(brief(rows[3]!), { value: true, variant: 'A_var', reason: 'SPLIT' });
    assert.deepEqual(brief(rows[4]!), { value: true, variant: 'A_var', reason: 'SPLIT' });
  });
  test('progressive: halfway, users hashed under 50000 are on the end variation', () => {
    const rows = at('middle');
    assert.deepEqual(brief(rows[3]!), { value: false, variant: 'B_var', reason: 'SPLIT' }); // user-2: 11557
    assert.deepEqual(brief(rows[4]!), { value: true, variant: 'A_var', reason: 'SPLIT' }); // user-1: 78700
  });
  test('progressive: after the end everyone is on the end variation', () => {
    const rows = at('late');
    assert.deepEqual(brief(rows[3]!), { value: false, variant: 'B_var', reason: 'SPLIT' });
    assert.deepEqual(brief(rows[4]!), { value: false, variant: 'B_var', reason: 'SPLIT' });
  });
  test('experimentation: inside the window a 50/50 SPLIT; outside it DISABLED with no variant', () => {
    const inside = at('middle');
    assert.deepEqual(brief(inside[5]!), { value: 'B', variant: 'B_var', reason: 'SPLIT' }); // user-1: 20013
    assert.deepEqual(brief(inside[6]!), { value: 'A', variant: 'A_var', reason: 'SPLIT' }); // user-2: 87156
    for (const name of ['before', 'late', 'expAfter']) {
      const row = at(name)[5]!;
      assert.equal(row.reason, 'DISABLED', name);
      assert.equal(row.variant, undefined, name);
      assert.equal(row.value, null, name);
      assert.equal(row.errorCode, undefined, name);
    }
  });
  test('experimentation: both window bounds are inclusive', () => {
    assert.equal(at('expStart')[5]!.reason, 'SPLIT');
    assert.equal(at('expEnd')[5]!.reason, 'SPLIT');
    assert.equal(at('expAfter')[5]!.reason, 'DISABLED');
  });
  test('the context attribute gofeatureflag.currentDateTime sets "now" (--context; GOFF ffcontext/goff_context_specifics.go, issue #2054)', () => {
    assert.deepEqual(brief(lines(ok('cliCurrentDateTime'))[0]!), { value: 'B', variant: 'B_var', reason: 'SPLIT' });
  });
  test('the context attribute gofeatureflag.currentDateTime sets "now" per line (--requests without --now)', () => {
    const rows = lines(ok('currentDateTime'));
    assert.deepEqual(brief(rows[0]!), { value: 'B', variant: 'B_var', reason: 'SPLIT' });
    assert.equal(rows[1]!.reason, 'DISABLED');
    assert.deepEqual(brief(rows[2]!), { value: true, variant: 'true_var', reason: 'TARGETING_MATCH' });
    assert.deepEqual(brief(rows[3]!), { value: true, variant: 'A_var', reason: 'SPLIT' });
  });
});

describe('vexil eval: query language cases pinned by GOFF and nikunjy/rules tests', () => {
  test('each query answers as GO Feature Flag does', () => {
    const out = lines(ok('queries'));
    const got = out.map((line, i) => [QUERY_CASES[i]![0], JSON.stringify(QUERY_CASES[i]![1]), line.variant]);
    const want = QUERY_CASES.map(([flag, context, variant]) => [flag, JSON.stringify(context), variant]);
    assert.deepEqual(got, want);
  });
});

describe('vexil lint against GO Feature Flag validation (cmd/cli/linter/testdata, modules/core/flag IsValid)', () => {
  test('what GOFF accepts has no lint error (warnings allowed): one variation, weights not summing to 100, int+float, disabled rules unvalidated, the conformance fixtures', () => {
    const run = runs.lint!;
    const errors = run.stdout.split('\n').filter((line) => VALID_LINT_FILES.some((file) => line.startsWith(`${file}:`)) && !line.includes(': warning: '));
    assert.deepEqual(errors, []);
  });
  test('what GOFF rejects is an error in every file (exit 1)', () => {
    const run = runs.lint!;
    assert.equal(run.code, 1, run.stdout + run.stderr);
    const missing = INVALID_LINT_FILES.filter((file) => !run.stdout.includes(`${fx(`lint/${file}`)}:`));
    assert.deepEqual(missing, [], `files without an error line:\n${run.stdout}`);
  });
});
