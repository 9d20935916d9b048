// Issue 9, item 18: evaluation errors say what is wrong and how to fix it (one wording for OFREP, the CLI, the SDK).
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { compileFlags, evaluate, missingContextHint } from '../src/index.js';

const snapshot = compileFlags(
  `
split: { variations: { a: 1, b: 2 }, defaultRule: { percentage: { a: 50, b: 50 } } }
team: { variations: { a: 1, b: 2 }, bucketingKey: team.id, defaultRule: { percentage: { a: 50, b: 50 } } }
`,
  { format: 'yaml', source: 'f.yaml' },
);

describe('evaluation error messages', () => {
  it('an unknown flag says it does not exist; a missing targeting key says how to send one', () => {
    assert.equal(evaluate(snapshot, 'nope', {}).errorMessage, 'flag `nope` does not exist in this environment: check the key (keys are case-sensitive)');
    assert.equal(evaluate(snapshot, 'split', {}).errorMessage, 'flag `split` splits users by targetingKey and the context has none: send {"context": {"targetingKey": "..."}}');
  });

  it('a targetingKey of another type names the type it got', () => {
    for (const [value, type] of [[12345, 'number'], [true, 'boolean'], [{ id: 1 }, 'object'], [['a'], 'array']] as const) {
      const detail = evaluate(snapshot, 'split', { targetingKey: value as never });
      assert.equal(detail.errorCode, 'TARGETING_KEY_MISSING');
      assert.match(detail.errorMessage!, new RegExp(`targetingKey must be a string, got ${type}:`));
    }
    assert.match(evaluate(snapshot, 'split', { targetingKey: '' }).errorMessage!, /the context's targetingKey is empty/);
  });

  it('a bucketingKey names the attribute and shows the context that carries it', () => {
    assert.equal(evaluate(snapshot, 'team', { targetingKey: 'u' }).errorMessage, 'flag `team` splits users by team.id (its bucketingKey) and the context has none: send {"context": {"team": {"id": "..."}}}');
    assert.match(evaluate(snapshot, 'team', { targetingKey: 'u', team: { id: 4 } }).errorMessage!, /team\.id must be a string, got number/);
  });

  it('a body without the context wrapper is named; a wrapped or empty body is not', () => {
    const wants = 'OFREP wants {"context": {...}}';
    assert.equal(missingContextHint({ targetingKey: 'u' }, 'the body', wants), 'the body has no `context` object (targetingKey is at the top level): OFREP wants {"context": {...}}');
    assert.equal(missingContextHint({ context: 'u' }, 'the body', wants), "the body's `context` is string, not an object: OFREP wants {\"context\": {...}}");
    for (const fine of [{ context: {} }, { context: { targetingKey: 'u' } }, {}, undefined, null]) assert.equal(missingContextHint(fine, 'the body', wants), undefined);
  });

  it('every key gets a message naming it (property)', () => {
    fc.assert(
      fc.property(fc.string({ minLength: 1 }), (key) => {
        const detail = evaluate(snapshot, key, {});
        if (detail.errorCode === 'FLAG_NOT_FOUND') assert.ok(detail.errorMessage!.startsWith(`flag \`${key}\` does not exist`));
      }),
    );
  });
});
