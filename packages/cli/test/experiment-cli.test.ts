// `vexil experiment analyze` through the real bin (packages/cli/bin/vexil.js, i.e. the built CLI users run).
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

const root = resolve(import.meta.dirname, '../../..');
const bin = join(root, 'packages/cli/bin/vexil.js');

function vexil(args: string[], input?: string) {
  const result = spawnSync(process.execPath, [bin, ...args], { cwd: root, encoding: 'utf8', ...(input !== undefined ? { input } : {}) });
  return { code: result.status, stdout: result.stdout, stderr: result.stderr };
}

function close(actual: unknown, expected: number, what: string) {
  assert.equal(typeof actual, 'number', `${what} is a number`);
  assert.ok(Math.abs((actual as number) - expected) <= 1e-6 * Math.abs(expected), `${what}: expected ${expected}, got ${String(actual)}`);
}

let dir: string;
let file = 0;
function statsFile(content: unknown): string {
  const path = join(dir, `stats-${file++}.json`);
  writeFileSync(path, typeof content === 'string' ? content : JSON.stringify(content));
  return path;
}

const control = { name: 'control', units: 3407, sum: 1396.87, sumSquares: 52377.9767, denominatorSum: 0, denominatorSumSquares: 0, sumProductWithDenominator: 0, covariateSum: 0, covariateSumSquares: 0, sumProductWithCovariate: 0 };
const treatment = { ...control, name: 'treatment', units: 3461, sum: 2422.7, sumSquares: 134698.29 };
const frequentist = { metric: { type: 'mean', inverse: false }, engine: 'frequentist', difference: 'relative', alpha: 0.05, variations: [control, treatment] };

before(() => {
  dir = mkdtempSync(join(tmpdir(), 'vexil-experiment-'));
});
after(() => rmSync(dir, { recursive: true, force: true }));

describe('vexil experiment analyze --json', () => {
  it('frequentist: stdout holds only the JSON, field by field as gbstats computes it', () => {
    const result = vexil(['experiment', 'analyze', '--input', statsFile(frequentist), '--json']);
    assert.equal(result.code, 0, result.stderr);
    assert.equal(result.stderr, '');
    const out = JSON.parse(result.stdout);
    assert.deepEqual(Object.keys(out), ['srm', 'variations']);
    assert.deepEqual(Object.keys(out.srm), ['pValue']);
    close(out.srm.pValue, 0.5146616284591244, 'srm.pValue');
    const [c, t] = out.variations;
    assert.deepEqual(Object.keys(c), ['name', 'units', 'mean', 'stdDev'], 'no effect on the control');
    assert.equal(c.name, 'control');
    assert.equal(c.units, 3407);
    close(c.mean, 1396.87 / 3407, 'control mean');
    close(c.stdDev, Math.sqrt((52377.9767 - 1396.87 ** 2 / 3407) / 3406), 'control stdDev');
    assert.deepEqual(Object.keys(t), ['name', 'units', 'mean', 'stdDev', 'effect']);
    assert.deepEqual(Object.keys(t.effect), ['expected', 'stdError', 'ci', 'pValue']);
    close(t.effect.expected, 0.7073170732, 'expected');
    close(t.effect.stdError, 0.3787943617, 'stdError');
    close(t.effect.ci[0], -0.03526008907, 'ci low');
    close(t.effect.ci[1], 1.449894235, 'ci high');
    close(t.effect.pValue, 0.06191182746, 'pValue');
  });

  it('bayesian: chance to win and risk [control, treatment], no p-value', () => {
    const input = {
      metric: { type: 'binomial' },
      engine: 'bayesian',
      difference: 'relative',
      variations: [
        { name: 'a', units: 100, sum: 49 },
        { name: 'b', units: 100, sum: 51 },
      ],
    };
    const result = vexil(['experiment', 'analyze', '--input', statsFile(input), '--json']);
    assert.equal(result.code, 0, result.stderr);
    const effect = JSON.parse(result.stdout).variations[1].effect;
    assert.deepEqual(Object.keys(effect), ['expected', 'stdError', 'ci', 'chanceToWin', 'risk']);
    close(effect.expected, 0.04081632653, 'expected');
    close(effect.chanceToWin, 0.6091813096, 'chanceToWin');
    close(effect.risk[0], 0.08139584916, 'risk of choosing control');
    close(effect.risk[1], 0.04057952262, 'risk of choosing treatment');
  });

  it('one-sided (looks for harm): the open side of the interval is null', () => {
    const input = { ...frequentist, oneSided: true, variations: [{ ...control, units: 3000 }, treatment] };
    const effect = JSON.parse(vexil(['experiment', 'analyze', '--input', statsFile(input), '--json']).stdout).variations[1].effect;
    assert.equal(effect.ci[0], null);
    close(effect.ci[1], 1.0518588475628676, 'ci high');
    close(effect.pValue, 0.9344173713153225, 'pValue');
  });

  it('reads standard input with --input -', () => {
    const result = vexil(['experiment', 'analyze', '--input', '-', '--json'], JSON.stringify(frequentist));
    assert.equal(result.code, 0, result.stderr);
    close(JSON.parse(result.stdout).variations[1].effect.pValue, 0.06191182746, 'pValue');
  });

  it('a degenerate comparison carries the error code and gbstats\' default numbers', () => {
    const input = { metric: { type: 'binomial' }, engine: 'frequentist', variations: [{ name: 'a', units: 100, sum: 0 }, { name: 'b', units: 100, sum: 7 }] };
    const effect = JSON.parse(vexil(['experiment', 'analyze', '--input', statsFile(input), '--json']).stdout).variations[1].effect;
    assert.deepEqual(effect, { expected: 0, stdError: 0, ci: [0, 0], pValue: 1, error: 'ZERO_NEGATIVE_VARIANCE' });
  });
});

