// Quoted versions and numbers order as text (GO Feature Flag's result, kept), with a warning that says how to compare
// them as versions or numbers.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { compileFlags, compileQuery, evaluate, formatProblem } from '@vexil/core';

const warningsOf = (query: string): string[] => {
  const result = compileQuery(query);
  assert.ok(result.ok, query);
  return result.warnings.map((warning) => warning.message);
};

describe('quoted versions and numbers compared with lt gt le ge', () => {
  it('keep GO Feature Flag\'s result: "4.10.0" ge "4.2.0" is false', () => {
    const snapshot = compileFlags(
      `new-ui:\n  variations: { on: true, off: false }\n  targeting:\n    - query: 'appVersion ge "4.2.0"'\n      variation: on\n  defaultRule: { variation: off }\n`,
      { source: 'flags.yaml' },
    );
    assert.equal(evaluate(snapshot, 'new-ui', { targetingKey: 'u', appVersion: '4.10.0' }).value, false);
    assert.equal(evaluate(snapshot, 'new-ui', { targetingKey: 'u', appVersion: '4.3.0' }).value, true);
  });

  it('are reported as a warning with the unquoted form, where lint and the page show query warnings', () => {
    const text = `new-ui:\n  variations: { on: true, off: false }\n  targeting:\n    - query: 'appVersion ge "4.2.0"'\n      variation: on\n  defaultRule: { variation: off }\n`;
    const snapshot = compileFlags(text, { source: 'flags.yaml' });
    const warnings = snapshot.problems.filter((problem) => problem.severity === 'warning').map(formatProblem);
    assert.equal(warnings.length, 1, warnings.join('\n'));
    assert.match(warnings[0]!, /^flags\.yaml:4:\d+ new-ui targeting\[0\]\.query: .*"4\.2\.0" is quoted, so ge compares text.*write it unquoted: appVersion ge 4\.2\.0/);
    assert.ok(snapshot.flags.has('new-ui'), 'a warning, not an error: the flag is served');
  });

  it('covers numbers, short and prefixed versions, and each ordering operator', () => {
    assert.match(warningsOf('size gt "10"')[0]!, /write it unquoted: size gt 10 \(the context value must then be a number\)/);
    assert.match(warningsOf('app lt "v4.2"')[0]!, /write it unquoted: app lt 4\.2\.0 \(a version literal has three numbers/);
    assert.match(warningsOf('app le "1.0.0-beta.1"')[0]!, /write it unquoted: app le 1\.0\.0-beta\.1$/);
    assert.equal(warningsOf('a eq 1 and (app gt "2.0.0")').length, 1);
    for (const quiet of ['app eq "4.2.0"', 'app ge 4.2.0', 'name gt "abc"', 'size gt 10', 'app co "4.2.0"', 'app in ["4.2.0"]']) {
      assert.deepEqual(warningsOf(quiet), [], quiet);
    }
  });

  it('the suggested unquoted version compiles without the warning and orders as a version (property)', () => {
    const part = fc.nat({ max: 99 }).map(String);
    fc.assert(
      fc.property(fc.tuple(part, part, part), fc.tuple(part, part, part), fc.constantFrom('lt', 'gt', 'le', 'ge'), (a, b, op) => {
        const [literal, value] = [a.join('.'), b.join('.')];
        const [warning] = warningsOf(`app ${op} "${literal}"`);
        const suggested = /write it unquoted: (app \w\w \S+)/.exec(warning ?? '')?.[1];
        assert.equal(suggested, `app ${op} ${literal}`);
        const compiled = compileQuery(suggested!);
        assert.ok(compiled.ok && compiled.warnings.length === 0);
        const order = a.map(Number).reduce((c, x, i) => c || Math.sign(Number(b[i]) - x), 0); // value vs literal
        const expected = { lt: order < 0, gt: order > 0, le: order <= 0, ge: order >= 0 }[op];
        assert.equal(compiled.ok && compiled.query.matches({ app: value }), expected, `${value} ${op} ${literal}`);
      }),
      { numRuns: 300 },
    );
  });
});
