// Behaviours of GOFF's query languages that are easy to get wrong, plus our own diagnostics and segments.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { compileQuery, segmentReferences, type CompiledQuery, type QueryContext } from '../src/index.js';
import type { CompileQueryOptions } from '../src/query/index.js';

function compiled(text: string, options?: CompileQueryOptions): CompiledQuery {
  const result = compileQuery(text, options);
  if (!result.ok) assert.fail(`${JSON.stringify(text)} did not compile: ${result.error.message} (column ${result.error.column})`);
  return result.query;
}

function matches(text: string, context: QueryContext, options?: CompileQueryOptions): boolean {
  return compiled(text, options).matches(context);
}

function compileError(text: string, options?: CompileQueryOptions): { message: string; column: number } {
  const result = compileQuery(text, options);
  if (result.ok) assert.fail(`${JSON.stringify(text)} compiled but should not`);
  return result.error;
}

function warnings(text: string) {
  const result = compileQuery(text);
  if (!result.ok) assert.fail(result.error.message);
  return result.warnings;
}

test('empty and blank queries match everything', () => {
  for (const text of ['', '   ', '\n  \n', '\t']) {
    const q = compiled(text);
    assert.equal(q.kind, 'match-all');
    assert.equal(q.text, text);
    assert.equal(q.matches({}), true);
  }
});

test('kinds and text', () => {
  assert.equal(compiled('x eq 1').kind, 'nikunjy');
  assert.equal(compiled('{"==": [1, 1]}').kind, 'jsonlogic');
  assert.equal(compiled(' x eq 1 ').text, ' x eq 1 ');
});

test('string comparisons ignore case on both sides; in does not', () => {
  assert.equal(matches('email eq "JOHN@example.com"', { email: 'john@EXAMPLE.com' }), true);
  assert.equal(matches('email ne "JOHN@example.com"', { email: 'john@EXAMPLE.com' }), false);
  assert.equal(matches('name co "OH"', { name: 'John' }), true);
  assert.equal(matches('name in ["John"]', { name: 'john' }), false);
  assert.equal(matches('name in ["John"]', { name: 'John' }), true);
});

test('lower-casing follows Go (per code point), ordering follows code points', () => {
  assert.equal(matches('x eq "i"', { x: 'İ' }), true); // JavaScript's toLowerCase gives "i̇"
  assert.equal(matches('x eq "ΟΔΟΣ"', { x: 'οδοσ' }), true); // no final-sigma rule in Go
  assert.equal(matches('x eq "straße"', { x: 'STRAßE' }), true);
  assert.equal(matches('x gt "\uffff"', { x: '😀' }), true); // U+1F600 sorts after U+FFFF
  assert.equal(matches('x lt "é"', { x: 'z' }), true);
});

test('operator keywords: lower or upper case, and symbols', () => {
  assert.equal(matches('x EQ 1 AND y NE 2', { x: 1, y: 3 }), true);
  assert.equal(matches('x eq 1 OR y eq 2', { x: 0, y: 2 }), true);
  assert.equal(matches('NOT (x eq 1)', { x: 2 }), true);
  assert.equal(matches('x PR', { x: 0 }), true);
  assert.equal(matches('x >= 2 and x <= 4 and x != 3 and x > 1 and x < 5 and x == 2', { x: 2 }), true);
  const error = compileError('x Eq 1');
  assert.match(error.message, /lower or upper case/);
  assert.equal(error.column, 3);
});

test('keywords are attribute names where GOFF reads them so', () => {
  assert.equal(matches('AND eq 1', { AND: 1 }), true);
  assert.equal(matches('x.AND eq 1', { x: { AND: 1 } }), true);
  assert.equal(matches('order eq 1 and ANDROID eq 2', { order: 1, ANDROID: 2 }), true);
  assert.equal(matches('x eq "AND"', { x: 'and' }), true);
});

test('a missing attribute makes the comparison false, not its negation', () => {
  assert.equal(matches('x ne 1', {}), false);
  assert.equal(matches('not (x eq 1)', {}), true);
  assert.equal(matches('x ne "a"', {}), false);
  assert.equal(matches('x lt 5', { x: null }), false);
  assert.equal(matches('x ne true', {}), false);
});

test('wrong types are false without failing the query', () => {
  assert.equal(matches('x eq 1 or y eq 2', { x: 'one', y: 2 }), true);
  assert.equal(matches('x gt 1.5', { x: '2' }), false);
  assert.equal(matches('x eq "true"', { x: true }), false);
  assert.equal(matches('x eq 1.0.0', { x: { v: 1 } }), false);
  assert.equal(matches('x in [1, 2]', { x: [1] }), false);
  assert.equal(matches('x co "a"', { x: ['a'] }), false);
});

