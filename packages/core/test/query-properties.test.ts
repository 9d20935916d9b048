// Property tests for the query compiler: it never throws, compiled queries never throw, and printing a query
// gives text that compiles to the same thing.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { compileQuery, type CompiledQuery, type QueryContext } from '../src/index.js';
import { parseNikunjy } from '../src/query/parser.js';
import { printQuery } from '../src/query/printer.js';

const TOKENS = [
  'x', 'y', 'a.b', 'user.email', 'AND', 'eq', 'EQ', 'ne', 'lt', 'gt', 'le', 'ge', 'co', 'sw', 'ew', 'in', 'IN', 'pr', 'and',
  'or', 'OR', 'not', 'NOT', '(', ')', '[', ']', ',', '"a"', '"B c"', '"\\""', '"', '1', '-2', '1.5', '2.5e3', '1e3', '1.0.0',
  '1.0.0-beta.1', 'true', 'false', 'null', '==', '!=', '<', '>', '<=', '>=', '=', '!', '@seg', '@', '.', '{', '}', ':',
  '"==":', '{"var":"x"}', '\n', '\t', '~', '007',
];

const tokenSoup = fc.array(fc.constantFrom(...TOKENS), { maxLength: 25 }).map((parts) => parts.join(' '));
const tokenSoupTight = fc.array(fc.constantFrom(...TOKENS), { maxLength: 25 }).map((parts) => parts.join(''));

const seg: CompiledQuery = { kind: 'nikunjy', text: 'x eq 1', matches: (c) => c['x'] === 1, usesIdentity: false };
const resolveSegment = (name: string) => (name === 'seg' ? seg : undefined);

function checkResult(text: string): void {
  const result = compileQuery(text, { resolveSegment });
  if (result.ok) {
    assert.equal(typeof result.query.matches({}), 'boolean');
    for (const w of result.warnings) assert.ok(Number.isInteger(w.column) && w.column >= 1 && w.column <= text.length + 1);
  } else {
    const { column, message } = result.error;
    assert.ok(Number.isInteger(column) && column >= 1 && column <= text.length + 1, `column ${column} for ${JSON.stringify(text)}`);
    assert.ok(typeof message === 'string' && message.length > 0);
  }
}

test('compileQuery never throws on arbitrary strings', () => {
  fc.assert(fc.property(fc.string({ unit: 'binary', maxLength: 60 }), (text) => checkResult(text)), { numRuns: 2000 });
  fc.assert(fc.property(fc.string({ maxLength: 60 }), (text) => checkResult(text)), { numRuns: 2000 });
});

test('compileQuery never throws on token soup', () => {
  fc.assert(fc.property(tokenSoup, (text) => checkResult(text)), { numRuns: 4000 });
  fc.assert(fc.property(tokenSoupTight, (text) => checkResult(text)), { numRuns: 2000 });
});

test('segmentReferences-free inputs: compileQuery never throws on JSON-ish text', () => {
  fc.assert(
    fc.property(fc.json(), (json) => checkResult(json)),
    { numRuns: 1000 },
  );
});

const SAMPLE_QUERIES = [
  'x eq 1',
  'x eq "a" or y.z ne "B"',
  'x in [1, 2, 3] or x in ["a"] or x in [1.5]',
  'a.b.c pr and not (a.b.c eq null)',
  'v gt 1.0.0-rc.1 and v lt 2.0.0',
  'x lt 10 and x ge 2.5 or y sw "ab" and y ew "z" or y co "q"',
  'x eq true or x ne false',
  'x eq 1 and y gt true',
  'constructor pr or toString eq "x" or __proto__.a eq 1',
  '@seg or not @seg',
  '{"==": [{"var": "x"}, 1]}',
  '{"in": [{"var": "y"}, ["a", "b"]]}',
  '{"some": [{"var": "list"}, {">": [{"var": ""}, 2]}]}',
  '{"cat": [{"var": "x"}, {"var": "y.z"}]}',
  '',
];

test('matches never throws on arbitrary contexts', () => {
  const queries = SAMPLE_QUERIES.map((text) => {
    const result = compileQuery(text, { resolveSegment });
    assert.ok(result.ok, text);
    return result.query;
  });
  const contexts = fc.oneof(
    fc.anything({ withNullPrototype: true, withBigInt: true, withDate: true, withMap: true, withSet: true, withTypedArray: true }),
    fc.object({ key: fc.constantFrom('x', 'y', 'a', 'v', 'list', '__proto__', 'constructor', 'toString', 'z', 'b', 'c') }),
    fc.record({ x: fc.anything(), y: fc.anything(), a: fc.anything(), v: fc.anything(), list: fc.anything() }, { requiredKeys: [] }),
  );
  fc.assert(
    fc.property(contexts, (context) => {
      for (const q of queries) assert.equal(typeof q.matches(context as QueryContext), 'boolean');
    }),
    { numRuns: 3000 },
  );
});

