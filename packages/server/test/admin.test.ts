import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { buildServer } from '@vexil/server';
import { openStore } from '@vexil/store';
import { ADMIN, SDK, fixtureServer, json, listen } from './helpers.js';

let app: FastifyInstance;
let base: string;

before(async () => {
  app = await fixtureServer({ bodyLimit: 64 * 1024 });
  base = await listen(app);
});
after(async () => {
  await app.close();
});

const call = (method: string, path: string, body?: unknown, headers: Record<string, string> = json(ADMIN)) =>
  fetch(`${base}${path}`, {
    method,
    headers,
    ...(body === undefined ? {} : { body: typeof body === 'string' ? body : JSON.stringify(body) }),
  });

const flag = (variation: 'yes' | 'no' = 'yes') => ({ variations: { yes: true, no: false }, defaultRule: { variation } });

describe('admin API: flags', () => {
  test('create with PUT (201, ETag = version), read, replace with If-Match, conflict with a stale If-Match', async () => {
    const created = await call('PUT', '/admin/v1/flags/crud-1', flag('yes'), json(ADMIN, { 'x-vexil-reason': 'launch' }));
    assert.equal(created.status, 201);
    assert.equal(created.headers.get('etag'), '"1"');
    assert.equal(created.headers.get('location'), '/admin/v1/flags/crud-1');
    assert.deepEqual((await created.json()).flag, flag('yes'));

    const read = await call('GET', '/admin/v1/flags/crud-1');
    assert.equal(read.status, 200);
    assert.equal(read.headers.get('etag'), '"1"');
    const body = await read.json();
    assert.equal(body.version, 1);
    assert.equal(body.updatedBy, 'config admin key 1 (config-admin-1)');
    assert.deepEqual(body.flag, flag('yes'));
    assert.equal((await call('GET', '/admin/v1/flags/crud-1', undefined, { 'x-api-key': ADMIN, 'if-none-match': '"1"' })).status, 304);

    // The write is served at once by this server (read-your-writes).
    const evaluated = await call('POST', '/ofrep/v1/evaluate/flags/crud-1', {}, json(SDK));
    assert.equal((await evaluated.json()).value, true);

    const replaced = await call('PUT', '/admin/v1/flags/crud-1', flag('no'), json(ADMIN, { 'if-match': '"1"' }));
    assert.equal(replaced.status, 200);
    assert.equal(replaced.headers.get('etag'), '"2"');
    assert.equal((await (await call('POST', '/ofrep/v1/evaluate/flags/crud-1', {}, json(SDK))).json()).value, false);

    const stale = await call('PUT', '/admin/v1/flags/crud-1', flag('yes'), json(ADMIN, { 'if-match': '"1"' }));
    assert.equal(stale.status, 409);
    assert.equal(stale.headers.get('etag'), '"2"');
    const conflict = await stale.json();
    assert.equal(conflict.error, 'conflict');
    assert.equal(conflict.currentVersion, 2);
    assert.equal((await (await call('GET', '/admin/v1/flags/crud-1')).json()).version, 2, 'nothing was written');
  });

  test('If-None-Match: * creates only; POST creates only; If-Match on a missing flag conflicts', async () => {
    assert.equal((await call('PUT', '/admin/v1/flags/crud-2', flag(), json(ADMIN, { 'if-none-match': '*' }))).status, 201);
    const again = await call('PUT', '/admin/v1/flags/crud-2', flag(), json(ADMIN, { 'if-none-match': '*' }));
    assert.equal(again.status, 409);
    assert.equal((await again.json()).currentVersion, 1);

    const posted = await call('POST', '/admin/v1/flags', { key: 'crud-3', flag: flag(), reason: 'new' });
    assert.equal(posted.status, 201);
    assert.equal((await call('POST', '/admin/v1/flags', { key: 'crud-3', flag: flag() })).status, 409);

    const missing = await call('PUT', '/admin/v1/flags/crud-never', flag(), json(ADMIN, { 'if-match': '"4"' }));
    assert.equal(missing.status, 409);
    assert.equal((await missing.json()).currentVersion, 0);
    assert.equal((await call('PUT', '/admin/v1/flags/crud-never', flag(), json(ADMIN, { 'if-match': 'garbage, "2"' }))).status, 400);
  });

  test('PATCH is a JSON merge patch; null removes a field', async () => {
    await call('PUT', '/admin/v1/flags/patch-me', { ...flag(), metadata: { owner: 'a', team: 'b' } });
    const patched = await call('PATCH', '/admin/v1/flags/patch-me', { metadata: { team: null, note: 'x' }, defaultRule: { variation: 'no' } }, json(ADMIN, { 'content-type': 'application/merge-patch+json' }));
    assert.equal(patched.status, 200);
    const body = await patched.json();
    assert.deepEqual(body.flag.metadata, { owner: 'a', note: 'x' });
    assert.deepEqual(body.flag.defaultRule, { variation: 'no' });
    assert.equal(body.version, 2);
    assert.equal((await call('PATCH', '/admin/v1/flags/patch-me', { disable: true }, json(ADMIN, { 'if-match': '"1"' }))).status, 409);
    assert.equal((await call('PATCH', '/admin/v1/flags/nope', { disable: true })).status, 404);
    const invalid = await call('PATCH', '/admin/v1/flags/patch-me', { defaultRule: { variation: 'maybe' } });
    assert.equal(invalid.status, 400);
  });

  test('validation errors are 400 with lint-style file:line messages, and nothing is written', async () => {
    const text = '{\n  "variations": {"a": true, "b": 1},\n  "targeting": [{"query": "plan eq", "variation": "a"}],\n  "defaultRule": {"variation": "c"}\n}';
    const response = await call('PUT', '/admin/v1/flags/bad-flag', text);
    assert.equal(response.status, 400);
    const body = await response.json();
    assert.equal(body.error, 'validation_failed');
    assert.match(body.message, /request body:2:\d+ bad-flag variations\.b: /);
    assert.match(body.message, /request body:4:\d+ bad-flag defaultRule\.variation: /);
    assert.match(body.message, /request body:3:\d+ bad-flag targeting\[0\]\.query: /);
    assert.ok(body.problems.every((problem: { text: string }) => typeof problem.text === 'string'));
    assert.equal((await call('GET', '/admin/v1/flags/bad-flag')).status, 404);

    const badKey = await call('PUT', `/admin/v1/flags/${encodeURIComponent('$reserved')}`, flag());
    assert.equal(badKey.status, 400);
  });

  test('DELETE with versions', async () => {
    await call('PUT', '/admin/v1/flags/delete-me', flag());
    assert.equal((await call('DELETE', '/admin/v1/flags/delete-me', undefined, { 'x-api-key': ADMIN, 'if-match': '"7"' })).status, 409);
    const deleted = await call('DELETE', '/admin/v1/flags/delete-me', undefined, { 'x-api-key': ADMIN, 'if-match': '"1"' });
    assert.equal(deleted.status, 200);
    assert.equal((await deleted.json()).deleted, true);
    assert.equal((await call('DELETE', '/admin/v1/flags/delete-me', undefined, { 'x-api-key': ADMIN })).status, 404);
    assert.equal((await call('POST', '/ofrep/v1/evaluate/flags/delete-me', {}, json(SDK))).status, 404);
  });

  test('toggle is a one-call, audited kill switch', async () => {
    await call('PUT', '/admin/v1/flags/kill-me', flag('yes'));
    const killed = await call('POST', '/admin/v1/flags/kill-me/toggle', { disable: true, reason: 'incident 42' });
    assert.equal(killed.status, 200);
    assert.deepEqual(await killed.json(), { key: 'kill-me', disabled: true, changed: true, version: 2, revision: (await (await call('GET', '/admin/v1/flags/kill-me')).json()).revision });
    const served = await (await call('POST', '/ofrep/v1/evaluate/flags/kill-me', {}, json(SDK))).json();
    assert.equal(served.reason, 'DISABLED');
    const again = await (await call('POST', '/admin/v1/flags/kill-me/toggle', { disable: true })).json();
    assert.equal(again.changed, false);
    const flipped = await (await call('POST', '/admin/v1/flags/kill-me/toggle', undefined, { 'x-api-key': ADMIN })).json();
    assert.equal(flipped.disabled, false);
    const audit = await (await call('GET', '/admin/v1/flags/kill-me/audit')).json();
    assert.equal(audit.entries.length, 3);
    assert.equal(audit.entries[1].reason, 'incident 42');
    assert.equal(audit.entries[1].actor, 'config admin key 1 (config-admin-1)');
    assert.equal(audit.entries[1].after.disable, true);
  });

  test('audit is paged, newest first, and filterable by flag', async () => {
    for (let i = 0; i < 5; i++) await call('PUT', '/admin/v1/flags/audited', flag(i % 2 ? 'yes' : 'no'), json(ADMIN, { 'x-vexil-reason': `step ${i}` }));
    const first = await (await call('GET', '/admin/v1/audit?key=audited&limit=2')).json();
    assert.equal(first.entries.length, 2);
    assert.equal(first.entries[0].reason, 'step 4');
    assert.ok(first.next);
    const second = await (await call('GET', `/admin/v1/audit?key=audited&limit=2&cursor=${encodeURIComponent(first.next)}`)).json();
    assert.equal(second.entries[0].reason, 'step 2');
    assert.ok(second.entries[0].revision < first.entries[1].revision);
    assert.equal((await call('GET', '/admin/v1/audit?limit=0')).status, 400);
    assert.equal((await call('GET', '/admin/v1/audit?cursor=zzz')).status, 400);
  });

  test('list, segments, whoami, evaluate playground with an explanation', async () => {
    const list = await (await call('GET', '/admin/v1/flags?prefix=crud-')).json();
    assert.ok(list.flags.every((entry: { key: string }) => entry.key.startsWith('crud-')));
    assert.ok(list.revision > 0);
    assert.deepEqual((await (await call('GET', '/admin/v1/segments')).json()).segments, { staff: { query: 'email ew "@example.com"' } });
    assert.deepEqual(await (await call('GET', '/admin/v1/whoami')).json(), { id: 'config-admin-1', name: 'config admin key 1', kind: 'admin', role: 'admin' });

    const explained = await (await call('POST', '/admin/v1/evaluate', { flag: 'bool-flag', context: { targetingKey: 'u', email: 'a@example.com' } })).json();
    assert.equal(explained.value, true);
    assert.ok(Array.isArray(explained.explain) && explained.explain.length > 0);
    assert.ok(explained.explain.some((step: { matched?: boolean }) => step.matched === true));

    const draft = await (await call('POST', '/admin/v1/evaluate', { definition: { variations: { a: 1, b: 2 }, defaultRule: { percentage: { a: 50, b: 50 } } }, context: { targetingKey: 'x' } })).json();
    assert.equal(draft.reason, 'SPLIT');
    assert.ok(draft.explain.some((step: { step: string }) => step.step === 'split'));
    const all = await (await call('POST', '/admin/v1/evaluate', { context: { targetingKey: 'x' } })).json();
    assert.ok(all.flags.length >= 6);
    assert.equal((await call('POST', '/admin/v1/evaluate', { definition: { variations: {} } })).status, 400);
  });
});