describe('vexil experiment analyze (table)', () => {
  it('prints a readable table with the uplift, interval and p-value, and the SRM verdict', () => {
    const input = { ...frequentist, variations: [{ ...control, units: 5200 }, { ...treatment, units: 4800 }] };
    const result = vexil(['experiment', 'analyze', '--input', statsFile(input)]);
    assert.equal(result.code, 0, result.stderr);
    assert.match(result.stdout, /Sample ratio mismatch: p = [\d.e-]+ < 0\.001/);
    assert.match(result.stdout, /variation\s+units\s+mean\s+std dev\s+uplift\s+95% CI\s+p-value/);
    assert.match(result.stdout, /treatment\s+4800\s+0\.5047\s+5\.274\s+\+\d+\.\d+%\s+\[[-+\d.%]+, [-+\d.%]+\]\s+0\.\d+/);
  });
});

describe('vexil experiment analyze: bad input', () => {
  it('a missing file: names it, exits non-zero, prints nothing on stdout', () => {
    const result = vexil(['experiment', 'analyze', '--input', join(dir, 'nope.json'), '--json']);
    assert.notEqual(result.code, 0);
    assert.equal(result.stdout, '');
    assert.match(result.stderr, /cannot read .*nope\.json/);
  });
  it('invalid JSON', () => {
    const result = vexil(['experiment', 'analyze', '--input', statsFile('{"metric": '), '--json']);
    assert.notEqual(result.code, 0);
    assert.match(result.stderr, /is not valid JSON/);
  });
  it('a bad value names the field', () => {
    const input = { ...frequentist, variations: [control, { ...treatment, units: 'many' }] };
    const result = vexil(['experiment', 'analyze', '--input', statsFile(input), '--json']);
    assert.notEqual(result.code, 0);
    assert.equal(result.stdout, '');
    assert.match(result.stderr, /stats-\d+\.json: variations\[1\]\.units: must be a finite number, got "many"/);
  });
  it('an unknown engine names the field and the choices', () => {
    const result = vexil(['experiment', 'analyze', '--input', statsFile({ ...frequentist, engine: 'magic' })]);
    assert.notEqual(result.code, 0);
    assert.match(result.stderr, /engine: must be one of "frequentist", "bayesian", got "magic"/);
  });
  it('a missing required sum for the metric type', () => {
    const { sumSquares: _, ...withoutSquares } = treatment;
    const result = vexil(['experiment', 'analyze', '--input', statsFile({ ...frequentist, variations: [control, withoutSquares] })]);
    assert.notEqual(result.code, 0);
    assert.match(result.stderr, /variations\[1\]\.sumSquares: is required for this metric/);
  });
  it('--input is required', () => {
    const result = vexil(['experiment', 'analyze']);
    assert.notEqual(result.code, 0);
    assert.match(result.stderr, /--input/);
  });
});