// Random well-formed queries, built as text from valid pieces.
const name = fc.constantFrom('a', 'b', 'c', 'user', 'x', 'AND', 'v-1', 'org:id');
const path = fc.array(name, { minLength: 1, maxLength: 3 }).map((parts) => parts.join('.'));
const stringLit = fc
  .string({ unit: fc.constantFrom('a', 'B', 'c', ' ', 'é', '\\"', '\\\\', '@', '.'), maxLength: 6 })
  .map((s) => `"${s}"`);
const intLit = fc.integer({ min: -1000, max: 1000 }).map(String);
const floatLit = fc.tuple(fc.integer({ min: -99, max: 99 }), fc.integer({ min: 0, max: 99 })).map(([i, f]) => `${i}.${f}`);
const versionLit = fc
  .tuple(fc.nat(3), fc.nat(3), fc.nat(3), fc.option(fc.constantFrom('alpha', '1', '10', 'beta.2', 'rc-1'), { nil: undefined }))
  .map(([a, b, c, pre]) => `${a}.${b}.${c}${pre === undefined ? '' : `-${pre}`}`);
const list = (item: fc.Arbitrary<string>) => fc.array(item, { minLength: 1, maxLength: 3 }).map((xs) => `[${xs.join(', ')}]`);
const relational = fc.constantFrom('eq', 'ne', 'lt', 'gt', 'le', 'ge', '==', '!=', '<', '>', '<=', '>=', 'EQ');

const comparison = fc.oneof(
  fc.tuple(path, fc.constantFrom('eq', 'ne', 'lt', 'gt', 'le', 'ge', 'co', 'sw', 'ew'), stringLit),
  fc.tuple(path, relational, fc.oneof(intLit, floatLit, versionLit)),
  fc.tuple(path, fc.constantFrom('eq', 'ne', '==', '!='), fc.constantFrom('true', 'false', 'null')),
  fc.tuple(path, fc.constantFrom('in', 'IN'), fc.oneof(list(stringLit), list(intLit), list(floatLit))),
  fc.tuple(path, fc.constant('pr'), fc.constant('')),
).map(([p, op, value]) => (value === '' ? `${p} ${op}` : `${p} ${op} ${value}`));

const { query } = fc.letrec<{ query: string; atom: string }>((tie) => ({
  atom: fc.oneof(
    { weight: 4, arbitrary: comparison },
    { weight: 1, arbitrary: tie('query').map((q) => `(${q})`) },
    { weight: 1, arbitrary: tie('query').map((q) => `not (${q})`) },
  ),
  query: fc
    .tuple(tie('atom'), fc.array(fc.tuple(fc.constantFrom('and', 'or', 'AND', 'OR'), tie('atom')), { maxLength: 3 }))
    .map(([first, rest]) => first + rest.map(([op, atom]) => ` ${op} ${atom}`).join('')),
}));

const valueArb = fc.oneof(
  fc.integer({ min: -5, max: 5 }),
  fc.double({ min: -5, max: 5, noNaN: true }),
  fc.constantFrom('a', 'B', 'abc', '1.0.0', '0.1.0-alpha', '1.2.3-rc-1', '', 'é'),
  fc.boolean(),
  fc.constant(null),
);
const contextArb = fc.letrec<{ obj: Record<string, unknown>; value: unknown }>((tie) => ({
  value: fc.oneof({ depthSize: 'small' }, valueArb, tie('obj')),
  obj: fc.dictionary(fc.constantFrom('a', 'b', 'c', 'user', 'x', 'AND', 'v-1', 'org:id'), tie('value'), { maxKeys: 4 }),
})).obj;

test('printing a parsed query round-trips to the same text and the same results', () => {
  fc.assert(
    fc.property(query, fc.array(contextArb, { minLength: 1, maxLength: 5 }), (text, contexts) => {
      const first = compileQuery(text);
      if (!first.ok) {
        // Only a comparison that GOFF would reject when validating (none are generated) may fail.
        assert.fail(`${text}: ${first.error.message}`);
      }
      const printed = printQuery(parseNikunjy(text).root);
      const again = compileQuery(printed);
      assert.ok(again.ok, `${printed} does not compile`);
      assert.equal(printQuery(parseNikunjy(printed).root), printed);
      for (const context of contexts) {
        assert.equal(again.query.matches(context), first.query.matches(context), `${text} vs ${printed} on ${JSON.stringify(context)}`);
      }
    }),
    { numRuns: 1500 },
  );
});

test('not (q) is the negation of q whenever q cannot fail', () => {
  // Without invalid operations or paths through scalars, a query never fails, so not() negates it exactly.
  fc.assert(
    fc.property(query, contextArb, (text, context) => {
      const q = compileQuery(text);
      const negated = compileQuery(`not (${text})`);
      assert.ok(q.ok && negated.ok);
      const scalarPath = /[A-Za-z0-9_:-]\.[A-Za-z]/.test(text);
      if (!scalarPath) assert.equal(negated.query.matches(context), !q.query.matches(context), text);
    }),
    { numRuns: 1500 },
  );
});
