// Conformance table for the nikunjy query dialect as GO Feature Flag runs it.
//
// The cases restate, in our own structure, what nikunjy/rules' parser tests (parse_simple_test.go,
// parse_logical_test.go, evaluate_test.go) and GOFF's modules/core/flag/rule_test.go pin down. Expectations:
//   true / false       the query compiles and matches / does not match
//   'compile-error'    GOFF rejects the query when loading the flag: it does not parse, or evaluating it against
//                      an empty context returns an error (nikunjy's "hasError" for an invalid operation)
//   'no-match-error'   the query compiles, but evaluating it on this input is an error in GOFF: no match
// Like nikunjy's tests, every compiling case is also checked wrapped in parentheses.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { compileQuery, type QueryContext } from '../src/index.js';

type Expect = boolean | 'compile-error' | 'no-match-error';
type Case = readonly [rule: string, input: QueryContext | null, expect: Expect];

interface Group {
  name: string;
  cases: Case[];
  /** Inputs for which every compiling rule of the group must be false (nikunjy re-checks these). */
  alsoFalseFor?: QueryContext[];
}

const groups: Group[] = [
  {
    name: 'versions',
    alsoFalseFor: [{ x: 4.5 }],
    cases: [
      ['x EQ 1.0.0', { x: '1.0.0' }, true],
      ['x EQ 1.0.0', { x: 2 }, false],
      ['x EQ 1.0.0', { y: '1.0.0' }, false],
      ['x EQ 1.0.0', {}, false],
      ['x EQ 1.0.0', { x: '1.1.1' }, false],
      ['x NE 1.0.0', { x: '1.0.0.' }, false],
      ['x NE 1.0.0', { x: 2.3 }, false],
      ['x NE 1.0.0', { x: '1.1.0' }, true],
      ['x LT 1.1.0', { x: '1.0.0' }, true],
      ['x LT 1.1.0', { x: '2.0.0' }, false],
      ['x LT 1.1.0', { x: 1 }, false],
      ['x LE 1.1.0', { x: '1.1.0' }, true],
      ['x LE 1.1.0', { x: '1.0.0' }, true],
      ['x LE 1.1.0', { x: '2.0.0' }, false],
      ['x LE 1.1.0', { x: 2 }, false],
      ['x GT 1.1.0', { x: '2.0.0' }, true],
      ['x GT 1.1.0', { x: '1.0.0' }, false],
      ['x GT 1.1.0', { x: 1 }, false],
      ['x GE 1.1.0', { x: '2.0.0' }, true],
      ['x GE 1.1.0', { x: '1.0.0' }, false],
      ['x GE 1.1.0', { x: '1.1.0' }, true],
      ['x GE 1.1.0', { x: 1 }, false],
      ['x CO 1.1.0', { x: '1.0.0' }, 'compile-error'],
      ['x SW 1.1.0', { x: '1.0.0' }, 'compile-error'],
      ['x EW 1.1.0', { x: '1.0.0' }, 'compile-error'],
      ['x in 1.1.0', { x: '1.1.0' }, 'compile-error'],
      // GOFF's fork of nikunjy parses prereleases and orders numeric identifiers numerically.
      ['version gt 1.0.0-10', { version: '1.0.0-11' }, true],
      ['version gt 1.0.0-10', { version: '1.0.0-2' }, false],
      ['version gt 0.4.0-beta.1', { version: '0.4.0' }, true],
      ['version gt 0.4.0-beta.1', { version: '0.4.0-beta.2' }, true],
      ['version lt 0.4.0-beta.1', { version: '0.4.0-alpha' }, true],
      ['version lt 1.0.0-alpha.1', { version: '1.0.0-alpha' }, true],
      ['version gt 1.0.0-alpha.1', { version: '1.0.0-alpha.beta' }, true],
      ['version lt 1.0.0-rc.1', { version: '1.0.0-beta.11' }, true],
      ['version eq 1.0.0+build.1', { version: '1.0.0+other' }, true],
      ['version eq 1.0.0', { version: 'v1.0.0' }, false],
      ['version eq 1.0.0', { version: '01.0.0' }, false],
      ['version ge 10.0.0', { version: '9.99.99' }, false],
    ],
  },
  {
    name: 'lists of strings',
    cases: [
      ['x IN ["abc", "cde", "fgh"]', { x: 'abc' }, true],
      ['y eq 5 and x IN ["abc", "cde", "fgh"]', { x: 'abc', y: 5 }, true],
      ['y eq 5 and (x IN ["abc","cde","fgh"])', { x: 'cde', y: 5 }, true],
      ['y eq 5 and not (x IN ["abc","cde","fgh"])', { x: 'abc', y: 5 }, false],
      ['x IN ["abc", "cde", "fgh"]', { x: 'xyz' }, false],
      ['x in ["abc", "cde"]', { x: 'ABC' }, false],
      ['x in ["abc"]', { x: 1 }, false],
      ['x in ["abc"]', {}, false],
      ['x eq ["abc"]', { x: 'abc' }, false],
    ],
  },
  {
    name: 'lists of decimals',
    alsoFalseFor: [{ x: 'abc' }],
    cases: [
      ['x IN [1.1, 2.2, 3.3]', { x: 1.1 }, true],
      ['y eq 5 and x IN [1.1, 2.1, 3.3]', { x: 1.1, y: 5 }, true],
      ['y eq 5 and (x IN [1.4, 2.1, 3.3])', { x: 1.4, y: 5 }, true],
      ['y eq 5 and not (x IN [1.1, 2.2, 3.3])', { x: 1.1, y: 5 }, false],
      ['x IN [1.0, 2.2, 3.3]', { x: 4.0 }, false],
      ['x in [1.0, 2.5]', { x: 1 }, true],
      ['x co [1.0, 2.5]', { x: 1 }, 'compile-error'],
    ],
  },
  {
    name: 'lists of integers',
    alsoFalseFor: [{ x: '123' }],
    cases: [
      ['x IN [1, 2, 3]', { x: 1 }, true],
      ['y eq 5 and x IN [1, 2, 3]', { x: 1, y: 5 }, true],
      ['y eq 5 and (x IN [1, 2, 3])', { x: 1, y: 5 }, true],
      ['y eq 5 and not (x IN [1, 2, 3])', { x: 1, y: 5 }, false],
      ['x IN [1, 2, 3]', { x: 4 }, false],
      ['x in [1, 2, 3]', { x: 2.5 }, false],
      ['x in [1, 2, 3]', {}, false],
      ['x sw [1, 2]', { x: 1 }, 'compile-error'],
    ],
  },
  {
    name: 'present',
    cases: [
      ['x pr', { x: true }, true],
      ['x pr', {}, false],
      ['not (x pr)', { x: true }, false],
      ['NOT (x pr)', { x: true }, false],
      ['x pr', { x: false }, true],
      ['x pr', { x: null }, false],
      ['x pr', { x: '' }, true],
      ['x pr', { x: 0 }, true],
    ],
  },
  {
    name: 'null',
    cases: [
      ['x eq null', { x: true }, false],
      ['x EQ null', { x: true }, false],
      ['x ne null', { x: true }, true],
      ['x eq null', { x: null }, true],
      ['x eq null', {}, true],
      ['x ne null', {}, false],
      ['x == null', {}, true],
      ['x lt null', { x: null }, 'compile-error'],
      ['x le null', { x: null }, 'compile-error'],
      ['x ge null', { x: null }, 'compile-error'],
      ['x gt null', { x: null }, 'compile-error'],
      ['x co null', { x: null }, 'compile-error'],
      ['x sw null', { x: null }, 'compile-error'],
      ['x ew null', { x: null }, 'compile-error'],
      ['x in null', { x: null }, 'compile-error'],
    ],
  },
  {
    name: 'booleans',
    cases: [
      ['x eq true', { x: true }, true],
      ['x ne true', { x: false }, true],
      ['x eq true', { x: 1 }, false],
      ['x ne true', { x: 2 }, false],
      ['x eq false', { x: true }, false],
      ['xy eq true', { x: true }, false],
      ['x eq false', { x: false }, true],
      ['x eq true', { x: 'true' }, false],
      ['x le true', { x: true }, 'compile-error'],
      ['x ge true', { x: true }, 'compile-error'],
      ['x gt true', { x: true }, 'compile-error'],
      ['x lt true', { x: true }, 'compile-error'],
      ['x co true', { x: true }, 'compile-error'],
      ['x sw true', { x: true }, 'compile-error'],
      ['x ew true', { x: true }, 'compile-error'],
      ['x in true', { x: true }, 'compile-error'],
      ['x gt false', {}, 'compile-error'],
    ],
  },
  {
    name: 'integers',
    cases: [
      ['x eq 1', { x: 1 }, true],
      ['x == 1', { x: 1 }, true],
      ['x eq 1', { x: '1' }, false],
      ['x eq 1', { y: 1 }, false],
      ['x ne 1', { x: 1 }, false],
      ['x != 1', { x: 1 }, false],
      ['x ne 1', { x: '1' }, false],
      ['x != 1', { x: '1' }, false],
      ['x NE 1', { x: 1 }, false],
      ['x le 1', { x: 0 }, true],
      ['x <= 1', { x: 0 }, true],
      ['x le 1', { x: '1' }, false],
      ['x LE 1', { x: 1 }, true],
      ['x le 1', { x: 2 }, false],
      ['x LT 1', { x: 0 }, true],
      ['x < 1', { x: 0 }, true],
      ['x lt 1', { x: 1 }, false],
      ['x lt 1', { x: '1' }, false],
      ['x < 1', { x: '1' }, false],
      ['x GT 1', { x: 2 }, true],
      ['x > 1', { x: 2 }, true],
      ['x gt 1', { x: 1 }, false],
      ['x gt 1', { x: '1' }, false],
      ['x > 1', { x: '1' }, false],
      ['x GE 1', { x: 2 }, true],
      ['x >= 1', { x: 2 }, true],
      ['x ge 1', { x: 1 }, true],
      ['x ge 1', { x: '1' }, false],
      ['x ge 1', { x: 0 }, false],
      ['x >= 1', { x: 0 }, false],
      ['x NE 1', { x: 2 }, true],
      ['x != 1', { x: 2 }, true],
      ['x eq 1', { y: 1.0 }, false],
      ['x == 1', { y: 1.0 }, false],
      // The attribute is converted with Go's int(): decimals are truncated toward zero.
      ['x eq 42', { x: 42.9 }, true],
      ['x eq -42', { x: -42.9 }, true],
      ['x gt 42', { x: 42.9 }, false],
      ['x lt 0', { x: -0.5 }, false],
      ['x eq 1', { x: true }, false],
      ['x eq -5', { x: -5 }, true],
      ['x eq 9007199254740993', { x: 9007199254740992 }, false],
      ['x co 1', { x: 2 }, 'compile-error'],
      ['x sw 1', { x: 2 }, 'compile-error'],
      ['x ew 1', { x: 2 }, 'compile-error'],
      ['x in 1', { x: 1 }, false],
    ],
  },
  {
    name: 'decimals',
    alsoFalseFor: [{ x: '2.4' }],
    cases: [
      ['x eq 1.0', { x: 1.0 }, true],
      ['x eq 1.0', { y: 1.0 }, false],
      ['x ne 1.1', { x: 1.1 }, false],
      ['x le 1.1', { x: 0 }, true],
      ['x le 1.1', { x: 1.1 }, true],
      ['x le 1.1', { x: 2.0 }, false],
      ['x lt 1.1', { x: 0.0 }, true],
      ['x lt 1.0', { x: 1 }, false],
      ['x gt 1.1', { x: 2 }, true],
      ['x gt 1.0', { x: 1 }, false],
      ['x ge 1.2', { x: 2 }, true],
      ['x ge 1.0', { x: 1 }, true],
      ['x ge 1.0', { x: 0 }, false],
      ['x ne 1.0', { x: 2 }, true],
      ['x eq 1.0', { y: 1.0 }, false],
      ['x gt -1.5', { x: -1 }, true],
      ['x eq 1.5e3', { x: 1500 }, true],
      ['x lt 2.5E-1', { x: 0.2 }, true],
      ['x co 1.5', { x: 1.5 }, 'compile-error'],
    ],
  },
  {
    name: 'strings',
    alsoFalseFor: [{ x: 3 }],
    cases: [
      ['x eq ""', {}, false],
      ['x eq ""', { x: '' }, true],
      ['x eq "abc"', { x: 'abc' }, true],
      ['x eq "abc"', { y: 'abc' }, false],
      ['x ne "abc"', { x: 'abc' }, false],
      ['x le "abc"', { x: 'abc' }, true],
      ['x le "cde"', { x: 'abc' }, true],
      ['x le "cde"', { x: 'efg' }, false],
      ['x lt "cde"', { x: 'abc' }, true],
      ['x lt "cde"', { x: 'cde' }, false],
      ['x gt "cde"', { x: 'def' }, true],
      ['x gt "cde"', { x: 'abc' }, false],
      ['x ge "cde"', { x: 'cde' }, true],
      ['x ge "cde"', { x: 'def' }, true],
      ['x ge "cde"', { x: 'abc' }, false],
      ['x ne "abc"', { x: 'cde' }, true],
      ['x co "ab"', { x: 'abc' }, true],
      ['x co "ab"', { x: 'bbc' }, false],
      ['x CO "ab"', { x: 'bbc' }, false],
      ['x sw "ab"', { x: 'abc' }, true],
      ['x SW "ab"', { x: 'abc' }, true],
      ['x sw "ab"', { x: 'bbc' }, false],
      ['x ew "ab"', { x: 'bab' }, true],
      ['x EW "ab"', { x: 'bbc' }, false],
      // String comparisons ignore case on both sides.
      ['x eq "ABC"', { x: 'abc' }, true],
      ['x eq "abc"', { x: 'AbC' }, true],
      ['x co "B"', { x: 'abc' }, true],
      ['x sw "AB"', { x: 'aBc' }, true],
      ['x ew "BC"', { x: 'aBc' }, true],
      ['x gt "B"', { x: 'c' }, true],
      ['x ne "abc"', {}, false],
      ['x ne "abc"', { x: null }, false],
      ['x eq "1"', { x: 1 }, false],
      ['x in "abc"', { x: 'abc' }, false],
      // Escapes are not decoded: the backslash stays in the value.
      ['x eq "a\\"b"', { x: 'a\\"b' }, true],
      ['x eq "a\\"b"', { x: 'a"b' }, false],
    ],
  },
  {
    name: 'nested objects',
    cases: [
      ['x.a eq 1 and x.b.c eq 2', { x: { a: 1, b: { c: 2.0 } } }, true],
      ['x.a eq 1 and x.b.c eq 2', { x: { a: 1, b: { c: 2 } } }, true],
      ['x.a eq 1 and x.b.c eq 2', { x: { b: { c: 2 } } }, false],
      ['x.a eq 1 or x.b.c eq 2', { x: { b: { c: 2 } } }, true],
      ['x.a eq 1 or x.b.c eq 2', null, false],
      ['x.a eq 1 or x.b.c eq 2', {}, false],
      // nikunjy: error on {} and true on {x: {a: 1}}; GOFF rejects it when loading because of the {} case.
      ['x.a eq 1 or x.b.c gt true', {}, 'compile-error'],
      ['x.b.c gt true or x.a eq 1', { x: { a: 1 } }, 'compile-error'],
      ['user.address.city eq "Paris"', { user: { address: { city: 'paris' } } }, true],
      ['user.address.city pr', { user: { address: {} } }, false],
      // Reading through a value that is not an object panics in nikunjy: the whole query fails.
      ['x.a eq 1', { x: 'text' }, 'no-match-error'],
      ['x.a eq 1 or y eq 2', { x: 5, y: 2 }, 'no-match-error'],
      ['x.a eq 1 or y eq 2', { x: [1], y: 2 }, 'no-match-error'],
      ['y eq 2 or x.a eq 1', { x: 5, y: 2 }, true],
      ['x.a eq null', { x: null }, true],
    ],
  },
  {
    name: 'logical expressions',
    cases: [
      ['x eq 1 or y gt 1', { x: 1, y: 0 }, true],
      ['x eq 1 and y gt 1', { x: 1, y: 2 }, true],
      ['x eq 1 and y gt 1', { x: 1, y: 1 }, false],
      ['x eq 1 and not (y gt 1)', { x: 1, y: 1 }, true],
      ['x eq 1 and not (y gt 1)', { x: 1, y: 2 }, false],
      ['(x eq 1 and y gt 1) and z eq 3', { x: 1, y: 2, z: 3 }, true],
      ['(x eq 1 and y gt 1) and z eq 3 or a gt 4', { x: 1, y: 2, a: 5 }, true],
      ['(x eq 1 and y gt 1) and (z eq 3 or a gt 4)', { x: 1, y: 2, a: 5 }, true],
      // One precedence level, grouped left to right: `a or b and c` is `(a or b) and c`.
      ['x eq 1 or y eq 1 and z eq 1', { x: 1, y: 0, z: 0 }, false],
      ['x eq 1 or y eq 1 and z eq 1', { x: 1, y: 0, z: 1 }, true],
      ['x eq 1 and y eq 1 or z eq 1', { x: 0, y: 0, z: 1 }, true],
      ['x eq 1 and (y eq 1 or z eq 1)', { x: 0, y: 0, z: 1 }, false],
      ['not (x eq 1) and not (y eq 1)', { x: 2, y: 2 }, true],
      ['not (not (x eq 1))', { x: 1 }, true],
      // An invalid operation fails the whole query, even behind a true branch or a not.
      ['x eq 1 and y gt true', { x: 1 }, 'no-match-error'],
      ['x eq 1 and y gt true', { x: 2 }, false],
      ['x eq 2 and y co 1', { x: 2 }, 'no-match-error'],
      ['x eq null or y co 1', {}, true],
      ['x eq null or y co 1', { x: 1 }, 'no-match-error'],
      ['x eq 1 or y co 1', { x: 1 }, 'compile-error'],
      ['x eq 1 and not (y lt null)', { x: 1 }, 'no-match-error'],
    ],
  },
  {
    name: 'spacing',
    cases: [
      ['( x eq 1 )', { x: 1 }, true],
      ['x eq 1 and ( y eq 2 )', { x: 1, y: 2 }, true],
      ['not( x eq 1 )', { x: 1 }, false],
      ['x eq 1\nand y eq 2', { x: 1, y: 2 }, true],
      ['  x   eq   1  ', { x: 1 }, true],
      ['x in ["a" , "b"]', { x: 'b' }, true],
      ['\tx eq 1\r\n', { x: 1 }, true],
    ],
  },
  {
    name: 'syntax errors',
    cases: [
      ['x eq 1 and y ~ 1', { x: 1 }, 'compile-error'],
      ['y ~ 1', { x: 1 }, 'compile-error'],
      ['y ~ 1 and x eq true', { x: 1 }, 'compile-error'],
      ['x eq abc', { x: 'abc' }, 'compile-error'],
      ['invalid query syntax', {}, 'compile-error'],
      ['invalid', {}, 'compile-error'],
      ['((env eq "pro") and (company eq "my-company")', {}, 'compile-error'],
      ['env eq "pro" eq "dev"', {}, 'compile-error'],
      ['x eq 1 leftover', {}, 'compile-error'],
      ['(env eq "pro"))', {}, 'compile-error'],
      ['x eq', {}, 'compile-error'],
      ['x eq "abc', {}, 'compile-error'],
      ['x = 1', {}, 'compile-error'],
      ['x eq 01', {}, 'compile-error'],
      ['x eq 1e3', {}, 'compile-error'],
      ['x eq 1.', {}, 'compile-error'],
      ['x eq 1.2.3.4', {}, 'compile-error'],
      ['x in []', {}, 'compile-error'],
      ['x in [1, 2.5]', {}, 'compile-error'],
      ['x in ["a", 1]', {}, 'compile-error'],
      ['x in [1, 2', {}, 'compile-error'],
      ['x eq 99999999999999999999', {}, 'compile-error'],
      ['x eq TRUE', {}, 'compile-error'],
      ['x eq "a\\q"', {}, 'compile-error'],
      ['not x eq 1', {}, 'compile-error'],
      ['x. eq 1', {}, 'compile-error'],
      ['x eq 1 and', {}, 'compile-error'],
      ['and x eq 1', {}, 'compile-error'],
      ['x Eq 1', {}, 'compile-error'],
      ['"x" eq 1', {}, 'compile-error'],
      ['x eq 1 x eq 2', {}, 'compile-error'],
      ['()', {}, 'compile-error'],
    ],
  },
  {
    name: 'GOFF rule_test.go queries',
    cases: [
      ['key eq "def"', { key: 'abc', targetingKey: 'abc', anonymous: false }, false],
      ['key eq "abc"', { key: 'abc', targetingKey: 'abc', anonymous: false }, true],
      ['key eq "96ac59e6-7492-436b-b15a-ba1d797d2423"', { key: '96ac59e6-7492-436b-b15a-ba1d797d2423' }, true],
      // A quoted version is a string: compared as text, not as a version.
      ['version gt "1.0.0-1234"', { version: '1.0.0-2345' }, true],
      ['version gt "1.0.0-9"', { version: '1.0.0-10' }, false],
      ['version gt 1.0.0-9', { version: '1.0.0-10' }, true],
      ['anonymous eq true', { anonymous: true }, true],
      ['anonymous eq false', { anonymous: false }, true],
      ['(key eq "example@example.com") and (anonymous eq false)', { key: 'example@example.com', anonymous: false }, true],
      ['email ew "@mycompany.com"', { email: 'John@MyCompany.com' }, true],
      ['company eq "GO Feature Flag" and anonymous eq false', { company: 'go feature flag', anonymous: false }, true],
      ['beta eq "true"', { beta: true }, false],
      ['beta eq true', { beta: true }, true],
      ['role in ["admin", "owner"]', { role: 'owner' }, true],
    ],
  },
];

