// Flags written out (writeFlagFile, what `vexil export --format` prints) or held in a snapshot document (what
// `vexil export` prints by default) read back as the same flags.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { FlagFileWriteError, formatProblem, parseFlagFile, writeFlagFile, type FlagDefinition, type FlagFileFormat, type SegmentDefinition } from '@vexil/core';

/** JSON with sorted keys: TOML writes plain keys before tables, so key order is not part of the content. */
function canonical(value: unknown): string {
  return JSON.stringify(value, (_key, inner: unknown) =>
    inner && typeof inner === 'object' && !Array.isArray(inner)
      ? Object.fromEntries(Object.entries(inner as Record<string, unknown>).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)))
      : inner,
  );
}

const name = fc.stringMatching(/^[a-z][a-z0-9_-]{0,11}$/);
const text = fc.string({ maxLength: 20 });
const scalar = fc.oneof(text, fc.integer(), fc.double({ noNaN: true, noDefaultInfinity: true }), fc.boolean());
const metadataValue = fc.oneof(scalar, fc.array(scalar, { maxLength: 3 }), fc.dictionary(name, scalar, { maxKeys: 3 }));
const QUERIES = ['country eq "fr"', 'email ew "@example.com"', 'appVersion ge 4.2.0', 'plan in ["pro", "team"] and beta eq true', '@staff', 'size gt 10'];

/** A valid flag: one variation type, rules with a variation or a split, a default, optional fields. */
const flagArb = fc
  .record({
    names: fc.uniqueArray(name, { minLength: 2, maxLength: 4 }),
    kind: fc.constantFrom('bool', 'string', 'number', 'object'),
    values: fc.array(fc.oneof(text, fc.integer({ min: -1e6, max: 1e6 }), fc.double({ min: -1e6, max: 1e6, noNaN: true })), { minLength: 4, maxLength: 4 }),
    rules: fc.array(fc.record({ query: fc.constantFrom(...QUERIES), split: fc.boolean(), pick: fc.nat(), named: fc.boolean() }), { maxLength: 3 }),
    defaultSplit: fc.boolean(),
    metadata: fc.option(fc.dictionary(name, metadataValue, { maxKeys: 3 }), { nil: undefined }),
    disable: fc.option(fc.boolean(), { nil: undefined }),
    trackEvents: fc.option(fc.boolean(), { nil: undefined }),
    version: fc.option(fc.constantFrom('1', '1.2', 'v3'), { nil: undefined }),
  })
  .map(({ names, kind, values, rules, defaultSplit, metadata, disable, trackEvents, version }) => {
    const variations: Record<string, unknown> = {};
    names.forEach((variation, index) => {
      const raw = values[index % values.length];
      variations[variation] =
        kind === 'bool' ? index % 2 === 0 : kind === 'string' ? String(raw) : kind === 'number' ? Number(raw) || index : { value: raw, index };
    });
    const split = Object.fromEntries(names.map((variation, index) => [variation, index + 1]));
    const flag: Record<string, unknown> = {
      variations,
      defaultRule: defaultSplit ? { percentage: split } : { variation: names[0] },
    };
    if (rules.length > 0) {
      flag.targeting = rules.map((rule, index) => ({
        ...(rule.named ? { name: `rule-${index}` } : {}),
        query: rule.query,
        ...(rule.split ? { percentage: split } : { variation: names[rule.pick % names.length] }),
      }));
    }
    if (metadata) flag.metadata = metadata;
    if (disable !== undefined) flag.disable = disable;
    if (trackEvents !== undefined) flag.trackEvents = trackEvents;
    if (version !== undefined) flag.version = version;
    return flag;
  });

const flagSetArb = fc.dictionary(name, flagArb, { minKeys: 1, maxKeys: 5 });
const SEGMENTS: Record<string, SegmentDefinition> = { staff: { query: 'email ew "@example.com"', description: 'Staff' } };

/** What a store holds for these raw flags: each flag as the core validated and normalised it. */
function stored(raw: Record<string, unknown>): Record<string, FlagDefinition> {
  const parsed = parseFlagFile(JSON.stringify({ $segments: SEGMENTS, ...raw }), { format: 'json', source: 'generated.json' });
  const errors = parsed.problems.filter((problem) => problem.severity === 'error');
  assert.deepEqual(errors.map(formatProblem), [], 'the generator makes valid flags');
  return parsed.flags;
}

function readBack(textOut: string, format: FlagFileFormat) {
  const parsed = parseFlagFile(textOut, { format, source: `export.${format}` });
  assert.equal(parsed.readable, true, parsed.problems.map(formatProblem).join('\n'));
  assert.deepEqual(parsed.problems.filter((problem) => problem.severity === 'error').map(formatProblem), []);
  return parsed;
}

describe('flag files round-trip', () => {
  for (const format of ['yaml', 'json', 'toml'] as const) {
    it(`writeFlagFile(${format}) then parseFlagFile gives the same flags and segments (property)`, () => {
      fc.assert(
        fc.property(flagSetArb, (raw) => {
          const flags = stored(raw);
          const back = readBack(writeFlagFile({ flags, segments: SEGMENTS }, format), format);
          assert.equal(canonical(back.flags), canonical(flags));
          assert.equal(canonical(back.segments), canonical(SEGMENTS));
        }),
        { numRuns: 150 },
      );
    });
  }

  it('a snapshot document (vexil export) reads as the flag file it holds, for lint, import, eval and serve (property)', () => {
    fc.assert(
      fc.property(flagSetArb, (raw) => {
        const flags = stored(raw);
        const doc = {
          format: 'vexil-snapshot/1',
          revision: 7,
          createdAt: '2026-12-01T00:00:00.000Z',
          hash: '0'.repeat(64),
          flags: Object.fromEntries(Object.entries(flags).map(([key, flag]) => [key, { flag, version: 3 }])),
          segments: SEGMENTS,
        };
        const back = readBack(JSON.stringify(doc, null, 2), 'json');
        assert.equal(canonical(back.flags), canonical(flags));
        assert.equal(canonical(back.segments), canonical(SEGMENTS));
      }),
      { numRuns: 100 },
    );
  });

  it('problems in a snapshot document point at the line inside it', () => {
    const doc = JSON.stringify(
      { format: 'vexil-snapshot/1', revision: 1, createdAt: '', hash: '', flags: { f: { flag: { variations: { a: 1 }, defaultRule: { variation: 'b' } }, version: 1 } }, segments: {} },
      null,
      2,
    );
    const parsed = parseFlagFile(doc, { source: 'export.json' });
    assert.deepEqual(parsed.problems.map(formatProblem), ['export.json:13:11 f defaultRule.variation: unknown variation "b" (the flag has "a")']);
    const broken = parseFlagFile(JSON.stringify({ format: 'vexil-snapshot/1', flags: { f: 42 } }), { source: 'bad.json' });
    assert.equal(broken.readable, false);
    assert.match(formatProblem(broken.problems[0]!), /^bad\.json:1:\d+ f: a snapshot document's flag entry must be/);
  });

  it('TOML refuses a null it cannot hold, naming where it is', () => {
    const flags = stored({ f: { variations: { a: true, b: false }, defaultRule: { variation: 'a' }, metadata: { owner: null } } });
    if (JSON.stringify(flags).includes('null')) {
      assert.throws(() => writeFlagFile({ flags }, 'toml'), (error: unknown) => error instanceof FlagFileWriteError && /f\.metadata\.owner/.test(error.message));
    }
    assert.equal(canonical(readBack(writeFlagFile({ flags }, 'yaml'), 'yaml').flags), canonical(flags));
  });
});
