// Issue 9, item 20: restoring from the audit log. Before, restoring wrote at once, and restoring a version identical
// to the current one wrote a new, empty version. Now `POST /admin/v1/flags/{key}/restore` writes only a real change,
// with a reason that names the version restored, and answers `changed: false` (no version written) otherwise.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { FastifyInstance } from 'fastify';
import { ADMIN, SDK, fixtureServer, json, listen } from './helpers.js';

let app: FastifyInstance;
let base: string;

before(async () => {
  app = await fixtureServer();
  base = await listen(app);
});
after(async () => {
  await app.close();
});

const call = async (method: string, path: string, body?: unknown, headers: Record<string, string> = json(ADMIN)) => {
  const response = await fetch(`${base}${path}`, { method, headers, ...(body === undefined ? {} : { body: JSON.stringify(body) }) });
  return { status: response.status, etag: response.headers.get('etag'), body: (await response.json().catch(() => undefined)) as any };
};
const flag = (variation: 'yes' | 'no') => ({ variations: { yes: true, no: false }, defaultRule: { variation } });
const audit = async (key: string) => (await call('GET', `/admin/v1/flags/${key}/audit`)).body.entries as { id: string; version: number; action: string; reason?: string }[];
const restore = (key: string, body: unknown, headers: Record<string, string> = json(ADMIN)) => call('POST', `/admin/v1/flags/${key}/restore`, body, headers);

describe('admin API: restore from the audit log', () => {
  test('restoring a version identical to the current one writes nothing and says so', async () => {
    assert.equal((await call('PUT', '/admin/v1/flags/restore-same', flag('yes'))).status, 201);
    assert.equal((await call('PUT', '/admin/v1/flags/restore-same', flag('no'), json(ADMIN, { 'if-match': '"1"' }))).status, 200);
    assert.equal((await call('PUT', '/admin/v1/flags/restore-same', flag('yes'), json(ADMIN, { 'if-match': '"2"' }))).status, 200);
    const [v3, , v1] = await audit('restore-same');
    assert.deepEqual([v3!.version, v1!.version], [3, 1]);

    // Version 1 is what the flag is now (version 3 wrote it back): nothing to restore.
    const same = await restore('restore-same', { auditId: v1!.id, reason: 'roll back' });
    assert.equal(same.status, 200);
    assert.equal(same.body.changed, false);
    assert.equal(same.body.version, 3);
    assert.match(same.body.message, /already identical to version 1: nothing to restore/);
    assert.equal(same.etag, '"3"');
    assert.equal((await audit('restore-same')).length, 3, 'no audit entry, no version');
    assert.equal((await call('GET', '/admin/v1/flags/restore-same')).body.version, 3);
  });

  test('a real restore writes a new version whose reason names the version restored', async () => {
    assert.equal((await call('PUT', '/admin/v1/flags/restore-real', flag('yes'))).status, 201);
    assert.equal((await call('PUT', '/admin/v1/flags/restore-real', flag('no'), json(ADMIN, { 'if-match': '"1"' }))).status, 200);
    const v1 = (await audit('restore-real')).find((entry) => entry.version === 1)!;
    // The diff was shown against version 2: If-Match "2".
    const restored = await restore('restore-real', { auditId: v1.id, reason: 'bad launch' }, json(ADMIN, { 'if-match': '"2"' }));
    assert.equal(restored.status, 200);
    assert.deepEqual([restored.body.changed, restored.body.version, restored.body.restoredVersion], [true, 3, 1]);
    assert.deepEqual(restored.body.flag, flag('yes'));
    const newest = (await audit('restore-real'))[0]!;
    assert.equal(newest.version, 3);
    assert.equal(newest.reason, `restore version 1 (audit entry ${v1.id}): bad launch`);
    const served = await fetch(`${base}/ofrep/v1/evaluate/flags/restore-real`, { method: 'POST', headers: json(SDK), body: JSON.stringify({ context: { targetingKey: 'u' } }) });
    assert.equal((await served.json()).value, true);
    // The same restore again is identical now.
    assert.equal((await restore('restore-real', { auditId: v1.id })).body.changed, false);
  });

  test('a stale If-Match is 409 and changes nothing; an unknown entry is 404', async () => {
    assert.equal((await call('PUT', '/admin/v1/flags/restore-stale', flag('yes'))).status, 201);
    assert.equal((await call('PUT', '/admin/v1/flags/restore-stale', flag('no'), json(ADMIN, { 'if-match': '"1"' }))).status, 200);
    const v1 = (await audit('restore-stale')).find((entry) => entry.version === 1)!;
    const stale = await restore('restore-stale', { auditId: v1.id }, json(ADMIN, { 'if-match': '"1"' }));
    assert.equal(stale.status, 409);
    assert.equal((await call('GET', '/admin/v1/flags/restore-stale')).body.version, 2);
    assert.equal((await restore('restore-stale', { auditId: 'no-such-entry' })).status, 404);
    const otherFlag = (await audit('restore-same'))[0]!;
    assert.equal((await restore('restore-stale', { auditId: otherFlag.id })).status, 404, "another flag's entry");
  });

  test('a deleted flag comes back as it was before the deletion (201)', async () => {
    assert.equal((await call('PUT', '/admin/v1/flags/restore-deleted', flag('no'))).status, 201);
    assert.equal((await call('DELETE', '/admin/v1/flags/restore-deleted', { reason: 'cleanup' })).status, 200);
    const deletion = (await audit('restore-deleted'))[0]!;
    assert.equal(deletion.action, 'delete');
    const back = await restore('restore-deleted', { auditId: deletion.id, reason: 'still used' });
    assert.equal(back.status, 201);
    assert.equal(back.body.changed, true);
    assert.deepEqual((await call('GET', '/admin/v1/flags/restore-deleted')).body.flag, flag('no'));
  });

  test('a reader key cannot restore', async () => {
    const created = await call('POST', '/admin/v1/keys', { name: 'restore-reader', kind: 'admin', role: 'reader' });
    assert.equal(created.status, 201, JSON.stringify(created.body));
    const entry = (await audit('restore-same'))[0]!;
    assert.equal((await restore('restore-same', { auditId: entry.id }, json(created.body.secret))).status, 403);
  });
});