test('and/or share one precedence level and group left to right', () => {
  // (a or b) and c
  assert.equal(matches('a eq 1 or b eq 1 and c eq 1', { a: 1, b: 0, c: 0 }), false);
  // (a and b) or c
  assert.equal(matches('a eq 1 and b eq 1 or c eq 1', { a: 0, b: 0, c: 1 }), true);
  // explicit grouping changes it
  assert.equal(matches('a eq 1 or (b eq 1 and c eq 1)', { a: 1, b: 0, c: 0 }), true);
});

test('mixing and/or on one level warns with the column of the later operator', () => {
  const text = 'a eq 1 or b eq 1 and c eq 1';
  const list = warnings(text);
  assert.equal(list.length, 1);
  assert.equal(list[0]!.column, text.indexOf('and') + 1);
  assert.match(list[0]!.message, /mixes "and" and "or" without parentheses; they group left to right: \(a eq 1 or b eq 1\) and c eq 1/);
  assert.deepEqual(warnings('a eq 1 or (b eq 1 and c eq 1)'), []);
  assert.deepEqual(warnings('a eq 1 and b eq 1 and c eq 1'), []);
  // Each parenthesis level is judged on its own.
  const nested = 'x eq 1 and (a eq 1 or b eq 1 and c eq 1)';
  const inner = warnings(nested);
  assert.equal(inner.length, 1);
  assert.equal(inner[0]!.column, nested.lastIndexOf('and') + 1);
});

test('short-circuit: the right side is not evaluated when the left decides', () => {
  let calls = 0;
  const seg: CompiledQuery = { kind: 'nikunjy', text: 'x', matches: () => (calls++, true), usesIdentity: false };
  const options = { resolveSegment: () => seg };
  const andQuery = compiled('a eq 1 and @s', options);
  const orQuery = compiled('a eq 1 or @s', options);
  calls = 0;
  assert.equal(andQuery.matches({ a: 0 }), false);
  assert.equal(calls, 0);
  assert.equal(orQuery.matches({ a: 1 }), true);
  assert.equal(calls, 0);
  assert.equal(orQuery.matches({ a: 0 }), true);
  assert.equal(calls, 1);
});

test('null and pr', () => {
  assert.equal(matches('x eq null', {}), true);
  assert.equal(matches('x eq null', { x: null }), true);
  assert.equal(matches('x eq null', { x: 0 }), false);
  assert.equal(matches('x ne null', { x: false }), true);
  assert.equal(matches('x pr', { x: false }), true);
  assert.equal(matches('x pr', { x: undefined }), false);
  assert.equal(matches('x.y pr', { x: { y: [] } }), true);
  assert.equal(compileError('x gt null').column, 3);
});

test('semver with prerelease', () => {
  assert.equal(matches('v gt 1.0.0-10', { v: '1.0.0-11' }), true);
  assert.equal(matches('v gt 1.0.0-10', { v: '1.0.0-2' }), false);
  assert.equal(matches('v lt 1.0.0', { v: '1.0.0-rc.1' }), true);
  assert.equal(matches('v eq 1.2.3', { v: '1.2.3+build.7' }), true);
  assert.equal(matches('v lt 1.0.0-1', { v: '1.0.0-alpha' }), false); // numeric ranks below alphanumeric
  assert.equal(matches('v gt 18446744073709551614.0.0', { v: '18446744073709551615.0.0' }), true);
  assert.equal(matches('v gt 1.0.0', { v: '18446744073709551616.0.0' }), false); // overflows uint64: not a version
  assert.equal(matches('v ge 1.0.0', { v: ' 1.0.0' }), false);
});

test('integer literals truncate the attribute; int lists need an integer', () => {
  assert.equal(matches('n eq 42', { n: 42.9 }), true);
  assert.equal(matches('n eq 42', { n: 42.0 }), true);
  assert.equal(matches('n ge 43', { n: 42.99 }), false);
  assert.equal(matches('n in [42]', { n: 42.5 }), false);
  assert.equal(matches('n in [42]', { n: 42 }), true);
  assert.equal(matches('n in [42.5]', { n: 42.5 }), true);
  assert.equal(matches('n in [1.0, 2.0]', { n: 2 }), true);
  assert.equal(matches('n in [-1, 9223372036854775807]', { n: -1 }), true);
  assert.equal(matches('n lt 9223372036854775807', { n: 1e18 }), true);
  assert.equal(matches('n eq 1', { n: Infinity }), false);
});

