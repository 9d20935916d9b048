// The file store: read-only flags from YAML/JSON/TOML files and directories, watched, keeping the last good flags.
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, mkdir, rename, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { formatProblem, type Problem } from '@vexil/core';
import { FileFlagStore } from '../src/file/index.js';
import { ReadOnlyStoreError } from '../src/errors.js';
import type { ChangeEvent } from '../src/types.js';

const dirs: string[] = [];
async function tempDir(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'vexil-file-store-'));
  dirs.push(dir);
  return dir;
}

const yamlFlag = (key: string, serve: 'on' | 'off') =>
  `${key}:\n  variations:\n    on: true\n    off: false\n  defaultRule:\n    variation: ${serve}\n`;
const jsonFlags = (flags: Record<string, 'on' | 'off'>) =>
  JSON.stringify(
    Object.fromEntries(Object.entries(flags).map(([key, serve]) => [key, { variations: { on: true, off: false }, defaultRule: { variation: serve } }])),
    null,
    2,
  );
const tomlFlag = (key: string, serve: 'on' | 'off') =>
  `[${key}]\nvariations = { on = true, off = false }\ndefaultRule = { variation = "${serve}" }\n`;

/** The next `count` changes from an iterator, or fewer when `timeoutMs` passes first. */
async function next(iterator: AsyncIterator<ChangeEvent>, count: number, timeoutMs = 5_000): Promise<ChangeEvent[]> {
  const events: ChangeEvent[] = [];
  const deadline = Date.now() + timeoutMs;
  while (events.length < count) {
    let timer: NodeJS.Timeout | undefined;
    const result = await Promise.race([
      iterator.next(),
      new Promise<'timeout'>((resolve) => (timer = setTimeout(() => resolve('timeout'), Math.max(1, deadline - Date.now())))),
    ]);
    clearTimeout(timer);
    if (result === 'timeout' || result.done) break;
    events.push(result.value);
  }
  return events;
}

