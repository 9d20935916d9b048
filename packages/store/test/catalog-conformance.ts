// The catalog conformance suite: projects × environments on every writable store, against its real backend.
// Each store's test file calls `catalogConformance(name, factory)`.
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { FlagDefinition } from '@vexil/core';
import { StoreConflictError, UnknownEnvironmentError, UnknownProjectError } from '../src/errors.js';
import type { EnvironmentCatalog, EnvironmentRef } from '../src/catalog/types.js';
import type { ChangeEvent, FlagStore, WriteOptions } from '../src/types.js';

export interface CatalogConformanceFactory {
  /** A store on a fresh, empty namespace (a new schema, key prefix…). */
  open(): Promise<FlagStore>;
  /** Another instance on the namespace of the latest `open()`, with its own connections (a second server). */
  openSecond?(): Promise<FlagStore>;
  /**
   * Connections the backend holds for the latest namespace's stores right now (PostgreSQL: `pg_stat_activity` rows of
   * its application name). Without it, the shared-connections case only checks that 50 environments work at all.
   */
  countConnections?(): Promise<number>;
  /** At most this many connections for one store however many environments it opens (pool + LISTEN). */
  maxConnections?: number;
  /** Removes every namespace the factory created. */
  cleanup?(): Promise<void>;
}

const by: WriteOptions = { actor: 'catalog-conformance', reason: 'testing' };
const flag = (serve: 'on' | 'off' = 'on'): FlagDefinition => ({ variations: { on: true, off: false }, defaultRule: { variation: serve } });
const ref = (project: string, environment: string): EnvironmentRef => ({ project, environment });

function catalogOf(store: FlagStore): EnvironmentCatalog {
  assert.ok(store.catalog, `the ${store.kind} store has a catalog`);
  assert.equal(store.catalog.writable, true);
  return store.catalog;
}

/** Reads changes from `store.watch()` for `ms`, or until `count` arrived. */
async function collect(store: FlagStore, fromRevision: number, count: number, ms: number): Promise<ChangeEvent[]> {
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(), ms);
  const events: ChangeEvent[] = [];
  try {
    for await (const event of store.watch({ fromRevision, signal: controller.signal })) {
      events.push(event);
      if (events.length >= count) break;
    }
  } finally {
    clearTimeout(timer);
  }
  return events;
}