test('nested paths, odd names and inherited keys', () => {
  assert.equal(matches('a.b.c.d eq "x"', { a: { b: { c: { d: 'x' } } } }), true);
  assert.equal(matches('a.b.c.d eq "x"', { a: { b: null } }), false);
  assert.equal(matches('org:team-id eq 3', { 'org:team-id': 3 }), true);
  assert.equal(matches('_private eq 1 and $meta.a eq 2', { _private: 1, $meta: { a: 2 } }), true);
  assert.equal(matches('constructor pr', {}), false);
  assert.equal(matches('toString pr or x.constructor pr', { x: {} }), false);
  assert.equal(matches('x.__proto__ pr', { x: {} }), false);
  assert.equal(matches('__proto__ eq 1', JSON.parse('{"__proto__": 1}') as QueryContext), true);
  assert.equal(matches('x.y eq 1', { x: Object.assign(Object.create(null) as object, { y: 1 }) as unknown as QueryContext }), true);
});

test('a path through a non-object fails the whole query (nikunjy panics)', () => {
  assert.equal(matches('x.y eq 1 or z eq 1', { x: 'text', z: 1 }), false);
  assert.equal(matches('z eq 1 or x.y eq 1', { x: 'text', z: 1 }), true);
  assert.equal(matches('not (x.y pr)', { x: 3 }), false);
});

test('invalid operations: compile error when GOFF validation reaches them, else the whole query fails', () => {
  const error = compileError('x eq 1 or y gt true');
  assert.equal(error.column, 'x eq 1 or y '.length + 1);
  assert.match(error.message, /"gt" cannot be used with a boolean/);
  // GOFF validates with an empty context; `and` short-circuits there, so it accepts this query.
  const result = compileQuery('x eq 1 and y gt true');
  assert.ok(result.ok);
  assert.equal(result.query.matches({ x: 1, y: true }), false);
  assert.equal(result.warnings.length, 1);
  assert.equal(result.warnings[0]!.column, 'x eq 1 and y '.length + 1);
  assert.equal(matches('x eq null or (y eq 1 and z sw 5)', { x: 1, y: 1 }), false);
});

test('always-false comparisons are reported as warnings', () => {
  const list = warnings('x eq ["a", "b"] or y in "abc"');
  assert.equal(list.length, 2);
  assert.match(list[0]!.message, /did you mean "in"/);
  assert.match(list[1]!.message, /"in" needs a list/);
});

test('string literals: escapes kept as written, GOFF line joining inside strings', () => {
  assert.equal(matches('x eq "a\\"b"', { x: 'a\\"b' }), true);
  assert.equal(matches('x eq "tab\\there"', { x: 'tab\\there' }), true);
  assert.equal(matches('x eq "\\u0041"', { x: '\\u0041' }), true);
  assert.equal(matches('x eq "multi\n    line"', { x: 'multiline' }), true);
  assert.equal(matches('x eq "a\\\\"', { x: 'a\\\\' }), true);
  assert.equal(matches('x eq ""', { x: '' }), true);
});

test('multi-line queries', () => {
  const text = `
    (company eq "acme")
    and
    (role in ["admin",
              "owner"])
  `;
  assert.equal(matches(text, { company: 'ACME', role: 'owner' }), true);
});

test('columns in error messages point at the offending token', () => {
  const cases: [string, number, RegExp][] = [
    ['x eq', 5, /expected a value after "eq"/],
    ['x eq   ', 5, /expected a value after "eq"/],
    ['x eq abc', 6, /expected a value after "eq", found "abc"/],
    ['x eq "abc', 6, /unterminated string/],
    ['x eq 1)', 7, /unexpected "\)"/],
    [')', 1, /unexpected "\)"/],
    ['(x eq 1', 8, /missing "\)" to close "\(" at column 1/],
    ['x ~ 1', 3, /unexpected character "~"/],
    ['x', 2, /expected an operator after "x"/],
    ['x foo 1', 3, /expected an operator after "x".*found "foo"/],
    ['x eq 1 y eq 2', 8, /expected "and" or "or" before "y"/],
    ['x = 1', 3, /"=" is not an operator/],
    ['x eq 007', 6, /leading zeros/],
    ['x in [1, "a"]', 10, /mixes integers and strings/],
    ['x in []', 7, /at least one value/],
    ['not x eq 1', 5, /must be followed by a parenthesised condition/],
    ['x eq 1 and\n@nope', 12, /unknown segment "nope"/],
    ['a.b. eq 1', 5, /attribute name after "."/],
    ['x eq "bad \\q"', 11, /invalid escape "\\q"/],
    ['x eq 12345678901234567890', 6, /out of range/],
    ['x in [1.5, 2.5', 15, /missing "\]"/],
  ];
  for (const [text, column, pattern] of cases) {
    const error = compileError(text);
    assert.match(error.message, pattern, text);
    assert.equal(error.column, column, `${text}: ${error.message}`);
  }
});

