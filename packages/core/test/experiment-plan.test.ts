import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { compileFlagSet, evaluate, formatProblem, normalizeExperiment, parseFlagFile, stickyRequestFor, toGoFeatureFlagForm } from '../src/index.js';

const EXAMPLE = `checkout-button:
  variations: { blue: "#00f", green: "#0f0" }
  defaultRule: { percentage: { blue: 50, green: 50 } }
  experimentation: { start: "2026-11-01T00:00:00Z", end: "2026-12-31T00:00:00Z" }
  experiment:
    control: blue
    attributionWindow: 48h
    engine: frequentist
    metrics:
      - { event: purchase, type: binomial, goal: true }
      - { event: revenue, type: mean, name: revenue per user, goal: true }
      - { event: clicks, type: ratio, value: count, denominator: page-view }
      - { event: checkout-error, type: binomial, guardrail: true, inverse: true }
`;

function lint(text: string): string[] {
  return parseFlagFile(text, { format: 'yaml', source: 'flags.yaml' }).problems.map(formatProblem);
}

describe('experiment block in the flag file', () => {
  it('accepts the documented example and fills in the defaults', () => {
    const parsed = parseFlagFile(EXAMPLE, { format: 'yaml', source: 'flags.yaml' });
    assert.deepEqual(parsed.problems.map(formatProblem), []);
    const plan = normalizeExperiment(parsed.flags['checkout-button']!)!;
    assert.equal(plan.control, 'blue');
    assert.deepEqual(plan.variations, ['blue', 'green']);
    assert.equal(plan.attributionWindowMs, 48 * 3_600_000);
    assert.equal(plan.start, Date.parse('2026-11-01T00:00:00Z'), 'the experimentation window bounds the analysis');
    assert.equal(plan.end, Date.parse('2026-12-31T00:00:00Z'));
    assert.deepEqual(
      plan.metrics.map((m) => [m.name, m.type, m.role, m.value, m.inverse]),
      [
        ['purchase', 'binomial', 'goal', 'sum', false],
        ['revenue per user', 'mean', 'goal', 'sum', false],
        ['clicks', 'ratio', 'secondary', 'count', false],
        ['checkout-error', 'binomial', 'guardrail', 'sum', true],
      ],
    );
    assert.equal(plan.metrics[2]!.denominator, 'page-view');
  });

  it('defaults: the first variation is the control, 72h window, bayesian, every non-guardrail metric a goal', () => {
    const parsed = parseFlagFile(`f:\n  variations: { a: 1, b: 2 }\n  defaultRule: { variation: a }\n  experiment: { metrics: [{ event: e, type: mean }] }\n`, { format: 'yaml' });
    const plan = normalizeExperiment(parsed.flags.f!)!;
    assert.equal(plan.control, 'a');
    assert.equal(plan.attributionWindowMs, 72 * 3_600_000);
    assert.equal(plan.engine, 'bayesian');
    assert.equal(plan.metrics[0]!.role, 'goal');
    assert.equal(plan.start, undefined);
    assert.equal(plan.cupedLookbackMs, undefined, 'no CUPED unless asked');
    assert.equal(plan.sticky, false);
  });

  it('cuped: true looks back 14 days, a duration is rounded up to whole days; sticky takes true or a duration', () => {
    const planOf = (experiment: string) =>
      normalizeExperiment(parseFlagFile(`f:\n  variations: { a: 1, b: 2 }\n  defaultRule: { variation: a }\n  experiment: { ${experiment}, metrics: [{ event: e, type: mean }] }\n`, { format: 'yaml' }).flags.f!)!;
    assert.equal(planOf('cuped: true').cupedLookbackMs, 14 * 86_400_000);
    assert.equal(planOf('cuped: 36h').cupedLookbackMs, 2 * 86_400_000);
    assert.equal(planOf('cuped: false').cupedLookbackMs, undefined);
    assert.equal(planOf('sticky: 30d').sticky, true);
    assert.deepEqual(lint(`f:\n  variations: { a: 1, b: 2 }\n  defaultRule: { variation: a }\n  experiment: { cuped: 6h, metrics: [{ event: e, type: mean }] }\n`), [
      'flags.yaml:4:17 f experiment.cuped: cuped is true, false or how far to look back before the first exposure (whole days, e.g. 14d), not "6h"',
    ]);
  });

  it('names the file, line, flag and field of every mistake, and rejects the flag', () => {
    const text = `f:
  variations: { on: true, off: false }
  defaultRule: { variation: off }
  experiment:
    control: onn
    start: yesterday
    attributionWindow: forever
    sticky: yes please
    engine: magic
    alpha: 5
    sequential: true
    metrics:
      - { type: binomial }
      - { event: revenue, type: median }
      - { event: clicks, type: ratio }
      - { event: buy, type: mean, denominator: view, value: max }
      - { event: buy, type: binomial, goal: true, guardrail: true }
`;
    const problems = lint(text);
    const expected = [
      'flags.yaml:5:14 f experiment.control: unknown variation "onn" (the flag has "on", "off")',
      'flags.yaml:6:12 f experiment.start: "yesterday" is not an RFC 3339 date',
      'flags.yaml:7:24 f experiment.attributionWindow: "forever" is not a duration (e.g. 24h, 72h, 7d)',
      'flags.yaml:8:13 f experiment.sticky: sticky is true, false or how long an assignment is kept (e.g. 30d), not "yes please"',
      'flags.yaml:9:13 f experiment.engine: engine is frequentist or bayesian, not "magic"',
      'flags.yaml:10:12 f experiment.alpha: alpha is a number above 0 and below 0.5 (e.g. 0.05), not 5',
      'flags.yaml:11:17 f experiment.sequential: sequential testing needs engine: frequentist',
      'flags.yaml:13:9 f experiment.metrics[0].event: missing: the tracked event this metric reads',
      'flags.yaml:14:36 f experiment.metrics[1].type: type is binomial, mean or ratio, not "median"',
      'flags.yaml:15:9 f experiment.metrics[2].denominator: missing: a ratio metric needs the denominator event',
      'flags.yaml:16:46 f experiment.metrics[3].denominator: only a ratio metric has a denominator (this one is mean)',
      'flags.yaml:16:59 f experiment.metrics[3].value: value is sum or count, not "max"',
      'flags.yaml:17:60 f experiment.metrics[4].guardrail: a metric is a goal or a guardrail, not both',
      'flags.yaml:17:9 f experiment.metrics[4].name: two metrics are named "buy": give one a distinct name',
    ];
    const strip = (line: string) => line.replace(/:\d+:\d+ /, ' ');
    for (const line of expected) assert.ok(problems.some((p) => strip(p) === strip(line)), `missing problem:\n${line}\nin:\n${problems.join('\n')}`);
    for (const problem of problems) assert.match(problem, /^flags\.yaml:\d+:\d+ f experiment/);
    assert.ok(problems.some((p) => p.startsWith('flags.yaml:5:')), 'the line of the control is reported');
    assert.equal(parseFlagFile(text, { format: 'yaml', source: 'flags.yaml' }).flags.f, undefined, 'a flag with a broken experiment is not served');
  });

  it('changes nothing in evaluation, and is dropped from the GO Feature Flag form', () => {
    const withExperiment = parseFlagFile(EXAMPLE, { format: 'yaml' }).flags;
    const without = structuredClone(withExperiment);
    delete without['checkout-button']!.experiment;
    const a = compileFlagSet(withExperiment);
    const b = compileFlagSet(without);
    const now = Date.parse('2026-11-15T00:00:00Z');
    for (let i = 0; i < 200; i++) {
      const context = { targetingKey: `user-${i}` };
      const x = evaluate(a, 'checkout-button', context, { now });
      const y = evaluate(b, 'checkout-button', context, { now });
      assert.deepEqual(x, y);
    }
    const goff = toGoFeatureFlagForm(withExperiment['checkout-button']!, {});
    assert.equal('experiment' in goff, false);
    assert.deepEqual(goff.experimentation, withExperiment['checkout-button']!.experimentation, "GO Feature Flag's window stays");
  });

  it('stickyVersion: a whole number that keeps assignments under another key, so raising it starts them over', () => {
    const flag = (extra: string) => `f:
  variations: { a: 1, b: 2 }
  defaultRule: { percentage: { a: 50, b: 50 } }
  experiment:
    metrics: [{ event: buy, type: binomial }]
${extra}`;
    assert.deepEqual(lint(flag('    sticky: true\n    stickyVersion: 2\n')), []);
    const noColumn = (problems: string[]) => problems.map((problem) => problem.replace(/^(flags\.yaml:\d+):\d+/, '$1'));
    assert.deepEqual(noColumn(lint(flag('    sticky: true\n    stickyVersion: -1\n'))), ['flags.yaml:7 f experiment.stickyVersion: stickyVersion is a whole number ≥ 0 (raise it to start the sticky assignments over), not -1']);
    assert.deepEqual(noColumn(lint(flag('    sticky: true\n    stickyVersion: "2"\n'))), ['flags.yaml:7 f experiment.stickyVersion: stickyVersion is a whole number ≥ 0 (raise it to start the sticky assignments over), not a string']);
    assert.match(lint(flag('    stickyVersion: 1\n')).join('\n'), /experiment\.stickyVersion: warning: stickyVersion has no effect: the experiment is not sticky/);

    const requestOf = (extra: string) => {
      const snapshot = compileFlagSet(parseFlagFile(flag(extra), { format: 'yaml' }).flags);
      const context = { targetingKey: 'user-7' };
      return stickyRequestFor(snapshot.flags.get('f')!, evaluate(snapshot, 'f', context), context, Date.now());
    };
    const first = requestOf('    sticky: true\n')!;
    assert.equal(first.unit, 'user-7');
    assert.deepEqual(requestOf('    sticky: true\n    stickyVersion: 0\n'), first, 'version 0 is the set kept before versions existed');
    const second = requestOf('    sticky: true\n    stickyVersion: 1\n')!;
    const third = requestOf('    sticky: true\n    stickyVersion: 2\n')!;
    assert.deepEqual({ ...second, unit: first.unit }, first, 'the same flag, variation and expiry');
    assert.equal(new Set([first.unit, second.unit, third.unit]).size, 3, 'each version keeps its assignments apart');
  });
});
