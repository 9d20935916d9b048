// Sticky experiment assignments kept by the store (`store.assignments`): the same cases against embedded PostgreSQL
// (PGlite), the PostgreSQL server on this machine, Redis, DynamoDB (dynalite) and the in-process fallback. Each test
// works in its own namespace (schema, key prefix or table), removed at the end.
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { MemoryAssignmentStore, openStore, type AssignmentStore, type FlagStore } from '../src/index.js';
import { storeBackends } from './store-backends.js';
import { dynaliteEndpoint, stopDynalite } from './dynalite.js';

const { run: RUN, backends: sharedBackends, removeBackendData } = storeBackends('vexil_assign');
const opened: FlagStore[] = [];

after(async () => {
  for (const store of opened) await store.close().catch(() => undefined);
  await removeBackendData();
  await stopDynalite();
});

let tables = 0;
const backends = [
  ...sharedBackends,
  {
    name: 'dynamodb (dynalite)',
    async url() {
      return `dynamodb://${RUN}_${++tables}?region=eu-west-1&endpoint=${encodeURIComponent(await dynaliteEndpoint())}`;
    },
  },
];

async function open(url: string): Promise<FlagStore> {
  const store = await openStore(url);
  opened.push(store);
  return store;
}

function assignmentsOf(store: FlagStore): AssignmentStore {
  assert.ok(store.assignments, `the ${store.kind} store keeps assignments`);
  return store.assignments;
}

const DAY = 86_400_000;
const request = (unit: string, variation: string, extra: { flag?: string; ttlMs?: number; replace?: boolean } = {}) => ({
  flag: extra.flag ?? 'checkout-button',
  unit,
  variation,
  ttlMs: extra.ttlMs ?? DAY,
  ...(extra.replace ? { replace: true } : {}),
});

/** The cases every store passes; `second` opens another store on the same data (another server). */
function conformance(name: string, setup: () => Promise<{ first: AssignmentStore; second: AssignmentStore }>) {
  describe(`sticky assignments: ${name}`, () => {
    it('keeps the first variation a unit gets; another server reads it too; flags and units are kept apart', async () => {
      const { first, second } = await setup();
      assert.deepEqual(await first.assign([request('u1', 'treatment'), request('u2', 'control')]), ['treatment', 'control']);
      // The split changed: the kept variations win, here and on another server.
      assert.deepEqual(await first.assign([request('u1', 'control'), request('u2', 'treatment'), request('u3', 'treatment')]), ['treatment', 'control', 'treatment']);
      assert.deepEqual(await second.assign([request('u1', 'control'), request('u3', 'control')]), ['treatment', 'treatment']);
      // The same unit in another flag, and a flag whose name is a prefix of the other, are separate.
      assert.deepEqual(await first.assign([request('u1', 'control', { flag: 'checkout' }), request('u1', 'x', { flag: 'checkout-button:u' })]), ['control', 'x']);
      // Duplicates in one call get one answer.
      assert.deepEqual(await first.assign([request('u9', 'a'), request('u9', 'b')]), ['a', 'a']);
      // Units with any characters.
      const odd = 'ünï*?[x]\\ 🚀:#';
      assert.deepEqual(await first.assign([request(odd, 'treatment')]), ['treatment']);
      assert.deepEqual(await second.assign([request(odd, 'control')]), ['treatment']);
    });

    it('servers racing to assign a new unit all get the same variation', async () => {
      const { first, second } = await setup();
      const answers = await Promise.all(
        Array.from({ length: 20 }, (_, i) => (i % 2 ? first : second).assign([request('racer', `v${i}`), request(`solo-${i}`, `v${i}`)])),
      );
      const racer = new Set(answers.map((answer) => answer[0]));
      assert.equal(racer.size, 1, `one answer for the racing unit, got ${[...racer].join(', ')}`);
      answers.forEach((answer, i) => assert.equal(answer[1], `v${i}`));
    });

    it('replace overwrites a kept variation; an expired one is assigned again; clear forgets a flag only', async () => {
      const { first, second } = await setup();
      await first.assign([request('u1', 'old'), request('u2', 'kept'), request('u1', 'other', { flag: 'other-flag' })]);
      assert.deepEqual(await first.assign([request('u1', 'new', { replace: true })]), ['new']);
      assert.deepEqual(await second.assign([request('u1', 'control')]), ['new']);
      await first.assign([request('brief', 'a', { ttlMs: 300 }), request('gone', 'a', { flag: 'short-lived', ttlMs: 300 })]);
      assert.deepEqual(await first.assign([request('brief', 'b')]), ['a']);
      await sleep(1_200);
      // Stores that do not expire rows by themselves delete the expired ones when swept.
      if (first.sweep) assert.ok((await first.sweep()) >= 1, 'the expired assignment is swept');
      assert.deepEqual(await second.assign([request('brief', 'b')]), ['b'], 'an expired assignment is made again');
      assert.equal(await first.clear('checkout-button'), 3);
      assert.deepEqual(await second.assign([request('u2', 'control')]), ['control']);
      assert.deepEqual(await second.assign([request('u1', 'x', { flag: 'other-flag' })]), ['other']);
    });
  });
}

for (const backend of backends) {
  conformance(backend.name, async () => {
    const url = await backend.url();
    return { first: assignmentsOf(await open(url)), second: assignmentsOf(await open(url)) };
  });

  it(`${backend.name}: an environment keeps its own assignments`, async () => {
    const root = await open(await backend.url());
    await root.catalog!.createEnvironment('default', { key: 'stage' }, { actor: 'test' });
    const environment = await root.catalog!.environment({ project: 'default', environment: 'stage' });
    await assignmentsOf(root).assign([request('u1', 'control')]);
    assert.deepEqual(await assignmentsOf(environment).assign([request('u1', 'treatment')]), ['treatment']);
    assert.deepEqual(await assignmentsOf(root).assign([request('u1', 'treatment')]), ['control']);
  });
}

conformance('in process (flag files)', async () => {
  const memory = new MemoryAssignmentStore();
  return { first: memory, second: memory };
});
