// A store written before projects and environments existed opens and migrates in place. The fixture is an embedded
// (PGlite) store folder made by commit 7bde3a4 (the last release without environments): two flags (one updated),
// an admin key and an SDK key. Opened now, its flags are default/default's, unchanged; its keys keep working with
// no scope (default/default, role everywhere); and new environments can be created beside it.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SqlFlagStore, MIGRATIONS } from '../src/sql/index.js';
import { openPGliteDriver } from '../src/sql/pglite-driver.js';

const FIXTURE = new URL('./fixtures/pglite-store-7bde3a4.tar.gz', import.meta.url).pathname;

describe('migrating an embedded store made before environments', () => {
  let dir = '';
  let store: SqlFlagStore;
  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'vexil-migrate-'));
    execFileSync('tar', ['-xzf', FIXTURE, '-C', dir]);
    store = await SqlFlagStore.open(`pglite:${join(dir, 'fixture-store')}`);
  });
  after(async () => {
    await store?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('applies every migration in place and keeps the flags, their versions and the revision', async () => {
    // The same in-process database as the store's (PGlite databases are shared by folder within a process).
    const driver = await openPGliteDriver({ location: join(dir, 'fixture-store') });
    const applied = await driver.query<{ version: number }>('SELECT version FROM vexil.schema_migrations ORDER BY version');
    await driver.close();
    assert.deepEqual(applied.map((row) => Number(row.version)), MIGRATIONS.map((m) => m.version));
    const list = await store.list();
    assert.deepEqual(
      list.flags.map((f) => [f.key, f.version]).sort(),
      [
        ['banner', 2],
        ['new-checkout', 1],
      ],
    );
    assert.equal(list.revision, 3);
    const banner = list.flags.find((f) => f.key === 'banner')!;
    assert.equal(banner.flag.defaultRule?.variation, 'b');
    const audit = await store.audit({ key: 'banner' });
    assert.equal(audit.entries.length, 2);
    assert.equal(audit.entries[0]!.actor, 'release-0.x');
  });

  it('its keys have no scope: SDK keys serve default/default and admin keys keep their role everywhere', async () => {
    const keys = await store.apiKeys!.list();
    assert.deepEqual(
      keys.map((k) => [k.id, k.kind, k.role, k.project, k.environment, k.grants]),
      [
        ['k-reader', 'admin', 'reader', undefined, undefined, undefined],
        ['k-sdk', 'sdk', 'reader', undefined, undefined, undefined],
      ],
    );
  });

  it('is project default with environment default, holding those flags; a new environment starts empty', async () => {
    const catalog = store.catalog!;
    assert.deepEqual((await catalog.listProjects()).map((p) => p.key), ['default']);
    assert.deepEqual((await catalog.listEnvironments('default')).map((e) => e.key), ['default']);
    assert.equal(await catalog.environment({ project: 'default', environment: 'default' }), store);
    await catalog.createEnvironment('default', { key: 'production', requireApproval: true }, { actor: 'test' });
    const production = await catalog.environment({ project: 'default', environment: 'production' });
    assert.equal((await production.list()).flags.length, 0);
    assert.equal((await store.list()).flags.length, 2, 'the default environment is untouched');
  });
});
