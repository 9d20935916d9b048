// Issue 9, item 8: a flag nested thousands of levels deep passed validation and broke every route that serialises
// flags. Validation (so `vexil lint`, the file store and the admin API alike) now bounds a flag's depth and size.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { MAX_FLAG_DEPTH, MAX_FLAG_JSON_CHARS, formatProblem, jsonDepth, normalizeSegments, parseFlagFile, validateFlagDefinition } from '../src/index.js';

const nestedText = (depth: number): string => `${'{"a":'.repeat(depth)}1${'}'.repeat(depth)}`;

describe('flag depth and size limits', () => {
  it('reports a flag nested 4,000 levels deep as an error naming the limit, with its line (JSON and YAML files)', () => {
    const json = parseFlagFile(`{\n"ok": {"variations": {"a": 1}, "defaultRule": {"variation": "a"}},\n"poison": {"variations": {"a": 1}, "defaultRule": {"variation": "a"}, "metadata": ${nestedText(4000)}}\n}`, { format: 'json', source: 'flags.json' });
    assert.deepEqual(Object.keys(json.flags), ['ok']);
    const errors = json.problems.filter((problem) => problem.severity === 'error').map(formatProblem);
    assert.deepEqual(errors, [`flags.json:3:1 poison: the flag nests deeper than ${MAX_FLAG_DEPTH} levels (the limit on flag depth)`]);

    const yaml = `poison:\n  variations: { a: 1 }\n  defaultRule: { variation: a }\n  metadata: ${nestedText(60)}\n`;
    const fromYaml = parseFlagFile(yaml, { format: 'yaml', source: 'flags.yaml' });
    assert.deepEqual(Object.keys(fromYaml.flags), []);
    assert.match(formatProblem(fromYaml.problems[0]!), /^flags\.yaml:1:1 poison: the flag nests deeper than 32 levels/);
  });

  it('accepts a flag at the depth limit and refuses one level more', () => {
    // The flag is level 1, metadata level 2: metadata holding a value nested (limit - 2) deep reaches the limit.
    const at = (depth: number) => JSON.parse(`{"variations":{"a":1},"defaultRule":{"variation":"a"},"metadata":{"x":${nestedText(depth)}}}`);
    assert.deepEqual(validateFlagDefinition('f', at(MAX_FLAG_DEPTH - 2)).filter((p) => p.severity === 'error'), []);
    assert.equal(validateFlagDefinition('f', at(MAX_FLAG_DEPTH - 1)).filter((p) => p.severity === 'error').length, 1);
  });

  it('refuses a flag over 256 KiB of JSON', () => {
    const problems = validateFlagDefinition('big', { variations: { a: 'x'.repeat(MAX_FLAG_JSON_CHARS) }, defaultRule: { variation: 'a' } });
    assert.match(problems[0]!.message, /more than the limit of 262144/);
  });

  it('jsonDepth is iterative: it measures any depth without overflowing the stack, and stops past the limit', () => {
    const deep = JSON.parse(`${'['.repeat(200_000)}${']'.repeat(200_000)}`);
    assert.equal(jsonDepth(deep), 200_000);
    assert.equal(jsonDepth(deep, 10), 11);
    fc.assert(
      fc.property(fc.jsonValue({ maxDepth: 6 }), (value) => {
        const expected = (v: unknown): number => (v !== null && typeof v === 'object' ? 1 + Math.max(0, ...Object.values(v).map(expected)) : 0);
        assert.equal(jsonDepth(value), expected(value));
      }),
    );
  });
});

describe('reserved names (issue 9, item 16)', () => {
  it('a flag named __proto__, "." or "..", or with a lone surrogate, is an error in a file', () => {
    const flag = '{"variations":{"a":1},"defaultRule":{"variation":"a"}}';
    const file = parseFlagFile(`{"__proto__": ${flag}, ".": ${flag}, "..": ${flag}, "\\ud800": ${flag}, "fine": ${flag}}`, { format: 'json', source: 'f.json' });
    assert.deepEqual(Object.keys(file.flags), ['fine']);
    assert.equal(file.problems.filter((problem) => /reserved|lone UTF-16 surrogate/.test(problem.message)).length, 4);
    assert.equal(Object.getPrototypeOf(file.flags), Object.prototype);
  });

  it('a segment named __proto__, "." or ".." is an error', () => {
    const raw = JSON.parse('{"__proto__": "key eq \\"a\\"", ".": "key eq \\"a\\"", "..": "key eq \\"a\\"", "ok": "key eq \\"a\\""}');
    const { segments, problems } = normalizeSegments(raw, 's.json');
    assert.deepEqual(Object.keys(segments), ['ok']);
    assert.equal(problems.length, 3);
    assert.equal(Object.getPrototypeOf(segments), Object.prototype);
  });
});