test('segments: resolved at compile time, evaluated on the same context', () => {
  const staff = compiled('email ew "@acme.com"');
  const beta = compiled('beta eq true');
  const resolveSegment = (name: string) => ({ staff, 'beta-users': beta })[name];
  const q = compiled('@staff or (@beta-users and country eq "FR")', { resolveSegment });
  assert.equal(q.matches({ email: 'a@acme.com' }), true);
  assert.equal(q.matches({ email: 'a@b.c', beta: true, country: 'fr' }), true);
  assert.equal(q.matches({ email: 'a@b.c', beta: true, country: 'de' }), false);
  assert.equal(matches('not @staff', { email: 'a@b.c' }, { resolveSegment }), true);
  assert.equal(matches('NOT (@staff)', { email: 'a@acme.com' }, { resolveSegment }), false);
  const error = compileError('x eq 1 or @unknown-one', { resolveSegment });
  assert.equal(error.message, 'unknown segment "unknown-one"');
  assert.equal(error.column, 11);
  assert.equal(compileError('@staff').message, 'unknown segment "staff"'); // no resolver
});

test('segmentReferences lists @names once, ignoring strings, and nothing for JsonLogic', () => {
  assert.deepEqual(segmentReferences('@a and (@b.c or not @a) and x eq "@d"'), ['a', 'b.c']);
  assert.deepEqual(segmentReferences('{"==": [{"var": "@a"}, 1]}'), []);
  assert.deepEqual(segmentReferences(''), []);
  assert.deepEqual(segmentReferences('@a and x ~ @b'), ['a', 'b']); // tolerant of syntax errors
});

test('JsonLogic: matching, falsy results, runtime errors', () => {
  assert.equal(matches('{"==": [{"var": "key"}, "abc"]}', { key: 'abc' }), true);
  assert.equal(matches('{"==": [{"var": "key"}, "def"]}', { key: 'abc' }), false);
  assert.equal(matches('{"cat": ["t", "r", "u", "e"]}', {}), true);
  assert.equal(matches('{"in": ["@acme.com", {"var": "email"}]}', { email: 'x@acme.com' }), true);
  for (const falsy of ['false', 'null', '""', '0', '[]']) {
    assert.equal(matches(`{"if": [true, ${falsy}, 1]}`, {}), false, falsy);
  }
  for (const truthy of ['"false"', '"0"', '[0]', '{"var": "obj"}', '-1', '0.5']) {
    assert.equal(matches(`{"if": [true, ${truthy}, 0]}`, { obj: {} }), true, truthy);
  }
  assert.equal(matches('{"var": "missing"}', {}), false);
  assert.equal(matches('{"throw": "boom"}', {}), false);
  // GOFF trims each line's leading spaces before deciding the format.
  assert.equal(matches('{\n  "==": [\n    {"var": "a.b"},\n    1\n  ]\n}', { a: { b: 1 } }), true);
});

test('JsonLogic: unknown operator and invalid JSON are compile errors', () => {
  const error = compileError('{"=": [{"var": "key"}, "abc"]}');
  assert.equal(error.message, 'unknown JsonLogic operator "="');
  assert.equal(error.column, 2);
  const nested = compileError('{"and": [true, {"foo": [1]}]}');
  assert.match(nested.message, /"foo"/);
  assert.equal(nested.column, 17);
  const bad = compileError('{"==": [{"var": "key"}, "abc"]');
  assert.match(bad.message, /invalid JSON/);
  // Not an object: read as nikunjy, which rejects it.
  assert.equal(compileQuery('[1, 2]').ok, false);
});

test('matches tolerates any context shape', () => {
  const q = compiled('x eq 1 or x pr');
  for (const context of [null, undefined, 5, 'str', [], [1], new Date(0), { x: Symbol('s') }, { x: 10n }]) {
    assert.equal(typeof q.matches(context as unknown as QueryContext), 'boolean');
  }
  const json = compiled('{"var": "x"}');
  assert.equal(json.matches(null as unknown as QueryContext), false);
});

test('long chains evaluate without deep recursion', () => {
  const many = Array.from({ length: 5000 }, (_, i) => `x eq ${i}`).join(' or ');
  const q = compiled(many);
  assert.equal(q.matches({ x: 4999 }), true);
  assert.equal(q.matches({ x: 5000 }), false);
  const deep = '('.repeat(5000) + 'x eq 1' + ')'.repeat(5000);
  const result = compileQuery(deep);
  assert.equal(result.ok, false);
});

test('mixed-case logical keywords get a precise message', () => {
  const error = compileError('x eq 1 And y eq 2');
  assert.equal(error.column, 8);
  assert.match(error.message, /write "and" in lower or upper case/);
  assert.match(compileError('(x eq 1 Or y eq 2)').message, /write "or" in lower or upper case/);
});

test('JsonLogic: an operation object with several keys is rejected', () => {
  const error = compileError('{"==": [1, 1], "!=": [1, 2]}');
  assert.match(error.message, /must be the only key of its object/);
});
