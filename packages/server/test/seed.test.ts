// The seed rule of `vexil serve --store X --flags F` (issue 9, item 5). Before: every start re-imported F and
// overwrote what was changed through the admin API since. Now the files only add flags the store never had: an edit
// survives a restart, a deleted flag stays deleted, a flag new in the file is added, and the start says which.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startServer } from '@vexil/server';
import { ADMIN, SDK, json } from './helpers.js';

let dir: string;
before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'vexil-seed-'));
});
after(() => rm(dir, { recursive: true, force: true }));

const flagYaml = (key: string, serve: 'on' | 'off') => `${key}:\n  variations: { on: true, off: false }\n  defaultRule: { variation: ${serve} }\n`;

async function start(store: string, flags: string) {
  const lines: string[] = [];
  const server = await startServer({
    storeUrl: store,
    flags: [flags],
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

async function value(url: string, key: string): Promise<unknown> {
  const response = await fetch(`${url}/ofrep/v1/evaluate/flags/${key}`, { method: 'POST', headers: json(SDK), body: '{"context":{"targetingKey":"u"}}' });
  const body = (await response.json()) as { value?: unknown; errorCode?: string };
  return body.errorCode ?? body.value;
}

describe('vexil serve --store X --flags F: files seed the store, never override it', { timeout: 120_000 }, () => {
  test('a restart keeps admin edits and deletions, adds new flags, and says what it applied and skipped', async () => {
    const store = `pglite:${join(dir, 'data')}`;
    const flags = join(dir, 'flags.yaml');
    await writeFile(flags, flagYaml('edited', 'off') + flagYaml('deleted', 'on') + flagYaml('untouched', 'on'));

    const first = await start(store, flags);
    try {
      assert.match(first.output, /imported 3 flag\(s\) from .*flags\.yaml/);
      assert.match(first.output, /applied: edited, deleted, untouched/);
      const edit = await fetch(`${first.server.url}/admin/v1/flags/edited`, {
        method: 'PATCH',
        headers: json(ADMIN, { 'content-type': 'application/merge-patch+json' }),
        body: JSON.stringify({ defaultRule: { variation: 'on' } }),
      });
      assert.equal(edit.status, 200, await edit.text());
      const removed = await fetch(`${first.server.url}/admin/v1/flags/deleted`, { method: 'DELETE', headers: { 'x-api-key': ADMIN } });
      assert.ok(removed.ok, String(removed.status));
      assert.equal(await value(first.server.url, 'edited'), true);
    } finally {
      await first.server.close();
    }

    await writeFile(flags, flagYaml('edited', 'off') + flagYaml('deleted', 'on') + flagYaml('untouched', 'on') + flagYaml('added', 'on'));
    const second = await start(store, flags);
    try {
      const url = second.server.url;
      assert.equal(await value(url, 'edited'), true, 'the admin edit survives the restart');
      assert.equal(await value(url, 'deleted'), 'FLAG_NOT_FOUND', 'the deleted flag stays deleted');
      assert.equal(await value(url, 'added'), true, 'a flag new in the file is added');
      assert.equal(await value(url, 'untouched'), true);
      assert.match(second.output, /imported 1 flag\(s\) from .*\(files seed the store: only flags it never had\), 2 skipped, 1 unchanged/);
      assert.match(second.output, /applied: added/);
      assert.match(second.output, /skipped, the store's version kept .*: edited \(version 2, by /);
      assert.match(second.output, /skipped, deleted in the store \(stay deleted\): deleted/);
    } finally {
      await second.server.close();
    }
  });
});
