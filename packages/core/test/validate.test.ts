import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { compileFlags, formatProblem, parseFlagFile, validateFlagDefinition, FlagValidationError } from '../src/index.js';

function lint(text: string, format: 'yaml' | 'json' | 'toml' = 'yaml') {
  return parseFlagFile(text, { format, source: `flags.${format}` }).problems.map(formatProblem).sort(byLine);
}

describe('lint: every problem with file, line, column, flag and field', () => {
  it('reports all problems of a YAML file at once', () => {
    const problems = lint(`ok:
  variations: { a: 1 }
  defaultRule: { variation: a }
broken:
  variations:
    a: true
    b: "no"
    c: null
  targeting:
    - name: r
      query: 'country eq'
      variation: a
    - name: r
      query: 'x eq 1'
      variation: zzz
    - query: 'x eq 1'
      percentage: { a: 0, b: 0 }
  defaultRul: { variation: a }
`);
    assert.deepEqual(problems, [
      'flags.yaml:4:1 broken defaultRule: missing defaultRule: every flag needs a default rule',
      'flags.yaml:7:5 broken variations.b: variation "b" is a string but "a" is a boolean: all variations must have one type',
      'flags.yaml:8:5 broken variations.c: variation "c" is null: variations must have a value',
      problems[3]!,
      'flags.yaml:13:7 broken targeting[1].name: duplicate rule name "r" (also targeting[0]); names must be unique so scheduled steps can patch them',
      'flags.yaml:15:7 broken targeting[1].variation: unknown variation "zzz" (the flag has "a", "b", "c")',
      'flags.yaml:17:7 broken targeting[2].percentage: the percentages sum to 0: no variation can be served',
      'flags.yaml:18:3 broken defaultRul: warning: unknown flag field "defaultRul" is ignored (did you mean "defaultRule"?)',
    ].sort(byLine));
    assert.match(problems[3]!, /^flags\.yaml:11:7 broken targeting\[0\]\.query: query does not parse at column \d+: /);
  });

  it('positions problems in JSON files', () => {
    const problems = lint('{\n  "f": {\n    "variations": {"a": 1},\n    "defaultRule": {"variation": "b"}\n  }\n}', 'json');
    assert.deepEqual(problems, ['flags.json:4:21 f defaultRule.variation: unknown variation "b" (the flag has "a")']);
  });

  it('positions problems in TOML files on the right line', () => {
    const problems = lint('[f]\nvariations = { a = 1 }\n\n[f.defaultRule]\nvariation = "b"\n', 'toml');
    assert.equal(problems.length, 1);
    assert.match(problems[0]!, /^flags\.toml:5:1 f defaultRule\.variation: unknown variation "b"/);
  });

  it('reports a file that does not parse, with its position, and keeps nothing from it', () => {
    const yaml = parseFlagFile('a:\n  variations: [\n', { source: 'x.yaml' });
    assert.equal(yaml.readable, false);
    assert.match(formatProblem(yaml.problems[0]!), /^x\.yaml:\d+:\d+: /);
    const json = parseFlagFile('{"a": }', { source: 'x.json' });
    assert.equal(json.readable, false);
    assert.match(formatProblem(json.problems[0]!), /^x\.json:1:7: invalid JSON/);
    const toml = parseFlagFile('[a\n', { source: 'x.toml' });
    assert.match(formatProblem(toml.problems[0]!), /^x\.toml:1:\d+: /);
    assert.throws(() => compileFlags('{"a": }', { source: 'x.json' }), FlagValidationError);
  });

  it('checks progressive rollouts, experimentation and scheduled steps', () => {
    const problems = validateFlagDefinition('p', {
      variations: { a: 1, b: 2 },
      defaultRule: {
        progressiveRollout: {
          initial: { variation: 'a', percentage: 50, date: '2026-02-01T00:00:00Z' },
          end: { variation: 'b', percentage: 10, date: 'not a date' },
        },
      },
      experimentation: { start: '2026-03-01T00:00:00Z', end: '2026-01-01T00:00:00Z' },
      scheduledRollout: [{ date: '2026-01-01T00:00:00Z', defaultRule: { variation: 'nope' } }],
    }).map(formatProblem);
    assert.deepEqual(problems, [
      'p defaultRule.progressiveRollout.end.date: "not a date" is not an RFC 3339 date',
      'p defaultRule.progressiveRollout.initial.percentage: the initial percentage (50) must not be above the end percentage (10)',
      'p experimentation.end: warning: the experiment ends before it starts: the flag is always disabled',
    ]);
    const stepProblems = validateFlagDefinition('p', {
      variations: { a: 1, b: 2 },
      defaultRule: { variation: 'a' },
      scheduledRollout: [{ date: '2026-01-01T00:00:00Z', defaultRule: { variation: 'nope' } }],
    }).map(formatProblem);
    // GO Feature Flag never validates the flag a step leaves (and keeps serving it): a warning, not an error.
    assert.deepEqual(stepProblems, [
      'p scheduledRollout[0]: warning: after the step of 2026-01-01T00:00:00Z: defaultRule.variation: unknown variation "nope" (the flag has "a", "b")',
    ]);
  });

  it('warns when a query mixes and/or without parentheses', () => {
    const problems = parseFlagFile(`f:
  variations: { a: 1, b: 2 }
  targeting:
    - query: 'a eq 1 or b eq 2 and c eq 3'
      variation: a
  defaultRule: { variation: b }
`, { source: 'w.yaml' }).problems;
    assert.equal(problems.length, 1);
    assert.equal(problems[0]!.severity, 'warning');
    assert.match(formatProblem(problems[0]!), /^w\.yaml:4:7 f targeting\[0\]\.query: warning: query column \d+: .*and.*or/);
  });

  it('accepts GO Feature Flag files in all three formats with the same result', () => {
    const yaml = `test-flag:\n  variations:\n    Default: false\n    False: false\n    True: true\n  targeting:\n    - name: rule1\n      query: key eq "random-key"\n      percentage:\n        False: 0\n        True: 100\n  defaultRule:\n    variation: Default\n  metadata:\n    description: this is a simple feature flag\n`;
    const json = JSON.stringify({ 'test-flag': { variations: { Default: false, False: false, True: true }, targeting: [{ name: 'rule1', query: 'key eq "random-key"', percentage: { False: 0, True: 100 } }], defaultRule: { variation: 'Default' }, metadata: { description: 'this is a simple feature flag' } } });
    const toml = `[test-flag.variations]\nDefault = false\nFalse = false\nTrue = true\n\n[[test-flag.targeting]]\nname = "rule1"\nquery = 'key eq "random-key"'\n\n[test-flag.targeting.percentage]\nFalse = 0\nTrue = 100\n\n[test-flag.defaultRule]\nvariation = "Default"\n\n[test-flag.metadata]\ndescription = "this is a simple feature flag"\n`;
    const defs = ['yaml', 'json', 'toml'].map((format, i) => parseFlagFile([yaml, json, toml][i]!, { format: format as 'yaml' }));
    for (const parsed of defs) assert.deepEqual(parsed.problems, []);
    assert.deepEqual(defs[0]!.flags, defs[1]!.flags);
    assert.deepEqual(defs[1]!.flags, defs[2]!.flags);
  });

  it('never throws on arbitrary text or data', () => {
    fc.assert(
      fc.property(fc.string(), fc.constantFrom('yaml', 'json', 'toml') as fc.Arbitrary<'yaml'>, (text, format) => {
        parseFlagFile(text, { format });
      }),
    );
    fc.assert(
      fc.property(fc.jsonValue(), (value) => {
        validateFlagDefinition('k', value);
        parseFlagFile(JSON.stringify({ k: value }), { format: 'json' });
      }),
    );
  });
});

function byLine(a: string, b: string): number {
  const line = (s: string) => Number(/:(\d+):/.exec(s)?.[1] ?? 0);
  return line(a) - line(b);
}
