// Delete and re-create never reuses a version (issue 9, item 4), through the admin API. Before: the re-created flag
// was version 1 again, so a client still holding ETag "1" of the deleted flag overwrote the new flag with If-Match "1".
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { ADMIN, fixtureServer, json } from './helpers.js';

const body = (serve: 'on' | 'off') => JSON.stringify({ variations: { on: true, off: false }, defaultRule: { variation: serve } });

describe('admin API: versions never repeat for a key', () => {
  test('a stale If-Match of a deleted flag is 409 on the re-created flag, which stays as it is', async () => {
    const app = await fixtureServer();
    try {
      const request = (method: string, headers: Record<string, string> = {}, payload?: string) =>
        app.inject({ method, url: '/admin/v1/flags/reborn', headers: { ...json(ADMIN), ...headers }, ...(payload ? { payload } : {}) });
      const created = await request('PUT', { 'if-none-match': '*' }, body('off'));
      assert.equal(created.statusCode, 201);
      assert.equal(created.headers.etag, '"1"');
      assert.equal((await request('DELETE', { 'if-match': '"1"' })).statusCode, 200);

      const recreated = await request('PUT', { 'if-none-match': '*' }, body('on'));
      assert.equal(recreated.statusCode, 201, 'created again: 201 with a Location');
      assert.ok(recreated.headers.location);
      const version = Number(String(recreated.headers.etag).replaceAll('"', ''));
      assert.ok(version > 2, `a version after the deleted flag's: ${recreated.headers.etag}`);

      const stale = await request('PUT', { 'if-match': '"1"' }, body('off'));
      assert.equal(stale.statusCode, 409, stale.body);
      assert.equal(stale.json().currentVersion ?? stale.json().details?.currentVersion, version);
      const patched = await app.inject({
        method: 'PATCH',
        url: '/admin/v1/flags/reborn',
        headers: { ...json(ADMIN, { 'content-type': 'application/merge-patch+json' }), 'if-match': '"1"' },
        payload: JSON.stringify({ disable: true }),
      });
      assert.equal(patched.statusCode, 409);
      assert.equal((await request('DELETE', { 'if-match': '"1"' })).statusCode, 409);
      const now = await request('GET');
      assert.equal(now.json().flag.defaultRule.variation, 'on', 'the new flag is untouched');
      assert.equal(now.headers.etag, `"${version}"`);
    } finally {
      await app.close();
    }
  });
});
