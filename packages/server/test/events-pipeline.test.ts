import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { EventBatch, EventsStore } from '@vexil/store';
import { EventsPipeline } from '../src/events/pipeline.js';

/** A store that keeps what it is given. */
function keepingStore(): { store: EventsStore; batches: EventBatch[] } {
  const batches: EventBatch[] = [];
  const store = {
    write: async (written: EventBatch[]) => {
      batches.push(...written);
      return { written: written.length, duplicates: 0, events: written.reduce((sum, batch) => sum + batch.exposures.length + batch.tracks.length, 0) };
    },
    isUnavailable: () => false,
    close: async () => undefined,
  } as unknown as EventsStore;
  return { store, batches };
}

describe('EventsPipeline: evaluations served are folded into exposures', () => {
  test('one exposure per environment, flag, variation, unit and error, with the count of evaluations', async () => {
    const { store, batches } = keepingStore();
    const pipeline = new EventsPipeline(store, { flushIntervalMs: 60_000 });
    // Keys made afresh each time, as a request's are: folding compares their text, not their identity.
    const fresh = (text: string) => JSON.parse(JSON.stringify(text)) as string;
    for (let i = 0; i < 5; i++) pipeline.recordEvaluation(fresh('checkout'), 'on', fresh('u1'), undefined);
    for (let i = 0; i < 3; i++) pipeline.recordEvaluation(fresh('checkout'), 'off', fresh('u1'), undefined);
    pipeline.recordEvaluation('checkout', 'on', 'u2', undefined);
    pipeline.recordEvaluation('checkout', 'on', 'u2', '');
    pipeline.recordEvaluation('checkout', 'SdkDefault', 'u2', 'FLAG_NOT_FOUND');
    pipeline.recordEvaluation('banner', 'on', undefined, undefined);
    pipeline.recordEvaluation('banner', 'on', undefined, undefined, 'staging');
    assert.equal(pipeline.health.buffered, 6);
    await pipeline.close();
    const rows = batches
      .flatMap((batch) => batch.exposures.map((exposure) => `${batch.environment ?? 'default'} ${exposure.flag} ${exposure.variation} ${exposure.unit ?? '-'} ${exposure.errorCode ?? '-'} ${exposure.count}`))
      .sort();
    assert.deepEqual(rows, [
      'default banner on - - 1',
      'default checkout SdkDefault u2 FLAG_NOT_FOUND 1',
      'default checkout off u1 - 3',
      'default checkout on u1 - 5',
      'default checkout on u2 - 2',
      'staging banner on - - 1',
    ]);
    assert.equal(pipeline.health.written, 6);
  });
});
