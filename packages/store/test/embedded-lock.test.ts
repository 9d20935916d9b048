// The embedded store's owner lock (issue 9, item 1): one process per folder; a lock left by a dead process is taken
// over by exactly one of the processes that find it.
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { EmbeddedStoreLockedError } from '../src/errors.js';
import { EmbeddedStoreLock, LOCK_FILE } from '../src/sql/embedded-lock.js';
import { openStore } from '../src/open-store.js';

const dir = mkdtempSync(join(tmpdir(), 'vexil-lock-'));
after(() => rmSync(dir, { recursive: true, force: true }));

/** The pid of a process that has exited. */
function deadPid(): number {
  const result = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))'], { encoding: 'utf8' });
  return Number(result.stdout);
}

describe('embedded store lock', () => {
  it('a stale lock (dead pid) is taken over by exactly one of many racing takers', async () => {
    const folder = join(dir, 'stale');
    rmSync(folder, { recursive: true, force: true });
    (await import('node:fs')).mkdirSync(folder, { recursive: true });
    const pid = deadPid();
    writeFileSync(join(folder, LOCK_FILE), JSON.stringify({ pid, host: hostname(), startedAt: new Date().toISOString(), command: 'vexil serve' }));
    const results = await Promise.allSettled(Array.from({ length: 8 }, () => EmbeddedStoreLock.acquire(folder)));
    const won = results.filter((result) => result.status === 'fulfilled');
    assert.equal(won.length, 1, 'exactly one taker holds the lock');
    for (const result of results)
      if (result.status === 'rejected') assert.ok(result.reason instanceof EmbeddedStoreLockedError, String(result.reason));
    const lock = (won[0] as PromiseFulfilledResult<EmbeddedStoreLock>).value;
    assert.equal(JSON.parse(readFileSync(join(folder, LOCK_FILE), 'utf8')).pid, process.pid);
    await lock.advertise({ url: 'http://127.0.0.1:4242' });
    await assert.rejects(EmbeddedStoreLock.acquire(folder), (error: unknown) => {
      assert.ok(error instanceof EmbeddedStoreLockedError);
      assert.equal(error.owner.url, 'http://127.0.0.1:4242');
      assert.match(error.message, new RegExp(`process ${process.pid} .*at http://127\\.0\\.0\\.1:4242.*--store.*vexil import --server http://127\\.0\\.0\\.1:4242`));
      assert.doesNotMatch(error.message, /\n/);
      return true;
    });
    await lock.release();
    assert.equal(existsSync(join(folder, LOCK_FILE)), false, 'released on close');
  });

  it('a process that exits without closing its store (process.exit) leaves no lock; one killed leaves one that is taken over', () => {
    const folder = join(dir, 'exit');
    const run = (code: string) =>
      spawnSync(process.execPath, ['--conditions=source', '--import', 'tsx', '--input-type=module', '-e', code], { encoding: 'utf8', cwd: import.meta.dirname });
    const exited = run(`import { openStore } from '@vexil/store'; await openStore(${JSON.stringify(`pglite:${folder}`)}); process.exit(0);`);
    assert.equal(exited.status, 0, exited.stderr);
    assert.equal(existsSync(join(folder, LOCK_FILE)), false);
    const killed = run(`import { openStore } from '@vexil/store'; await openStore(${JSON.stringify(`pglite:${folder}`)}); process.kill(process.pid, 'SIGKILL');`);
    assert.equal(killed.signal, 'SIGKILL');
    assert.ok(existsSync(join(folder, LOCK_FILE)), 'kill -9 leaves its lock');
    const next = run(`import { openStore } from '@vexil/store'; const s = await openStore(${JSON.stringify(`pglite:${folder}`)}); await s.put('f', { variations: { a: true }, defaultRule: { variation: 'a' } }, { actor: 't' }); await s.close(); console.log('ok');`);
    assert.equal(next.status, 0, next.stderr);
    assert.match(next.stdout, /ok/);
  });

  it('stores opened on one folder in one process share the database and the lock, released with the last', async () => {
    const url = `pglite:${join(dir, 'shared')}`;
    const first = await openStore(url);
    const second = await openStore(url);
    await first.put('f', { variations: { a: true, b: false }, defaultRule: { variation: 'a' } }, { actor: 'test' });
    assert.ok(await second.get('f'));
    await first.close();
    assert.ok(existsSync(join(dir, 'shared', LOCK_FILE)), 'still owned while a store is open');
    await second.close();
    assert.equal(existsSync(join(dir, 'shared', LOCK_FILE)), false);
  });
});