export function catalogConformance(name: string, factory: CatalogConformanceFactory): void {
  async function withStore(body: (store: FlagStore, catalog: EnvironmentCatalog) => Promise<void>): Promise<void> {
    const store = await factory.open();
    try {
      await body(store, catalogOf(store));
    } finally {
      await store.close();
    }
  }

  describe(`catalog conformance: ${name}`, { timeout: 120_000 }, () => {
    after(() => factory.cleanup?.());

    it('a fresh store has project default with environment default, and that environment is the store itself', () =>
      withStore(async (store, catalog) => {
        const projects = await catalog.listProjects();
        assert.deepEqual(projects.map((p) => p.key), ['default']);
        assert.equal(projects[0]!.version, 1);
        const environments = await catalog.listEnvironments('default');
        assert.deepEqual(environments.map((e) => [e.project, e.key, e.requireApproval]), [['default', 'default', false]]);
        assert.equal(typeof environments[0]!.id, 'string');
        assert.equal(await catalog.environment(ref('default', 'default')), store, 'default/default is the root store');
        await store.put('root-flag', flag(), by);
        assert.equal((await (await catalog.environment(ref('default', 'default'))).get('root-flag'))?.version, 1);
        assert.equal(typeof (await catalog.revision()), 'number');
      }));

    it('creates a project with its environments (or one "default" when none are given)', () =>
      withStore(async (_store, catalog) => {
        const before = await catalog.revision();
        const project = await catalog.createProject(
          { key: 'checkout', name: 'Checkout', description: 'the cart and payment' },
          [{ key: 'development' }, { key: 'production', name: 'Production', requireApproval: true }],
          { actor: 'alice' },
        );
        assert.equal(project.key, 'checkout');
        assert.equal(project.name, 'Checkout');
        assert.equal(project.description, 'the cart and payment');
        assert.equal(project.createdBy, 'alice');
        assert.equal(project.version, 1);
        assert.ok(!Number.isNaN(Date.parse(project.createdAt)));
        assert.deepEqual(await catalog.getProject('checkout'), project);
        const environments = await catalog.listEnvironments('checkout');
        assert.deepEqual(
          environments.map((e) => [e.project, e.key, e.name, e.requireApproval, e.createdBy, e.version]),
          [
            ['checkout', 'development', 'development', false, 'alice', 1],
            ['checkout', 'production', 'Production', true, 'alice', 1],
          ],
        );
        assert.notEqual(environments[0]!.id, environments[1]!.id, 'each environment has its own id');
        assert.ok((await catalog.revision()) > before, 'the catalog revision moved');

        await catalog.createProject({ key: 'search' }, undefined, by);
        assert.deepEqual((await catalog.listEnvironments('search')).map((e) => e.key), ['default']);
        assert.equal((await catalog.getProject('search'))?.name, 'search', 'the name defaults to the key');
        assert.deepEqual((await catalog.listProjects()).map((p) => p.key), ['default', 'checkout', 'search']);
      }));

    it('creates, lists, reads, updates and deletes an environment; each change moves the catalog revision', () =>
      withStore(async (_store, catalog) => {
        let revision = await catalog.revision();
        const moved = async () => {
          const now = await catalog.revision();
          assert.ok(now > revision, `the catalog revision moved (${revision} → ${now})`);
          revision = now;
        };
        const staging = await catalog.createEnvironment('default', { key: 'staging', name: 'Staging' }, { actor: 'bob' });
        await moved();
        assert.deepEqual([staging.project, staging.key, staging.name, staging.requireApproval, staging.version], ['default', 'staging', 'Staging', false, 1]);
        assert.match(staging.id, /^[a-z0-9]+$/);
        assert.deepEqual(await catalog.getEnvironment(ref('default', 'staging')), staging);
        assert.deepEqual((await catalog.listEnvironments('default')).map((e) => e.key), ['default', 'staging']);

        const updated = await catalog.updateEnvironment(ref('default', 'staging'), { requireApproval: true }, by);
        await moved();
        assert.deepEqual([updated.name, updated.requireApproval, updated.version, updated.id], ['Staging', true, 2, staging.id]);
        const renamed = await catalog.updateEnvironment(ref('default', 'staging'), { name: 'Pre-production' }, by);
        await moved();
        assert.deepEqual([renamed.name, renamed.requireApproval, renamed.version], ['Pre-production', true, 3]);
        assert.deepEqual(await catalog.getEnvironment(ref('default', 'staging')), renamed);
        await assert.rejects(catalog.updateEnvironment(ref('default', 'staging'), { requireApproval: 'yes' as never }, by), TypeError);

        await catalog.deleteEnvironment(ref('default', 'staging'), by);
        await moved();
        assert.equal(await catalog.getEnvironment(ref('default', 'staging')), undefined);
        assert.deepEqual((await catalog.listEnvironments('default')).map((e) => e.key), ['default']);
        await assert.rejects(catalog.environment(ref('default', 'staging')), UnknownEnvironmentError);
      }));

    it('refuses a project or environment that exists (StoreConflictError), and changes nothing', () =>
      withStore(async (_store, catalog) => {
        await catalog.createProject({ key: 'shop' }, [{ key: 'live' }], by);
        const revision = await catalog.revision();
        const project = await catalog.getProject('shop');
        await assert.rejects(catalog.createProject({ key: 'shop', name: 'Other' }, undefined, by), (error: unknown) => {
          assert.ok(error instanceof StoreConflictError);
          assert.match(error.message, /project "shop" already exists/);
          return true;
        });
        await assert.rejects(catalog.createProject({ key: 'default' }, undefined, by), StoreConflictError);
        await assert.rejects(catalog.createEnvironment('shop', { key: 'live', name: 'Again' }, by), (error: unknown) => {
          assert.ok(error instanceof StoreConflictError);
          assert.match(error.message, /environment "live" already exists in project "shop"/);
          return true;
        });
        await assert.rejects(catalog.createEnvironment('default', { key: 'default' }, by), StoreConflictError);
        assert.deepEqual(await catalog.getProject('shop'), project);
        assert.deepEqual((await catalog.listEnvironments('shop')).map((e) => [e.key, e.name]), [['live', 'live']]);
        assert.equal(await catalog.revision(), revision, 'a refused write does not move the revision');
      }));

    it('refuses a bad project or environment key with an error naming it and the rule', () =>
      withStore(async (_store, catalog) => {
        const names = (key: string) => (error: unknown) => {
          assert.ok(error instanceof TypeError, `TypeError, not ${String(error)}`);
          assert.ok(error.message.includes(JSON.stringify(key)), `the message names ${key}: ${error.message}`);
          assert.match(error.message, /lower-case letters, digits/);
          return true;
        };
        await assert.rejects(catalog.createProject({ key: 'Check Out' }, undefined, by), names('Check Out'));
        await assert.rejects(catalog.createProject({ key: 'ok' }, [{ key: 'Prod!' }], by), names('Prod!'));
        assert.equal(await catalog.getProject('ok'), undefined, 'a refused project is not half-created');
        await assert.rejects(catalog.createEnvironment('default', { key: '-staging' }, by), names('-staging'));
        await assert.rejects(catalog.createEnvironment('default', { key: 'x'.repeat(49) }, by), names('x'.repeat(49)));
        await assert.rejects(catalog.createEnvironment('default', { key: '' }, by), names(''));
        await assert.rejects(catalog.createProject({ key: 'twice' }, [{ key: 'a' }, { key: 'a' }], by), /listed twice/);
        assert.deepEqual((await catalog.listProjects()).map((p) => p.key), ['default']);
        assert.deepEqual((await catalog.listEnvironments('default')).map((e) => e.key), ['default']);
      }));

    it('names an unknown project or environment (UnknownProjectError, UnknownEnvironmentError)', () =>
      withStore(async (_store, catalog) => {
        await assert.rejects(catalog.listEnvironments('nope'), (error: unknown) => {
          assert.ok(error instanceof UnknownProjectError);
          assert.equal(error.project, 'nope');
          assert.match(error.message, /no project "nope"/);
          return true;
        });
        await assert.rejects(catalog.createEnvironment('nope', { key: 'staging' }, by), UnknownProjectError);
        await assert.rejects(catalog.environment(ref('nope', 'default')), UnknownProjectError);
        await assert.rejects(catalog.environment(ref('default', 'nope')), (error: unknown) => {
          assert.ok(error instanceof UnknownEnvironmentError);
          assert.deepEqual([error.project, error.environment], ['default', 'nope']);
          assert.match(error.message, /no environment "nope" in project "default"/);
          return true;
        });
        await assert.rejects(catalog.updateEnvironment(ref('default', 'nope'), { name: 'x' }, by), UnknownEnvironmentError);
        await assert.rejects(catalog.deleteEnvironment(ref('default', 'nope'), by), UnknownEnvironmentError);
        await assert.rejects(catalog.deleteProject('nope', by), UnknownProjectError);
        assert.equal(await catalog.getProject('nope'), undefined);
        assert.equal(await catalog.getEnvironment(ref('default', 'nope')), undefined);
      }));

    it('refuses to delete the default project, default/default, or a project that still has environments', () =>
      withStore(async (store, catalog) => {
        await assert.rejects(catalog.deleteProject('default', by), (error: unknown) => {
          assert.ok(error instanceof TypeError);
          assert.match(error.message, /project "default" cannot be deleted/);
          return true;
        });
        await assert.rejects(catalog.deleteEnvironment(ref('default', 'default'), by), (error: unknown) => {
          assert.ok(error instanceof TypeError);
          assert.match(error.message, /environment "default" of project "default" cannot be deleted/);
          return true;
        });
        await catalog.createProject({ key: 'app' }, [{ key: 'dev' }, { key: 'prod' }], by);
        await assert.rejects(catalog.deleteProject('app', by), (error: unknown) => {
          assert.ok(error instanceof StoreConflictError);
          assert.match(error.message, /project "app" still has environments \(dev, prod\)/);
          return true;
        });
        assert.ok(await catalog.getProject('app'), 'nothing was deleted');
        await catalog.deleteEnvironment(ref('app', 'dev'), by);
        await catalog.deleteEnvironment(ref('app', 'prod'), by);
        await catalog.deleteProject('app', by);
        assert.equal(await catalog.getProject('app'), undefined);
        assert.deepEqual((await catalog.listProjects()).map((p) => p.key), ['default']);
        await store.ping();
      }));

    it("an environment's flags, revision, audit and change feed are its own: nothing reaches another environment or the root", () =>
      withStore(async (store, catalog) => {
        await catalog.createProject({ key: 'web' }, [{ key: 'a' }, { key: 'b' }], by);
        const a = await catalog.environment(ref('web', 'a'));
        const b = await catalog.environment(ref('web', 'b'));
        assert.notEqual(a, b);
        assert.notEqual(a, store);
        assert.equal(await catalog.environment(ref('web', 'a')), a, 'one store per environment, cached');
        const [x, y] = await Promise.all([catalog.environment(ref('web', 'b')), catalog.environment(ref('web', 'b'))]);
        assert.equal(x, b);
        assert.equal(y, b);
        assert.equal(a.writable, true);
        assert.equal(a.apiKeys, undefined, 'API keys belong to the root store');
        assert.equal(a.catalog, undefined, 'the catalog belongs to the root store');

        const rootRevision = (await store.list()).revision;
        const watchA = collect(a, 0, 2, 20_000);
        const watchB = collect(b, 0, 1, 3_000);
        const watchRoot = collect(store, rootRevision, 1, 3_000);
        await a.put('checkout', flag('on'), { actor: 'alice' });
        await a.put('checkout', flag('off'), { actor: 'alice', expectedVersion: 1 });
        await b.put('search', flag(), { actor: 'bob' });

        const seenA = await watchA;
        assert.deepEqual(seenA.map((e) => [e.type, e.type === 'segments' ? '' : e.key, e.revision]), [['put', 'checkout', 1], ['put', 'checkout', 2]]);
        assert.deepEqual((await watchB).map((e) => (e.type === 'segments' ? '' : e.key)), ['search'], "b's feed holds b's change only");
        assert.deepEqual(await watchRoot, [], 'the root feed heard nothing');

        const listA = await a.list();
        assert.deepEqual(listA.flags.map((f) => [f.key, f.version]), [['checkout', 2]]);
        assert.equal(listA.revision, 2);
        const listB = await b.list();
        assert.deepEqual(listB.flags.map((f) => f.key), ['search']);
        assert.equal(listB.revision, 1);
        assert.equal(await b.get('checkout'), undefined);
        assert.equal((await store.list()).revision, rootRevision, "the root's revision did not move");
        assert.equal(await store.get('checkout'), undefined);
        assert.deepEqual((await a.audit()).entries.map((e) => [e.key, e.actor, e.action]), [['checkout', 'alice', 'update'], ['checkout', 'alice', 'create']]);
        assert.deepEqual((await b.audit()).entries.map((e) => e.key), ['search']);
        assert.equal((await store.audit({ key: 'checkout' })).entries.length, 0);
        const snapshot = await a.exportSnapshot();
        assert.deepEqual(Object.keys(snapshot.flags), ['checkout']);
        if (a.identity && store.identity) assert.notEqual((await a.identity()).instanceId, (await store.identity()).instanceId);
      }));

    it('closing the root store closes the stores of its environments', async () => {
      const store = await factory.open();
      const catalog = catalogOf(store);
      await catalog.createEnvironment('default', { key: 'qa' }, by);
      const qa = await catalog.environment(ref('default', 'qa'));
      await qa.put('f', flag(), by);
      await store.close();
      await assert.rejects(qa.list());
      await assert.rejects(catalog.environment(ref('default', 'qa')));
    });

    it('50 environments share the store\'s connections', { timeout: 300_000 }, () =>
      withStore(async (store, catalog) => {
        const count = 50;
        await catalog.createProject({ key: 'many' }, Array.from({ length: count }, (_, i) => ({ key: `env-${i}` })), by);
        const stores = await Promise.all(Array.from({ length: count }, (_, i) => catalog.environment(ref('many', `env-${i}`))));
        assert.equal(new Set(stores).size, count);
        const controller = new AbortController();
        // A watcher on each, as a server keeps (on PostgreSQL each watch LISTENs).
        const heard = stores.map((env) =>
          (async () => {
            for await (const event of env.watch({ fromRevision: 0, signal: controller.signal })) return event;
            return undefined;
          })(),
        );
        try {
          for (const [i, env] of stores.entries()) await env.put(`flag-${i}`, flag(), by);
          const events = await Promise.all(heard);
          assert.deepEqual(
            events.map((event) => (event && event.type !== 'segments' ? event.key : undefined)),
            stores.map((_, i) => `flag-${i}`),
            'each environment heard its own change only',
          );
          assert.deepEqual((await stores[49]!.list()).flags.map((f) => f.key), ['flag-49']);
          if (factory.countConnections) {
            const connections = await factory.countConnections();
            const limit = factory.maxConnections ?? 12;
            assert.ok(connections <= limit, `${connections} connections for ${count} environments (at most ${limit})`);
          }
          await store.ping();
        } finally {
          controller.abort();
          await Promise.allSettled(heard);
        }
      }));

    it(
      'a second instance sees projects and environments created by the first, and the catalog revision moved',
      { skip: factory.openSecond ? false : 'the factory cannot open a second instance' },
      () =>
        withStore(async (_store, catalog) => {
          const second = await factory.openSecond!();
          try {
            const other = catalogOf(second);
            const before = await other.revision();
            await catalog.createProject({ key: 'mobile' }, [{ key: 'beta', requireApproval: true }], by);
            assert.ok((await other.revision()) > before, 'the second instance reads the moved revision');
            assert.deepEqual((await other.listProjects()).map((p) => p.key), ['default', 'mobile']);
            const beta = await other.getEnvironment(ref('mobile', 'beta'));
            assert.deepEqual(beta, await catalog.getEnvironment(ref('mobile', 'beta')));
            // The same environment's data, through either instance.
            const mine = await catalog.environment(ref('mobile', 'beta'));
            await mine.put('shared', flag(), by);
            const theirs = await other.environment(ref('mobile', 'beta'));
            assert.equal((await theirs.get('shared'))?.version, 1);
            const revision = await other.revision();
            await other.updateEnvironment(ref('mobile', 'beta'), { name: 'Beta' }, by);
            assert.ok((await catalog.revision()) > revision);
            assert.equal((await catalog.getEnvironment(ref('mobile', 'beta')))?.name, 'Beta');
          } finally {
            await second.close();
          }
        }),
    );

    it("a deleted environment's data is gone: created again with the same key, it is empty, with a new id", () =>
      withStore(async (_store, catalog) => {
        const first = await catalog.createEnvironment('default', { key: 'temp' }, by);
        const temp = await catalog.environment(ref('default', 'temp'));
        await temp.put('leftover', flag(), by);
        await catalog.deleteEnvironment(ref('default', 'temp'), by);
        await assert.rejects(temp.list(), 'the deleted environment\'s store is closed');
        const again = await catalog.createEnvironment('default', { key: 'temp' }, by);
        assert.notEqual(again.id, first.id, 'ids are never reused');
        const fresh = await catalog.environment(ref('default', 'temp'));
        assert.notEqual(fresh, temp);
        const list = await fresh.list();
        assert.deepEqual(list.flags, []);
        assert.equal(list.revision, 0);
        assert.deepEqual((await fresh.audit()).entries, []);
        assert.equal(await fresh.get('leftover'), undefined);
      }));

    it('keeps change requests: create, list (oldest first, filtered), get, update only at the expected version', () =>
      withStore(async (_store, catalog) => {
        const requests = catalog.changeRequests;
        assert.ok(requests, 'a writable catalog keeps change requests');
        await catalog.createProject({ key: 'pay' }, [{ key: 'prod', requireApproval: true }, { key: 'dev' }], by);
        const change = { key: 'f', action: 'put' as const, baseVersion: 0, before: null, after: flag() };
        const first = await requests.create({ project: 'pay', environment: 'prod', author: 'alice', reason: 'launch', changes: [change] });
        assert.equal(first.status, 'pending');
        assert.equal(first.version, 1);
        assert.equal(first.author, 'alice');
        assert.ok(first.id.length > 0 && !Number.isNaN(Date.parse(first.createdAt)));
        assert.deepEqual(first.changes, [change]);
        await new Promise((resolve) => setTimeout(resolve, 5));
        const second = await requests.create({ project: 'pay', environment: 'dev', author: 'bob', changes: [{ ...change, key: 'g' }] });
        const third = await requests.create({ project: 'pay', environment: 'prod', author: 'carol', changes: [{ ...change, key: 'h' }] });
        assert.deepEqual((await requests.list()).map((r) => r.id), [first.id, second.id, third.id], 'oldest first');
        assert.deepEqual((await requests.list({ project: 'pay', environment: 'prod' })).map((r) => r.author), ['alice', 'carol']);
        assert.deepEqual(await requests.get(first.id), first);
        assert.equal(await requests.get('no-such-request'), undefined);
        await assert.rejects(
          requests.create({ project: 'pay', environment: 'nope', author: 'alice', changes: [change] }),
          UnknownEnvironmentError,
        );

        const applied = await requests.update({ ...first, status: 'applied', reviewer: 'bob', reviewedAt: new Date().toISOString(), appliedRevision: 1 }, 1);
        assert.equal(applied.version, 2);
        assert.equal(applied.status, 'applied');
        await assert.rejects(requests.update({ ...first, status: 'rejected', reviewer: 'mallory' }, 1), (error: unknown) => {
          assert.ok(error instanceof StoreConflictError);
          assert.equal(error.currentVersion, 2);
          return true;
        });
        const stored = await requests.get(first.id);
        assert.deepEqual([stored?.status, stored?.reviewer, stored?.version], ['applied', 'bob', 2], 'the stale update changed nothing');
        assert.deepEqual((await requests.list({ status: 'pending' })).map((r) => r.id), [second.id, third.id]);
        assert.deepEqual((await requests.list({ status: 'applied' })).map((r) => r.id), [first.id]);
      }));
  });
}
