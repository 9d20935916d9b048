// `vexil serve --store X --flags production=a.yaml,checkout/staging=b.yaml`: each named environment of a writable store
// is seeded from its files with the seed rule (a flag is written only when that environment never had it), missing
// projects and environments are created, and a restart skips what is there.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openStore, type FlagStore } from '@vexil/store';
import { seedFlagSpecs, startServer } from '@vexil/server';
import { ADMIN, SDK } from './helpers.js';

let dir: string;
before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'vexil-seed-envs-'));
});
after(() => rm(dir, { recursive: true, force: true }));

const flagYaml = (key: string, serve: 'on' | 'off') => `${key}:\n  variations: { on: true, off: false }\n  defaultRule: { variation: ${serve} }\n`;
const serves = async (store: FlagStore, key: string) => (await store.get(key))?.flag.defaultRule?.variation;

async function start(store: string, flags: string[]) {
  const lines: string[] = [];
  const server = await startServer({
    storeUrl: store,
    flags,
    examples: false,
    host: '127.0.0.1',
    port: 0,
    adminKeys: [ADMIN],
    sdkKeys: [SDK],
    handleSignals: false,
    logger: false,
    print: (text) => lines.push(text),
  });
  return { server, output: lines.join('\n') };
}

describe('seeding environments from --flags items', { timeout: 180_000 }, () => {
  test('creates the environments and projects the items name, seeds each from its own files, and a rerun skips', async () => {
    const base = join(dir, 'base.yaml');
    const prod = join(dir, 'prod.yaml');
    const prodMore = join(dir, 'prod-more.yaml');
    const staging = join(dir, 'staging.yaml');
    await writeFile(base, flagYaml('checkout', 'off'));
    await writeFile(prod, flagYaml('checkout', 'on') + flagYaml('banner', 'off'));
    await writeFile(prodMore, flagYaml('banner', 'on'));
    await writeFile(staging, flagYaml('search', 'on'));
    const items = [`${base},production=${prod},production=${prodMore}`, `checkout/staging=${staging}`];
    const store = await openStore('pglite:memory:');
    try {
      const first = await seedFlagSpecs(store, items);
      assert.deepEqual(
        first.map((seed) => [`${seed.project}/${seed.environment}`, seed.createdProject, seed.createdEnvironment, seed.report.applied.sort().join(',')]),
        [
          ['default/default', false, false, 'checkout'],
          ['default/production', false, true, 'banner,checkout'],
          ['checkout/staging', true, true, 'search'],
        ],
      );
      const catalog = store.catalog!;
      assert.deepEqual((await catalog.listEnvironments('checkout')).map((environment) => environment.key), ['staging'], 'no "default" environment nobody asked for');
      const production = await catalog.environment({ project: 'default', environment: 'production' });
      assert.equal(await serves(production, 'checkout'), 'on');
      assert.equal(await serves(production, 'banner'), 'on', 'the later file of the environment wins');
      assert.equal(await serves(store, 'checkout'), 'off', 'default/default from the bare path');
      assert.equal(await store.get('banner'), undefined, 'production\'s flags stay in production');
      const checkoutStaging = await catalog.environment({ project: 'checkout', environment: 'staging' });
      assert.equal(await serves(checkoutStaging, 'search'), 'on');

      // Production is edited and loses a flag through the API; a rerun keeps both, per environment.
      const current = await production.get('checkout');
      await production.put('checkout', { ...current!.flag, defaultRule: { variation: 'off' } }, { actor: 'alice', expectedVersion: current!.version });
      await production.delete('banner', { actor: 'alice' });
      await writeFile(staging, flagYaml('search', 'on') + flagYaml('new-in-staging', 'on'));
      const second = await seedFlagSpecs(store, items);
      const byEnvironment = new Map(second.map((seed) => [`${seed.project}/${seed.environment}`, seed]));
      assert.equal(byEnvironment.get('default/production')!.createdEnvironment, false);
      assert.deepEqual(byEnvironment.get('default/production')!.report.applied, []);
      assert.deepEqual(byEnvironment.get('default/production')!.report.keptStore.map((kept) => `${kept.key} ${kept.updatedBy}`), ['checkout alice']);
      assert.deepEqual(byEnvironment.get('default/production')!.report.keptDeleted, ['banner']);
      assert.deepEqual(byEnvironment.get('checkout/staging')!.report.applied, ['new-in-staging']);
      assert.deepEqual(byEnvironment.get('checkout/staging')!.report.unchanged, ['search']);
      assert.deepEqual(byEnvironment.get('default/default')!.report.unchanged, ['checkout']);
      assert.equal(await serves(production, 'checkout'), 'off', 'the edit survives');
      assert.equal(await production.get('banner'), undefined, 'the deletion survives');
    } finally {
      await store.close();
    }
  });

  test('vexil serve prints what it created, applied and skipped per environment', async () => {
    const storeUrl = `pglite:${join(dir, 'served')}`;
    const prod = join(dir, 'served-prod.yaml');
    const staging = join(dir, 'served-staging.yaml');
    await writeFile(prod, flagYaml('checkout', 'on'));
    await writeFile(staging, flagYaml('checkout', 'off'));
    const items = [`production=${prod},staging=${staging}`];

    const first = await start(storeUrl, items);
    try {
      assert.match(first.output, /created environment default\/production/);
      assert.match(first.output, /default\/production: imported 1 flag\(s\) from .*served-prod\.yaml/);
      assert.match(first.output, /default\/staging: imported 1 flag\(s\) from .*served-staging\.yaml/);
    } finally {
      await first.server.close();
    }
    const second = await start(storeUrl, items);
    try {
      assert.doesNotMatch(second.output, /created environment/);
      assert.match(second.output, /default\/production: imported 0 flag\(s\) .* 0 skipped, 1 unchanged/);
      assert.match(second.output, /default\/staging: imported 0 flag\(s\) .* 0 skipped, 1 unchanged/);
    } finally {
      await second.server.close();
    }
    const reopened = await openStore(storeUrl);
    try {
      const production = await reopened.catalog!.environment({ project: 'default', environment: 'production' });
      const stagingStore = await reopened.catalog!.environment({ project: 'default', environment: 'staging' });
      assert.equal(await serves(production, 'checkout'), 'on');
      assert.equal(await serves(stagingStore, 'checkout'), 'off');
      assert.deepEqual((await reopened.list()).flags, [], 'default/default got nothing: every item named an environment');
    } finally {
      await reopened.close();
    }
  });

  test('refuses items naming environments for a store without a writable catalog, naming the item', async () => {
    const file = join(dir, 'plain.yaml');
    await writeFile(file, flagYaml('checkout', 'on'));
    const store = await openStore(`file:${file}`, { watch: false });
    try {
      await assert.rejects(seedFlagSpecs(store, [`production=${file}`]), /the file store has a read-only catalog: --flags default\/production=.*plain\.yaml cannot seed it/);
    } finally {
      await store.close();
    }
  });
});
