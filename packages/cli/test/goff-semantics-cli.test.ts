// `vexil lint` and `vexil eval` on what GO Feature Flag accepts and rejects, end to end. The flags restate, in our own
// words, GO Feature Flag's documentation examples (configure_flag/rollout/scheduled, examples/demo) and the behaviours
// of its loader (flags failing IsValid are dropped; null and unknown fields are ignored by its decoders).
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

const root = resolve(import.meta.dirname, '../../..');
const bin = join(root, 'packages/cli/src/bin/vexil.ts');

function vexil(args: string[]) {
  const result = spawnSync(process.execPath, ['--conditions=source', '--import', 'tsx', bin, ...args], { cwd: root, encoding: 'utf8' });
  return { code: result.status, stdout: result.stdout, stderr: result.stderr };
}

const ACCEPTED = `# GO Feature Flag's demo flag: every targeting rule commented out leaves "targeting:" empty (null).
color-box:
  variations:
    green_var: green
    red_var: red
    default_var: grey
  targeting:
#    - query: key ew "9"
#      variation: green_var
  defaultRule:
    percentage:
      green_var: 10
      red_var: 90

# Only what a rule serves is checked (here the percentage, not the variation); unknown fields are ignored.
loose-flag:
  owner: team-a
  variations: { a: A, b: B }
  targeting:
    - { query: 'plan eq "pro"', variation: nope, percentage: { b: 100 } }
  defaultRule: { variation: a }
  scheduledRollout:
    - defaultRule: { variation: b }

# The documented scheduled rollout.
scheduled-flag:
  variations:
    variationA: A
    variationB: B
  defaultRule:
    name: defaultRule
    percentage:
      variationA: 100
      variationB: 0
  scheduledRollout:
    - date: 2020-04-10T00:00:00.1+02:00
      targeting:
        - name: rule1
          query: beta eq "true"
          percentage:
            variationA: 0
            variationB: 100
    - date: 2022-05-12T15:36:00.1+02:00
      targeting:
        - name: rule1
          query: beta eq "false"

base: &base
  variations: { "on": true, "off": false }
  defaultRule: { variation: "off" }
merged-flag:
  <<: *base
  targeting:
    - { query: 'beta eq "true"', variation: "on" }
`;

const REJECTED = `good:
  variations: { a: A }
  defaultRule: { variation: a }
bad-query:
  variations: { a: A, b: B }
  targeting:
    - { query: 'invalid', variation: b }
  defaultRule: { variation: a }
ramp-down:
  variations: { a: A, b: B }
  defaultRule:
    progressiveRollout:
      initial: { variation: a, percentage: 10, date: 2026-01-01T00:00:00Z }
      end: { variation: b, date: 2026-02-01T00:00:00Z }
`;

let dir = '';
let accepted = '';
let rejected = '';
before(() => {
  dir = mkdtempSync(join(tmpdir(), 'vexil-goff-'));
  accepted = join(dir, 'accepted.goff.yaml');
  rejected = join(dir, 'rejected.goff.yaml');
  writeFileSync(accepted, ACCEPTED);
  writeFileSync(rejected, REJECTED);
});
after(() => rmSync(dir, { recursive: true, force: true }));

describe('vexil lint: GO Feature Flag accepts it, so does lint (warnings only); it rejects it, lint errors', () => {
  it('accepts null targeting, unknown fields, an unchecked variation, an undated step, YAML merge keys', () => {
    const run = vexil(['lint', accepted]);
    assert.equal(run.code, 0, run.stdout + run.stderr);
    const lines = run.stdout.trim().split('\n');
    assert.ok(lines.every((line) => line.includes(': warning: ')), run.stdout);
    assert.ok(lines.some((line) => /loose-flag owner: warning: unknown flag field "owner" is ignored/.test(line)), run.stdout);
    assert.ok(lines.some((line) => /loose-flag scheduledRollout\[0\]: warning: a scheduled step without a date is never applied/.test(line)), run.stdout);
    assert.match(run.stderr, /0 errors/);
    assert.equal(vexil(['lint', '--strict', accepted]).code, 1);
  });

  it('rejects an unparsable query and a progressive rollout going down (a missing end percentage reads as 0)', () => {
    const run = vexil(['lint', rejected]);
    assert.equal(run.code, 1);
    assert.match(run.stdout, /bad-query targeting\[0\]\.query: query does not parse/);
    assert.match(run.stdout, /ramp-down defaultRule\.progressiveRollout\.initial\.percentage: the initial percentage \(10\) must not be above the end percentage \(0\)/);
  });
});

describe('vexil eval: GO Feature Flag results', () => {
  it('serves what GO Feature Flag serves, at the given time', () => {
    const requests = join(dir, 'requests.jsonl');
    const rows = [
      { flag: 'color-box', context: { targetingKey: 'user-1' } }, // FNV-1a("color-boxuser-1") % 100000 = 21425: red_var owns [0, 90000)
      { flag: 'loose-flag', context: { targetingKey: 'u', plan: 'pro' } },
      { flag: 'scheduled-flag', context: { targetingKey: 'u', beta: 'true' } },
      { flag: 'scheduled-flag', context: { targetingKey: 'u', beta: 'false' } },
      { flag: 'merged-flag', context: { targetingKey: 'u', beta: 'true' } },
    ];
    writeFileSync(requests, rows.map((row) => JSON.stringify(row)).join('\n') + '\n');
    const brief = (now: string) => {
      const run = vexil(['eval', '--flags', accepted, '--requests', requests, '--now', now]);
      assert.equal(run.code, 0, run.stderr);
      return run.stdout
        .trim()
        .split('\n')
        .map((line) => JSON.parse(line) as { value: unknown; reason: string })
        .map((line) => [line.value, line.reason]);
    };
    assert.deepEqual(brief('2021-01-01T00:00:00Z'), [
      ['red', 'SPLIT'],
      ['B', 'TARGETING_MATCH'],
      ['B', 'TARGETING_MATCH'],
      ['A', 'DEFAULT'],
      [true, 'TARGETING_MATCH'],
    ]);
    assert.deepEqual(brief('2023-01-01T00:00:00Z').slice(2, 4), [
      ['A', 'DEFAULT'],
      ['B', 'TARGETING_MATCH'],
    ]);
  });

  it('a flag GO Feature Flag drops (its query does not parse) is FLAG_NOT_FOUND, with why; the others are served', () => {
    const requests = join(dir, 'rejected.jsonl');
    writeFileSync(requests, ['bad-query', 'good', 'ramp-down'].map((flag) => JSON.stringify({ flag, context: { targetingKey: 'u' } })).join('\n') + '\n');
    const run = vexil(['eval', '--flags', rejected, '--requests', requests]);
    assert.equal(run.code, 0, run.stderr);
    const [bad, good, ramp] = run.stdout.trim().split('\n').map((line) => JSON.parse(line) as Record<string, unknown>);
    assert.deepEqual([bad!.key, bad!.reason, bad!.errorCode], ['bad-query', 'ERROR', 'FLAG_NOT_FOUND']);
    assert.match(String(bad!.errorMessage), /query does not parse/);
    assert.deepEqual([good!.key, good!.value, good!.reason], ['good', 'A', 'STATIC']);
    assert.deepEqual([ramp!.key, ramp!.errorCode], ['ramp-down', 'FLAG_NOT_FOUND']);
  });
});