describe('admin API: keys and roles', () => {
  test('no key → 401; SDK key → 403 on every admin route; reader/editor/admin roles', async () => {
    assert.equal((await call('GET', '/admin/v1/flags', undefined, {})).status, 401);
    for (const [method, path] of [
      ['GET', '/admin/v1/flags'],
      ['PUT', '/admin/v1/flags/x'],
      ['DELETE', '/admin/v1/flags/x'],
      ['GET', '/admin/v1/keys'],
      ['POST', '/admin/v1/flags/x/toggle'],
    ] as const) {
      const response = await call(method, path, method === 'PUT' ? flag() : undefined, json(SDK));
      assert.equal(response.status, 403, `${method} ${path}`);
      assert.equal((await response.json()).error, 'forbidden');
    }

    const make = async (role: string) => {
      const response = await call('POST', '/admin/v1/keys', { name: `${role} key`, kind: 'admin', role });
      assert.equal(response.status, 201);
      const body = await response.json();
      assert.match(body.secret, /^vxl_admin_[\w-]{32}$/);
      assert.equal(body.role, role);
      return body as { id: string; secret: string };
    };
    const reader = await make('reader');
    const editor = await make('editor');
    const admin = await make('admin');

    assert.equal((await call('GET', '/admin/v1/flags/bool-flag', undefined, { 'x-api-key': reader.secret })).status, 200);
    assert.equal((await call('PUT', '/admin/v1/flags/role-test', flag(), json(reader.secret))).status, 403);
    const byEditor = await call('PUT', '/admin/v1/flags/role-test', flag(), json(editor.secret));
    assert.equal(byEditor.status, 201);
    assert.equal((await (await call('GET', '/admin/v1/flags/role-test')).json()).updatedBy, `editor key (${editor.id})`, 'the actor is the key name and its unique id');
    assert.equal((await call('GET', '/admin/v1/keys', undefined, { 'x-api-key': editor.secret })).status, 403);
    assert.equal((await call('GET', '/admin/v1/keys', undefined, { authorization: `Bearer ${admin.secret}` })).status, 200);

    const sdk = await (await call('POST', '/admin/v1/keys', { name: 'web app', kind: 'sdk' })).json();
    assert.match(sdk.secret, /^vxl_sdk_/);
    assert.equal((await call('POST', '/ofrep/v1/evaluate/flags/bool-flag', {}, json(sdk.secret))).status, 200);
    assert.equal((await call('PUT', '/admin/v1/flags/x', flag(), json(sdk.secret))).status, 403, 'an SDK key can never write');

    const listed = await (await call('GET', '/admin/v1/keys')).json();
    const text = JSON.stringify(listed);
    assert.ok(!text.includes(reader.secret) && !text.includes('"hash"'), 'no secrets and no hashes in lists');
    assert.ok(listed.keys.some((key: { name: string; source: string }) => key.name === 'web app' && key.source === 'store'));
    assert.ok(listed.keys.some((key: { id: string; source: string }) => key.id === 'config-admin-1' && key.source === 'config'));

    const revoked = await call('DELETE', `/admin/v1/keys/${sdk.id}`);
    assert.equal(revoked.status, 200);
    assert.equal((await call('POST', '/ofrep/v1/evaluate/flags/bool-flag', {}, json(sdk.secret))).status, 401);
    assert.equal((await call('DELETE', '/admin/v1/keys/config-admin-1')).status, 409);
    assert.equal((await call('DELETE', '/admin/v1/keys/no-such-key')).status, 404);
    assert.equal((await call('POST', '/admin/v1/keys', { name: 'x', kind: 'sdk', role: 'admin' })).status, 400);
    assert.equal((await call('POST', '/admin/v1/keys', { name: 'x', kind: 'root' })).status, 400);
  });
});

