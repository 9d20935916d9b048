// Leases kept by the store (`store.leases`): the same cases against embedded PostgreSQL (PGlite), the PostgreSQL
// server on this machine and Redis. Each test works in its own namespace (schema or key prefix), removed at the end.
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { openStore, type FlagStore, type LeaseStore } from '../src/index.js';
import { storeBackends } from './store-backends.js';

const { backends, removeBackendData } = storeBackends('vexil_lease');
after(removeBackendData);

function leasesOf(store: FlagStore): LeaseStore {
  assert.ok(store.leases, `the ${store.kind} store holds leases`);
  return store.leases;
}

/** Waits until `check` holds, polling; fails after 20 s. */
async function eventually(check: () => Promise<boolean>, what: string): Promise<void> {
  const deadline = Date.now() + 20_000;
  while (!(await check())) {
    if (Date.now() > deadline) assert.fail(`timed out waiting for ${what}`);
    await sleep(50);
  }
}

for (const backend of backends) {
  describe(`leases (${backend.name})`, () => {
    it('one holder at a time, across two stores on the same data; renewing keeps the token', async () => {
      const url = await backend.url();
      const [a, b] = [await openStore(url), await openStore(url)];
      try {
        const first = await leasesOf(a).acquire('rollout-controller', 'server-a', 30_000);
        assert.ok(first, 'a free lease is taken');
        assert.equal(first.holder, 'server-a');
        assert.equal(await leasesOf(b).acquire('rollout-controller', 'server-b', 30_000), undefined, 'a running lease is not taken by another holder');
        const renewed = await leasesOf(a).acquire('rollout-controller', 'server-a', 30_000);
        assert.equal(renewed?.token, first.token, 'renewal keeps the token');
        assert.deepEqual((await leasesOf(b).get('rollout-controller'))?.holder, 'server-a');
        assert.ok(await leasesOf(b).acquire('another-lease', 'server-b', 30_000), 'leases are independent by name');
      } finally {
        await a.close();
        await b.close();
      }
    });

    it('many contenders at once: exactly one wins', async () => {
      const url = await backend.url();
      const stores = await Promise.all([1, 2, 3, 4].map(() => openStore(url)));
      try {
        const results = await Promise.all(stores.map((store, i) => leasesOf(store).acquire('leader', `server-${i}`, 30_000)));
        assert.equal(results.filter(Boolean).length, 1, JSON.stringify(results));
      } finally {
        await Promise.all(stores.map((store) => store.close()));
      }
    });

    it('an expired lease is taken over with a larger token; a released one at once', async () => {
      const url = await backend.url();
      const [a, b] = [await openStore(url), await openStore(url)];
      try {
        const first = await leasesOf(a).acquire('leader', 'server-a', 300);
        assert.ok(first);
        let takeover: Awaited<ReturnType<LeaseStore['acquire']>>;
        await eventually(async () => !!(takeover = await leasesOf(b).acquire('leader', 'server-b', 30_000)), 'the expired lease to be taken over');
        assert.equal(takeover!.holder, 'server-b');
        assert.ok(takeover!.token > first.token, `token ${takeover!.token} after ${first.token}`);
        assert.equal(await leasesOf(a).acquire('leader', 'server-a', 30_000), undefined, 'the old holder cannot renew once taken over');
        assert.equal(await leasesOf(a).release('leader', 'server-a'), false, 'only the holder releases');
        assert.equal(await leasesOf(b).release('leader', 'server-b'), true);
        assert.equal(await leasesOf(a).get('leader'), undefined);
        const again = await leasesOf(a).acquire('leader', 'server-a', 30_000);
        assert.ok(again && again.token > takeover!.token);
      } finally {
        await a.close();
        await b.close();
      }
    });
  });
}
