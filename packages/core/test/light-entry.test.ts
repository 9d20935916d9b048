// `@vexil/core/json`: the light entry point loads neither the YAML/TOML parsers nor the JsonLogic engine until a
// file or a query needs them; JSON files report problems with their line and column without the YAML parser.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import fc from 'fast-check';
import { compileFlags, parseFlagFile as fullParse, validateFlagSet, type ParsedFlagFile } from '../src/index.js';
import { readJsonFlagFile } from '../src/parse/json-file.js';
import { readFlagFile } from '../src/parse/flag-file.js';

/** What the light entry does with a JSON file (in this process the full entry is loaded too, so it is called directly). */
function lightParse(text: string, options: { source?: string }): ParsedFlagFile {
  const raw = readJsonFlagFile(text, options.source);
  if (!raw.data) return { flags: {}, segments: {}, problems: raw.problems, invalid: {}, readable: false };
  return validateFlagSet(raw.data, options.source, raw.locate);
}

test('the light entry loads YAML, TOML and JsonLogic code only when a file or query needs it', () => {
  const script = fileURLToPath(new URL('./fixtures/light-entry.ts', import.meta.url));
  const child = spawnSync(process.execPath, ['--conditions=source', '--import', 'tsx', script], { encoding: 'utf8', timeout: 60_000 });
  assert.equal(child.status, 0, child.stderr);
  const out = JSON.parse(child.stdout.trim().split('\n').at(-1)!) as Record<string, unknown>;
  assert.equal(out.parsersAtStart, false);
  assert.equal(out.jsonLogicAtStart, false);
  assert.equal(out.jsonValue, true);
  assert.equal(out.jsonByDefault, 1);
  assert.match(String(out.yamlSync), /YAML parser is not loaded.*compileFlagsAsync/);
  assert.match(String(out.jsonLogicWithoutEngine), /JsonLogic engine, which is not loaded/);
  assert.equal(out.usesJsonLogic, true);
  assert.equal(out.parsersAfterJson, false, 'a JSON file must not load the YAML parser');
  assert.equal(out.jsonLogicAfterJson, false);
  assert.equal(out.yamlAsyncValue, 'B');
  assert.equal(out.parsersAfterYaml, true);
  assert.equal(out.jsonLogicAfterYaml, false, 'a YAML file without JsonLogic must not load the engine');
  assert.deepEqual(out.jsonLogicAsync, [true, false]);
  assert.equal(out.jsonLogicAfter, true);
});

test('a JSON flag file with problems gets the same lines and columns from both entry points', () => {
  const text = JSON.stringify(
    {
      ok: { variations: { on: true, off: false }, defaultRule: { variation: 'on' } },
      'bad-rule': {
        variations: { on: true, off: false },
        targeting: [{ name: 'r1', query: 'a eq 1', variation: 'on' }, { query: 'b eq', variation: 'on' }],
        defaultRule: { variation: 'missing' },
      },
      'bad-type': { variations: { a: 'x', b: 2 }, defaultRule: { variation: 'a' }, extra: 1 },
    },
    null,
    2,
  );
  const full = fullParse(text, { format: 'json', source: 'flags.json' });
  const light = lightParse(text, { source: 'flags.json' });
  assert.ok(full.problems.length >= 3);
  assert.deepEqual(light.problems, full.problems);
  assert.ok(light.problems.every((problem) => typeof problem.line === 'number' && problem.line > 1));
});

test('invalid JSON is reported with its line and column, and changes nothing', () => {
  const text = '{\n  "a": {\n    "variations": { "on": true,, }\n  }\n}';
  const light = lightParse(text, { source: 'flags.json' });
  const full = fullParse(text, { format: 'json', source: 'flags.json' });
  assert.equal(light.readable, false);
  assert.deepEqual(light.problems, full.problems);
  assert.equal(light.problems[0]!.line, 3);
  assert.throws(() => compileFlags(text, { format: 'json' }));
});

test('the JSON locator finds every key of any JSON document where the YAML-based one does', () => {
  const key = fc.string({ minLength: 1, maxLength: 6 });
  const value = fc.letrec((tie) => ({
    node: fc.oneof({ depthSize: 'small' }, fc.jsonValue({ maxDepth: 0 }), fc.dictionary(key, tie('node'), { maxKeys: 4 }), fc.array(tie('node'), { maxLength: 3 })),
  })).node;
  fc.assert(
    fc.property(fc.dictionary(key, value, { minKeys: 1, maxKeys: 4 }), fc.boolean(), (data, pretty) => {
      const text = JSON.stringify(data, null, pretty ? 2 : 0);
      const located = readJsonFlagFile(text, undefined);
      const reference = readFlagFile(text, 'json').locate;
      for (const path of pathsOf(data)) assert.deepEqual(located.locate(path), reference(path), JSON.stringify(path));
    }),
    { numRuns: 200 },
  );
});

function pathsOf(value: unknown, prefix: Array<string | number> = []): Array<Array<string | number>> {
  const out: Array<Array<string | number>> = [];
  if (Array.isArray(value)) value.forEach((item, index) => out.push([...prefix, index], ...pathsOf(item, [...prefix, index])));
  else if (value !== null && typeof value === 'object') {
    for (const [key, inner] of Object.entries(value)) out.push([...prefix, key], ...pathsOf(inner, [...prefix, key]));
  }
  return out;
}