function check(rule: string, input: QueryContext | null, expect: Expect, label: string): void {
  const result = compileQuery(rule);
  if (expect === 'compile-error') {
    assert.equal(result.ok, false, `${label}: expected a compile error`);
    if (!result.ok) {
      assert.ok(result.error.column >= 1 && result.error.column <= rule.length + 1, `${label}: column ${result.error.column} out of range`);
      assert.ok(result.error.message.length > 0);
    }
    return;
  }
  assert.ok(result.ok, `${label}: ${result.ok ? '' : `${result.error.message} at column ${result.error.column}`}`);
  const want = expect === 'no-match-error' ? false : expect;
  assert.equal(result.query.matches(input as QueryContext), want, label);
}

let total = 0;
for (const group of groups) {
  test(`conformance: ${group.name}`, () => {
    for (const [rule, input, expect] of group.cases) {
      check(rule, input, expect, `${JSON.stringify(rule)} on ${JSON.stringify(input)}`);
      // nikunjy re-checks each rule wrapped in parentheses.
      check(`(${rule})`, input, expect, `(${JSON.stringify(rule)}) on ${JSON.stringify(input)}`);
      if (expect !== 'compile-error') {
        for (const other of group.alsoFalseFor ?? []) {
          check(rule, other, false, `${JSON.stringify(rule)} on ${JSON.stringify(other)}`);
        }
      }
    }
  });
  total += group.cases.length;
}

test('conformance table size', () => {
  assert.ok(total >= 150, `only ${total} cases`);
});