describe('admin API: bad input', () => {
  test('a body over the limit is 413; malformed JSON is 400 with a message', async () => {
    const big = { variations: { a: 'x'.repeat(70 * 1024) }, defaultRule: { variation: 'a' } };
    const tooLarge = await call('PUT', '/admin/v1/flags/big', big);
    assert.equal(tooLarge.status, 413);
    assert.equal((await tooLarge.json()).error, 'payload_too_large');

    const malformed = await call('PUT', '/admin/v1/flags/broken', '{"variations": {');
    assert.equal(malformed.status, 400);
    const body = await malformed.json();
    assert.equal(body.error, 'invalid_json');
    assert.match(body.message, /not valid JSON/);

    const notJson = await call('PUT', '/admin/v1/flags/broken', 'variations: {}', { 'x-api-key': ADMIN, 'content-type': 'text/yaml' });
    assert.equal(notJson.status, 415);

    const proto = await call('PUT', '/admin/v1/flags/proto', '{"variations": {"a": true}, "defaultRule": {"variation": "a"}, "__proto__": {"polluted": true}}');
    assert.equal(proto.status, 201);
    assert.equal(({} as Record<string, unknown>).polluted, undefined);
  });

  test('unknown routes are a JSON 404', async () => {
    const response = await call('GET', '/admin/v1/nothing');
    assert.equal(response.status, 404);
    assert.equal((await response.json()).error, 'not_found');
  });
});

