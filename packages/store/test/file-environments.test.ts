// Environments of the file store: `--flags production=a.yaml,checkout/staging=b.yaml` serves each environment from
// its own files, read-only, each watched with its own problems.
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FileFlagStore } from '../src/file/index.js';
import { parseFlagFileSpecs, groupFlagFileSpecs, FlagSpecError, mapFlagFileSpecPath } from '../src/file/sources.js';
import { openStore } from '../src/open-store.js';
import { ReadOnlyStoreError, UnknownEnvironmentError, UnknownProjectError } from '../src/errors.js';
import type { FlagStore } from '../src/types.js';

const dirs: string[] = [];
async function tempDir(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'vexil-file-envs-'));
  dirs.push(dir);
  return dir;
}

const flag = (key: string, serve: 'on' | 'off') => `${key}:\n  variations:\n    on: true\n    off: false\n  defaultRule:\n    variation: ${serve}\n`;
const serves = async (store: FlagStore, key: string) => (await store.get(key))?.flag.defaultRule?.variation;

async function until(condition: () => boolean | Promise<boolean>, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error('timed out waiting for the file store');
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

describe('--flags specs', () => {
  it('reads bare paths as default/default and env=path, project/env=path as environments, comma-separated and repeated', () => {
    const specs = parseFlagFileSpecs(['base.yaml,production=prod.yaml', 'checkout/staging=./st/a.yaml,production=more.yaml', '/abs/dir']);
    assert.deepEqual(
      specs.map(({ project, environment, path }) => `${project}/${environment} ${path}`),
      ['default/default base.yaml', 'default/production prod.yaml', 'checkout/staging ./st/a.yaml', 'default/production more.yaml', 'default/default /abs/dir'],
    );
    assert.deepEqual(
      groupFlagFileSpecs(specs).map(({ project, environment, paths }) => `${project}/${environment}: ${paths.join(' ')}`),
      ['default/default: base.yaml /abs/dir', 'default/production: prod.yaml more.yaml', 'checkout/staging: ./st/a.yaml'],
    );
  });

  it('keeps paths that contain "=" but do not start with an environment as plain paths', () => {
    for (const path of ['./dir=1/flags.yaml', '/tmp/a=b.yaml', 'flags.v=2.yaml', 'C:\\x=y.yaml']) {
      const [spec] = parseFlagFileSpecs(path);
      assert.equal(spec?.path, path);
      assert.equal(spec?.environment, 'default');
      assert.equal(spec?.scoped, false);
    }
  });

  it('names the bad spec: a key that is not a key, a missing path', () => {
    assert.throws(() => parseFlagFileSpecs('base.yaml,Production=prod.yaml'), (error: Error) => {
      assert.ok(error instanceof FlagSpecError);
      assert.match(error.message, /flag file spec "Production=prod.yaml": "Production" is not an environment key/);
      return true;
    });
    assert.throws(() => parseFlagFileSpecs('Check_out/staging=a.yaml'), /flag file spec "Check_out\/staging=a.yaml": "Check_out" is not a project key/);
    assert.throws(() => parseFlagFileSpecs('staging='), /flag file spec "staging=": no file after "staging="/);
    assert.throws(() => parseFlagFileSpecs('checkout/=a.yaml'), /"" is not an environment key/);
  });

  it('maps a spec path and keeps its environment (config files make paths relative to themselves)', () => {
    assert.equal(mapFlagFileSpecPath('checkout/staging=a.yaml', (path) => `/etc/vexil/${path}`), 'checkout/staging=/etc/vexil/a.yaml');
    assert.equal(mapFlagFileSpecPath('production=a.yaml', (path) => `/etc/${path}`), 'production=/etc/a.yaml');
    assert.equal(mapFlagFileSpecPath('a.yaml', (path) => `/etc/${path}`), '/etc/a.yaml');
  });
});

describe('File store environments', { timeout: 60_000 }, () => {
  after(async () => {
    for (const dir of dirs) await rm(dir, { recursive: true, force: true });
  });

  it('serves each environment from its own files; bare paths are default/default', async () => {
    const dir = await tempDir();
    await writeFile(join(dir, 'base.yaml'), flag('checkout', 'off'));
    await writeFile(join(dir, 'prod.yaml'), flag('checkout', 'on') + flag('banner', 'off'));
    await writeFile(join(dir, 'prod-extra.yaml'), flag('banner', 'on'));
    await writeFile(join(dir, 'staging.yaml'), flag('search', 'on'));
    const store = await openStore(
      `file:${join(dir, 'base.yaml')},production=${join(dir, 'prod.yaml')},production=${join(dir, 'prod-extra.yaml')},checkout/staging=${join(dir, 'staging.yaml')}`,
      { watch: false },
    );
    try {
      const catalog = store.catalog;
      assert.ok(catalog, 'a file store has a catalog');
      assert.equal(catalog.writable, false);
      assert.deepEqual((await catalog.listProjects()).map((project) => project.key), ['default', 'checkout']);
      assert.deepEqual((await catalog.listEnvironments('default')).map((environment) => environment.key), ['default', 'production']);
      assert.deepEqual((await catalog.listEnvironments('checkout')).map((environment) => environment.key), ['staging']);
      assert.equal((await catalog.getEnvironment({ project: 'default', environment: 'production' }))?.requireApproval, false);
      assert.equal(await catalog.getEnvironment({ project: 'default', environment: 'staging' }), undefined);

      assert.equal(await catalog.environment({ project: 'default', environment: 'default' }), store, 'default/default is the root');
      assert.deepEqual((await store.list()).flags.map((entry) => entry.key), ['checkout']);
      assert.equal(await serves(store, 'checkout'), 'off');

      const production = await catalog.environment({ project: 'default', environment: 'production' });
      assert.deepEqual((await production.list()).flags.map((entry) => entry.key).sort(), ['banner', 'checkout']);
      assert.equal(await serves(production, 'checkout'), 'on');
      assert.equal(await serves(production, 'banner'), 'on', 'several files of one environment merge, the later one wins');
      assert.equal(production.catalog, undefined, 'environment stores have no catalog of their own');

      const staging = await catalog.environment({ project: 'checkout', environment: 'staging' });
      assert.deepEqual((await staging.list()).flags.map((entry) => entry.key), ['search']);
      assert.equal(await staging.get('checkout'), undefined);

      await assert.rejects(catalog.environment({ project: 'default', environment: 'staging' }), UnknownEnvironmentError);
      await assert.rejects(catalog.environment({ project: 'search', environment: 'production' }), UnknownProjectError);
      await assert.rejects(catalog.listEnvironments('search'), /no project "search"/);
    } finally {
      await store.close();
    }
  });

  it('has an empty default/default when every file names an environment', async () => {
    const dir = await tempDir();
    await writeFile(join(dir, 'prod.yaml'), flag('checkout', 'on'));
    const store = await FileFlagStore.open([`production=${join(dir, 'prod.yaml')}`], { watch: false });
    try {
      assert.deepEqual((await store.list()).flags, []);
      const production = await store.catalog!.environment({ project: 'default', environment: 'production' });
      assert.equal(await serves(production, 'checkout'), 'on');
    } finally {
      await store.close();
    }
  });

  it('refuses to create, change or delete projects and environments, and flag writes in any environment', async () => {
    const dir = await tempDir();
    await writeFile(join(dir, 'prod.yaml'), flag('checkout', 'on'));
    const store = await FileFlagStore.open([`production=${join(dir, 'prod.yaml')}`], { watch: false });
    try {
      const catalog = store.catalog!;
      const options = { actor: 'test' };
      await assert.rejects(catalog.createProject({ key: 'checkout' }, undefined, options), ReadOnlyStoreError);
      await assert.rejects(catalog.createEnvironment('default', { key: 'staging' }, options), (error: Error) => {
        assert.ok(error instanceof ReadOnlyStoreError);
        assert.match(error.message, /read-only.*--flags/);
        return true;
      });
      await assert.rejects(catalog.updateEnvironment({ project: 'default', environment: 'production' }, { requireApproval: true }, options), ReadOnlyStoreError);
      await assert.rejects(catalog.deleteEnvironment({ project: 'default', environment: 'production' }, options), ReadOnlyStoreError);
      await assert.rejects(catalog.deleteProject('default', options), ReadOnlyStoreError);
      const production = await catalog.environment({ project: 'default', environment: 'production' });
      await assert.rejects(production.put('checkout', { variations: { on: true }, defaultRule: { variation: 'on' } }, options), ReadOnlyStoreError);
      await assert.rejects(production.delete('checkout', options), ReadOnlyStoreError);
      // Nothing changed.
      assert.deepEqual((await catalog.listEnvironments('default')).map((environment) => environment.key), ['default', 'production']);
      assert.equal(await serves(production, 'checkout'), 'on');
    } finally {
      await store.close();
    }
  });

  it('a broken file in one environment keeps that environment\'s last good flags and leaves the others alone', async () => {
    const dir = await tempDir();
    const prod = join(dir, 'prod.yaml');
    const staging = join(dir, 'staging.yaml');
    await writeFile(prod, flag('checkout', 'on'));
    await writeFile(staging, flag('checkout', 'off'));
    const store = await FileFlagStore.open([`production=${prod}`, `staging=${staging}`], { debounceMs: 20 });
    try {
      const production = await store.catalog!.environment({ project: 'default', environment: 'production' });
      const stagingStore = await store.catalog!.environment({ project: 'default', environment: 'staging' });
      const stagingRevision = (await stagingStore.list()).revision;
      const productionProblems: string[][] = [];
      production.sourceProblems!.subscribe((problems) => productionProblems.push(problems.map((problem) => problem.message)));

      await writeFile(prod, 'checkout: [unclosed\n');
      await until(() => (production.sourceProblems?.current().length ?? 0) > 0);
      assert.equal(await serves(production, 'checkout'), 'on', 'the last good flags stay');
      assert.ok(productionProblems.length > 0, 'the environment\'s problems feed announced the break');
      assert.equal(production.sourceProblems!.current()[0]!.source, prod);
      assert.deepEqual(stagingStore.sourceProblems!.current(), [], 'the other environment has no problem');
      assert.deepEqual(store.sourceProblems!.current(), [], 'nor has default/default');

      // Staging still follows its own file.
      await writeFile(staging, flag('checkout', 'on'));
      await until(async () => (await serves(stagingStore, 'checkout')) === 'on');
      assert.ok((await stagingStore.list()).revision > stagingRevision);

      // Fixing production's file clears its problems and applies the new content.
      await writeFile(prod, flag('checkout', 'off'));
      await until(async () => (await serves(production, 'checkout')) === 'off');
      assert.deepEqual(production.sourceProblems!.current(), []);
    } finally {
      await store.close();
    }
  });

  it('names the missing file when an environment\'s file does not exist, and opens nothing', async () => {
    const dir = await tempDir();
    await writeFile(join(dir, 'prod.yaml'), flag('checkout', 'on'));
    await assert.rejects(
      FileFlagStore.open([`production=${join(dir, 'prod.yaml')}`, `staging=${join(dir, 'nope.yaml')}`], { watch: false }),
      /cannot open flag file .*nope\.yaml: ENOENT/,
    );
  });
});
