// YAML aliases expand with a limit: an alias bomb is refused as an unreadable file, quickly and with its line.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import fc from 'fast-check';
import { stringify as toYaml } from 'yaml';
import { checkYamlAliases, formatProblem, parseFlagFile } from '@vexil/core';

const BOMB = readFileSync(join(import.meta.dirname, 'fixtures', 'alias-bomb.yaml'), 'utf8');

describe('YAML aliases', () => {
  it('refuses a billion-laughs file (a few hundred bytes expanding to ~900 million values) with its file and line', () => {
    assert.ok(BOMB.length < 1000);
    const parsed = parseFlagFile(BOMB, { source: 'bomb.yaml' });
    assert.equal(parsed.readable, false, 'the file is refused as a whole, so the last good flags stay');
    assert.deepEqual(parsed.flags, {});
    assert.equal(parsed.problems.length, 1);
    const [problem] = parsed.problems;
    assert.equal(problem?.severity, 'error');
    assert.equal(problem?.line, 2, 'the line of the first alias');
    assert.match(formatProblem(problem!), /^bomb\.yaml:2:\d+: YAML aliases expand this file to [\d,]+ values, more than the limit of 1,000,000/);
  });

  it('refuses a long string repeated through aliases (expanded size)', () => {
    const text = `s: &s "${'x'.repeat(100_000)}"\nf:\n  variations: { a: [${Array(300).fill('*s').join(', ')}], b: [] }\n  defaultRule: { variation: a }\n`;
    const parsed = parseFlagFile(text, { source: 'long.yaml' });
    assert.equal(parsed.readable, false);
    assert.match(parsed.problems[0]!.message, /expand this file to [\d,]+ characters/);
  });

  it('refuses an alias that contains itself (a cycle)', () => {
    const parsed = parseFlagFile('f: &x\n  variations: { a: [*x], b: [] }\n  defaultRule: { variation: a }\n', { source: 'cycle.yaml' });
    assert.equal(parsed.readable, false);
    assert.match(parsed.problems[0]!.message, /cycle/);
  });

  it('keeps ordinary anchors and merge keys working', () => {
    let text = 'base: &base\n  variations: { on: true, off: false }\n  defaultRule: { variation: off }\n';
    for (let i = 0; i < 2000; i++) text += `f${i}:\n  <<: *base\n  metadata: { n: ${i} }\n`;
    const parsed = parseFlagFile(text, { source: 'merge.yaml' });
    assert.equal(parsed.readable, true, JSON.stringify(parsed.problems.slice(0, 2)));
    assert.equal(Object.keys(parsed.flags).length, 2001);
    assert.deepEqual(parsed.flags.f1999?.defaultRule, { variation: 'off' });
  });

  it('never limits a file without aliases, whatever its size (property)', () => {
    fc.assert(
      fc.property(fc.dictionary(fc.string({ minLength: 1 }), fc.jsonValue({ maxDepth: 4 })), (data) => {
        const text = toYaml(data, { aliasDuplicateObjects: false });
        const check = checkYamlAliases(JSON.parse(JSON.stringify(data)), text.length, { maxValues: 1, maxChars: 1 });
        assert.equal(check.ok, true, JSON.stringify(check));
      }),
      { numRuns: 300 },
    );
  });
});