async function until(condition: () => boolean | Promise<boolean>, timeoutMs = 5_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error('timed out waiting for the file store');
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

const serves = async (store: FileFlagStore, key: string) => (await store.get(key))?.flag.defaultRule?.variation;

describe('File store', { timeout: 30_000 }, () => {
  after(async () => {
    for (const dir of dirs) await rm(dir, { recursive: true, force: true });
  });

  it('reads several files of all three formats, a later file overriding an earlier one', async () => {
    const dir = await tempDir();
    await writeFile(join(dir, 'base.yaml'), `${yamlFlag('shared', 'off')}${yamlFlag('only-yaml', 'on')}$segments:\n  staff: email ew "@example.com"\n`);
    await writeFile(join(dir, 'override.json'), jsonFlags({ shared: 'on', 'only-json': 'off' }));
    await writeFile(join(dir, 'more.toml'), tomlFlag('only-toml', 'on'));
    const store = await FileFlagStore.open([join(dir, 'base.yaml'), join(dir, 'override.json'), join(dir, 'more.toml')], { watch: false });
    try {
      const list = await store.list();
      assert.deepEqual(list.flags.map((f) => f.key), ['only-json', 'only-toml', 'only-yaml', 'shared']);
      assert.deepEqual(list.problems, []);
      assert.equal(list.revision, 5, 'one revision per flag and for the segments');
      assert.deepEqual(list.segments, { staff: { query: 'email ew "@example.com"' } });
      const shared = await store.get('shared');
      assert.equal(shared?.flag.defaultRule?.variation, 'on', 'the later file wins');
      assert.equal(shared?.updatedBy, join(dir, 'override.json'));
      assert.equal(shared?.version, 1);
      assert.equal(await serves(store, 'only-toml'), 'on');
      assert.equal(store.writable, false);
      assert.equal(store.kind, 'file');
    } finally {
      await store.close();
    }
  });

  it('reads a directory in name order, ignoring other files', async () => {
    const dir = await tempDir();
    await writeFile(join(dir, '20-second.yml'), yamlFlag('f', 'on'));
    await writeFile(join(dir, '10-first.toml'), tomlFlag('f', 'off') + tomlFlag('g', 'off'));
    await writeFile(join(dir, 'README.md'), '# not flags');
    await mkdir(join(dir, 'nested.yaml'));
    const store = await FileFlagStore.open([dir], { watch: false });
    try {
      assert.equal(await serves(store, 'f'), 'on');
      assert.equal(await serves(store, 'g'), 'off');
      assert.deepEqual((await store.list()).problems, []);
    } finally {
      await store.close();
    }
  });

  it('keeps the last good flags of a file that breaks, reports file:line, recovers when fixed, and emits changes', async () => {
    const dir = await tempDir();
    const file = join(dir, 'flags.yaml');
    const other = join(dir, 'other.json');
    await writeFile(file, yamlFlag('a', 'off') + yamlFlag('b', 'off'));
    await writeFile(other, jsonFlags({ c: 'on' }));
    const problems: Problem[] = [];
    const store = await FileFlagStore.open([dir], { debounceMs: 20, onProblem: (problem) => problems.push(problem) });
    const changes = store.watch()[Symbol.asyncIterator]();
    try {
      // A change to one flag: one put, with the next revision and version.
      await writeFile(file, yamlFlag('a', 'on') + yamlFlag('b', 'off'));
      const [changed] = await next(changes, 1);
      assert.equal(changed?.type, 'put');
      assert.equal(changed?.type === 'put' && changed.key, 'a');
      assert.equal(changed?.revision, 4);
      assert.equal(changed?.type === 'put' && changed.version, 2);
      assert.equal((await store.get('b'))?.version, 1, 'an unchanged flag keeps its version');

      // A broken edit: the last good flags stay, the problem names the file and line.
      await writeFile(file, `${yamlFlag('a', 'off')}b:\n  variations: [on, off\n`);
      await until(() => problems.length > 0);
      const list = await store.list();
      assert.equal(await serves(store, 'a'), 'on', 'the last good flags of the broken file are kept');
      assert.equal(await serves(store, 'b'), 'off');
      assert.equal(await serves(store, 'c'), 'on');
      assert.equal(list.revision, 4, 'a broken edit changes nothing');
      const broken = list.problems.find((p) => p.source === file && p.severity === 'error');
      assert.ok(broken?.line, `a problem with a line: ${JSON.stringify(list.problems)}`);
      assert.match(formatProblem(broken), new RegExp(`^${file.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}:\\d+`));

      // The fix: back in service, changes announced.
      problems.length = 0;
      await writeFile(file, yamlFlag('a', 'off'));
      const fixed = await next(changes, 2);
      assert.deepEqual(
        fixed.map((e) => [e.type, e.type === 'segments' ? '' : e.key, e.revision]),
        [['put', 'a', 5], ['delete', 'b', 6]],
      );
      assert.deepEqual((await store.list()).problems, []);
      assert.equal((await store.get('a'))?.version, 3);

      // The audit log remembers what changed since the store opened.
      const audit = await store.audit({ key: 'a' });
      assert.deepEqual(audit.entries.map((e) => [e.action, e.version]), [['update', 3], ['update', 2]]);
      assert.deepEqual(audit.entries[0]?.before?.defaultRule, { variation: 'on' });
    } finally {
      await changes.return?.();
      await store.close();
    }
  });

  it('skips an individually invalid flag with a report, keeping its last good definition', async () => {
    const dir = await tempDir();
    const file = join(dir, 'flags.json');
    await writeFile(file, JSON.stringify({ ok: { variations: { on: true }, defaultRule: { variation: 'on' } }, bad: { variations: { on: true }, defaultRule: { variation: 'nope' } } }));
    const store = await FileFlagStore.open([file], { watch: false });
    try {
      let list = await store.list();
      assert.deepEqual(list.flags.map((f) => f.key), ['ok']);
      assert.ok(list.problems.some((p) => p.flagKey === 'bad' && p.severity === 'error'));
      await writeFile(file, JSON.stringify({ ok: { variations: { on: true }, defaultRule: { variation: 'missing' } } }));
      await store.reload();
      list = await store.list();
      assert.deepEqual(list.flags.map((f) => f.key), ['ok'], 'the last good definition of a broken flag is kept');
      assert.ok(list.problems.some((p) => p.flagKey === 'ok'));
      assert.equal(list.revision, 1);
    } finally {
      await store.close();
    }
  });

  it('follows editors that save by renaming a new file over the old one', async () => {
    const dir = await tempDir();
    const file = join(dir, 'flags.toml');
    await writeFile(file, tomlFlag('f', 'off'));
    const store = await FileFlagStore.open([file], { debounceMs: 20 });
    const changes = store.watch()[Symbol.asyncIterator]();
    try {
      for (const serve of ['on', 'off', 'on'] as const) {
        await writeFile(`${file}.tmp`, tomlFlag('f', serve));
        await rename(`${file}.tmp`, file);
        const [event] = await next(changes, 1);
        assert.equal(event?.type === 'put' && event.flag.defaultRule?.variation, serve);
      }
      assert.equal((await store.get('f'))?.version, 4);
    } finally {
      await changes.return?.();
      await store.close();
    }
  });

  it('catches a watcher up from a revision', async () => {
    const dir = await tempDir();
    const file = join(dir, 'flags.yaml');
    await writeFile(file, yamlFlag('a', 'off') + yamlFlag('b', 'off'));
    const store = await FileFlagStore.open([file], { watch: false });
    try {
      await writeFile(file, yamlFlag('a', 'on'));
      await store.reload();
      const fromStart = await next(store.watch({ fromRevision: 0 })[Symbol.asyncIterator](), 2, 500);
      assert.deepEqual(fromStart.map((e) => [e.type, e.type === 'segments' ? '' : e.key, e.revision]), [['put', 'a', 3], ['delete', 'b', 4]]);
      const fromMiddle = await next(store.watch({ fromRevision: 3 })[Symbol.asyncIterator](), 1, 500);
      assert.deepEqual(fromMiddle.map((e) => [e.type, e.type === 'segments' ? '' : e.key, e.revision]), [['delete', 'b', 4]]);
      assert.deepEqual(await next(store.watch({ fromRevision: 4 })[Symbol.asyncIterator](), 1, 50), []);
    } finally {
      await store.close();
    }
  });

  it('gives each change of one edit a revision of its own, so a reader following revisions misses none', async () => {
    const dir = await tempDir();
    const file = join(dir, 'flags.yaml');
    await writeFile(file, yamlFlag('a', 'off') + yamlFlag('b', 'off') + yamlFlag('c', 'off'));
    const store = await FileFlagStore.open([file], { debounceMs: 20 });
    const changes = store.watch()[Symbol.asyncIterator]();
    try {
      const start = (await store.list()).revision;
      await writeFile(file, `$segments:\n  staff: email ew "@example.com"\n${yamlFlag('a', 'on')}${yamlFlag('b', 'on')}${yamlFlag('d', 'on')}`);
      const events = await next(changes, 5);
      assert.deepEqual(
        events.map((e) => [e.type, e.type === 'segments' ? '' : e.key, e.revision]),
        [['segments', '', start + 1], ['put', 'a', start + 2], ['put', 'b', start + 3], ['put', 'd', start + 4], ['delete', 'c', start + 5]],
      );
      assert.equal((await store.list()).revision, start + 5);
      // Skipping the changes already seen (as the server's snapshot does, by revision) drops none of the others.
      let applied = start;
      const kept = events.filter((e) => (e.revision > applied ? ((applied = e.revision), true) : false));
      assert.equal(kept.length, events.length);
    } finally {
      await changes.return?.();
      await store.close();
    }
  });

  it('is read-only, and refuses a path that does not exist', async () => {
    const dir = await tempDir();
    await writeFile(join(dir, 'flags.yaml'), yamlFlag('f', 'on'));
    const store = await FileFlagStore.open([join(dir, 'flags.yaml')], { watch: false });
    try {
      const by = { actor: 'me' };
      await assert.rejects(store.put('f', { variations: { on: true }, defaultRule: { variation: 'on' } }, by), ReadOnlyStoreError);
      await assert.rejects(store.delete('f', by), ReadOnlyStoreError);
      await assert.rejects(store.putSegments({}, by), ReadOnlyStoreError);
      await assert.rejects(store.importSnapshot(await store.exportSnapshot(), by), ReadOnlyStoreError);
      await store.ping();
    } finally {
      await store.close();
    }
    await assert.rejects(FileFlagStore.open([join(dir, 'missing.yaml')]), /missing\.yaml/);
  });
});