describe('read-only file store (GitOps)', () => {
  test('serves the files and rejects writes with 405', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'vexil-gitops-'));
    const file = join(dir, 'flags.yaml');
    await writeFile(file, 'only-flag:\n  variations: { a: 1 }\n  defaultRule: { variation: a }\n');
    const server = await buildServer({ store: await openStore(`file:${file}`), closeStore: true, adminKeys: [ADMIN], sdkKeys: [SDK], defaultMetrics: false });
    try {
      const evaluated = await server.inject({ method: 'POST', url: '/ofrep/v1/evaluate/flags/only-flag', headers: json(SDK), payload: {} });
      assert.equal(evaluated.json().value, 1);
      const write = await server.inject({ method: 'PUT', url: '/admin/v1/flags/only-flag', headers: json(ADMIN), payload: { variations: { a: 2 }, defaultRule: { variation: 'a' } } });
      assert.equal(write.statusCode, 405);
      assert.equal(write.json().error, 'read_only_store');
      assert.equal((await server.inject({ method: 'GET', url: '/admin/v1/health', headers: { 'x-api-key': ADMIN } })).json().store.writable, false);
    } finally {
      await server.close();
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe('admin API: aliases, keys and long flag keys', () => {
  test('a 200-character flag key can be created, read, changed, audited and deleted through its URL', async () => {
    const key = `k-${'x'.repeat(198)}`;
    const path = `/admin/v1/flags/${key}`;
    assert.equal((await call('PUT', path, flag('yes'))).status, 201);
    assert.equal((await call('GET', path)).status, 200);
    assert.equal((await call('PATCH', path, { defaultRule: { variation: 'no' } }, json(ADMIN, { 'if-match': '"1"' }))).status, 200);
    assert.equal((await call('POST', `${path}/toggle`, { disable: true })).status, 200);
    assert.equal((await (await call('GET', `${path}/audit`)).json()).entries.length, 3);
    assert.equal((await call('DELETE', path, undefined, { 'x-api-key': ADMIN, 'if-match': '"3"' })).status, 200);
  });

  test('the kill switch also takes disabled, or enabled for the opposite', async () => {
    await call('PUT', '/admin/v1/flags/alias-toggle', flag('yes'));
    assert.equal((await (await call('POST', '/admin/v1/flags/alias-toggle/toggle', { disabled: true })).json()).disabled, true);
    assert.equal((await (await call('POST', '/admin/v1/flags/alias-toggle/toggle', { enabled: true })).json()).disabled, false);
    const same = await (await call('POST', '/admin/v1/flags/alias-toggle/toggle', { enabled: true, disable: false })).json();
    assert.deepEqual([same.disabled, same.changed], [false, false]);
    assert.equal((await call('POST', '/admin/v1/flags/alias-toggle/toggle', { enabled: true, disable: true })).status, 400);
  });

  test('GET /admin/v1/audit?flag= is ?key=', async () => {
    await call('PUT', '/admin/v1/flags/alias-audit', flag(), json(ADMIN, { 'x-vexil-reason': 'alias' }));
    const byFlag = await (await call('GET', '/admin/v1/audit?flag=alias-audit')).json();
    const byKey = await (await call('GET', '/admin/v1/audit?key=alias-audit')).json();
    assert.deepEqual(byFlag, byKey);
    assert.equal(byFlag.entries.length, 1);
    assert.equal(byFlag.entries[0].reason, 'alias');
    assert.equal((await call('GET', '/admin/v1/audit?flag=alias-audit&key=other')).status, 400);
  });

  test('the playground takes the flag as flag or key', async () => {
    const context = { targetingKey: 'u', email: 'a@example.com' };
    const byFlag = await (await call('POST', '/admin/v1/evaluate', { flag: 'bool-flag', context })).json();
    const byKey = await (await call('POST', '/admin/v1/evaluate', { key: 'bool-flag', context })).json();
    assert.deepEqual(byKey, byFlag);
    assert.equal(byKey.value, true);
    assert.ok(byKey.explain.length > 0);
    assert.equal((await call('POST', '/admin/v1/evaluate', { key: 'bool-flag', flag: 'number-flag' })).status, 400);
  });

  test('keys: a name is optional, a role alone means an admin key; lists never show a configured secret', async () => {
    const editor = await call('POST', '/admin/v1/keys', { role: 'editor' });
    assert.equal(editor.status, 201);
    const body = await editor.json();
    assert.equal(body.kind, 'admin');
    assert.equal(body.role, 'editor');
    assert.equal(body.name, 'editor key');
    assert.equal((await call('PUT', '/admin/v1/flags/made-by-role-key', flag(), json(body.secret))).status, 201);
    const sdk = await (await call('POST', '/admin/v1/keys', { kind: 'sdk' })).json();
    assert.equal(sdk.name, 'sdk key');
    assert.equal((await call('POST', '/admin/v1/keys', { name: 'no kind, no role' })).status, 400);

    const short = await fixtureServer({ adminKeys: ['adm1', 'a-longer-admin-secret'], sdkKeys: ['s1'] });
    try {
      const listed = await short.inject({ method: 'GET', url: '/admin/v1/keys', headers: { 'x-api-key': 'adm1' } });
      assert.equal(listed.statusCode, 200);
      const text = listed.body;
      for (const secret of ['adm1', 'a-longer-admin-secret', 's1']) assert.ok(!text.includes(`"${secret}"`) && !text.includes(secret.slice(0, 5)), secret);
      const prefixes = listed.json().keys.map((key: { prefix: string }) => key.prefix);
      assert.deepEqual(prefixes, ['', 'a-lo', '']);
    } finally {
      await short.close();
    }
  });

  test('a role error says which role the key has', async () => {
    const reader = await (await call('POST', '/admin/v1/keys', { name: 'reads', kind: 'admin', role: 'reader' })).json();
    const refused = await call('PUT', '/admin/v1/flags/x', flag(), json(reader.secret));
    assert.equal(refused.status, 403);
    assert.equal((await refused.json()).message, 'key "reads" is reader on default/default; this needs editor');
  });
});
