// The snapshot holder applies each write incrementally (issue 9, item 10): what it serves after any mix of writes,
// deletes and segment changes is what a full compile of the store's state serves.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { compileFlagSet, evaluate, type FlagDefinition } from '@vexil/core';
import { openStore } from '@vexil/store';
import { SnapshotHolder } from '@vexil/server';

const gated = (query: string, value: string): FlagDefinition => ({
  variations: { on: value, off: 'off' },
  targeting: [{ name: 'gate', query, variation: 'on' }],
  defaultRule: { variation: 'off' },
});

describe('SnapshotHolder: incremental recompiles', () => {
  test('puts, deletes and segment changes are served as a full compile would serve them', async () => {
    const store = await openStore('pglite:memory:');
    const holder = new SnapshotHolder(store, { debounceMs: 1, healthIntervalMs: 60_000 });
    const options = { actor: 'test' };
    try {
      await store.putSegments!({ staff: { query: 'email ew "@example.com"' } }, options);
      for (let i = 0; i < 20; i++) await store.put(`plain-${i}`, gated(`n eq ${i}`, `v${i}`), options);
      await store.put('staff-only', gated('@staff', 'staff'), options);
      await holder.start();
      const plainBefore = holder.snapshot.flags.get('plain-3');
      const staff = { targetingKey: 'u1', email: 'a@example.com', n: 3 };
      assert.equal(evaluate(holder.snapshot, 'staff-only', staff).value, 'staff');

      await store.put('plain-5', gated('n eq 5', 'changed'), options);
      await store.delete('plain-6', options);
      const segmentWrite = await store.putSegments!({ staff: { query: 'email ew "@acme.test"' } }, options);
      const last = await store.put('new-flag', gated('@staff', 'new'), options);
      assert.ok(await holder.waitFor(Math.max(segmentWrite.revision, last.revision), 20_000), 'the holder caught up');

      const full = compileFlagSet(holder.definitions(), { segments: holder.segments });
      const contexts = [staff, { targetingKey: 'u2', email: 'b@acme.test', n: 5 }, { targetingKey: 'u3', n: 6 }];
      for (const key of [...Object.keys(holder.definitions()), 'plain-6']) {
        for (const context of contexts) assert.deepEqual(evaluate(holder.snapshot, key, context), evaluate(full, key, context), `${key} ${JSON.stringify(context)}`);
      }
      assert.equal(evaluate(holder.snapshot, 'staff-only', staff).value, 'off', 'the segment change reached the flag using it');
      assert.equal(evaluate(holder.snapshot, 'staff-only', contexts[1]!).value, 'staff');
      assert.equal(evaluate(holder.snapshot, 'plain-5', contexts[1]!).value, 'changed');
      assert.equal(evaluate(holder.snapshot, 'plain-6', contexts[2]!).errorCode, 'FLAG_NOT_FOUND');
      assert.equal(holder.snapshot.flags.get('plain-3'), plainBefore, 'an untouched flag was not recompiled');
      assert.deepEqual(holder.snapshotVersions, Object.fromEntries([...holder.flags].map(([key, held]) => [key, held.version])));
    } finally {
      await holder.stop();
      await store.close();
    }
  });
});
