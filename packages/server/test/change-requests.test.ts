// Change requests (an environment that requires approval), promotion between environments and the per-flag
// comparison, through a real server: who may approve, what is audited, what a conflicting request does.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { FastifyInstance } from 'fastify';
import { ADMIN, callJson, fixtureServer, listen, postJson } from './helpers.js';

let app: FastifyInstance;
let base: string;
const ENV = '/admin/v1/projects/shop/environments';

const call = (method: string, path: string, body?: unknown, key = ADMIN) => callJson(base, method, path, body, key);

const flag = (on: string, extra: Record<string, unknown> = {}) => ({ variations: { on, off: 'none' }, defaultRule: { variation: 'on' }, ...extra });

let ada: string; // editor on shop/*
let bob: string; // editor on shop/*
let reader: string; // reader on shop/*
let sdkProduction: string;

async function key(body: Record<string, unknown>): Promise<string> {
  const created = await call('POST', '/admin/v1/keys', body);
  assert.equal(created.status, 201, JSON.stringify(created.body));
  return created.body.secret;
}

before(async () => {
  app = await fixtureServer({ catalogPollMs: 0 });
  base = await listen(app);
  const project = await call('POST', '/admin/v1/projects', { key: 'shop', environments: [{ key: 'staging' }, { key: 'production', requireApproval: true }] });
  assert.equal(project.status, 201, JSON.stringify(project.body));
  ada = await key({ name: 'ada', grants: [{ project: 'shop', environment: '*', role: 'editor' }] });
  bob = await key({ name: 'bob', grants: [{ project: 'shop', environment: '*', role: 'editor' }] });
  reader = await key({ name: 'rita', grants: [{ project: 'shop', environment: '*', role: 'reader' }] });
  sdkProduction = await key({ kind: 'sdk', project: 'shop', environment: 'production' });
});
after(async () => {
  await app?.close();
});

const served = async (flagKey: string) =>
  (await postJson(base, `/ofrep/v1/evaluate/flags/${flagKey}`, { context: { targetingKey: 'u' } }, { 'content-type': 'application/json', 'x-api-key': sdkProduction })).body;

describe('change requests', () => {
  test('a write in an environment that requires approval becomes a pending change request; the flag is not served', async () => {
    const proposed = await call('PUT', `${ENV}/production/flags/checkout`, flag('v1'), ada);
    assert.equal(proposed.status, 202, JSON.stringify(proposed.body));
    const request = proposed.body.changeRequest;
    assert.equal(request.status, 'pending');
    assert.equal(request.project, 'shop');
    assert.equal(request.environment, 'production');
    assert.match(request.author, /^ada /);
    assert.deepEqual(request.changes.map((change: { key: string; action: string; baseVersion: number }) => [change.key, change.action, change.baseVersion]), [['checkout', 'put', 0]]);
    assert.equal((await call('GET', `${ENV}/production/flags/checkout`)).status, 404, 'nothing written yet');
    assert.equal((await served('checkout')).errorCode, 'FLAG_NOT_FOUND');

    const listed = await call('GET', '/admin/v1/changes?status=pending', undefined, reader);
    assert.ok(listed.body.changes.some((change: { id: string }) => change.id === request.id), 'readers see pending changes');

    const self = await call('POST', `/admin/v1/changes/${request.id}/approve`, {}, ada);
    assert.equal(self.status, 403);
    assert.equal(self.body.error, 'self_approval');
    const byReader = await call('POST', `/admin/v1/changes/${request.id}/approve`, {}, reader);
    assert.equal(byReader.status, 403);
    assert.equal(byReader.body.error, 'forbidden');
    assert.equal((await call('GET', `/admin/v1/changes/${request.id}`)).body.status, 'pending');

    const approved = await call('POST', `/admin/v1/changes/${request.id}/approve`, { comment: 'looks right' }, bob);
    assert.equal(approved.status, 200, JSON.stringify(approved.body));
    assert.equal(approved.body.status, 'applied');
    assert.match(approved.body.reviewer, /^bob /);
    assert.equal((await served('checkout')).value, 'v1', 'served once approved');

    const audit = await call('GET', `${ENV}/production/flags/checkout/audit`);
    const [entry] = audit.body.entries;
    assert.match(entry.actor, /^ada /, 'the author is the actor');
    assert.match(entry.reason, new RegExp(`change request ${request.id} by ada .*approved by bob`), 'both names in the audit log');
  });

  test('a change request whose base version moved is marked conflicting and never applied', async () => {
    const first = (await call('PUT', `${ENV}/production/flags/checkout`, flag('from-ada'), ada)).body.changeRequest;
    const second = (await call('PUT', `${ENV}/production/flags/checkout`, flag('from-bob'), bob)).body.changeRequest;
    assert.equal((await call('POST', `/admin/v1/changes/${second.id}/approve`, {}, ada)).status, 200);
    const conflicting = await call('POST', `/admin/v1/changes/${first.id}/approve`, {}, bob);
    assert.equal(conflicting.status, 409);
    assert.equal(conflicting.body.error, 'conflicting');
    assert.match(conflicting.body.message, /flag "checkout" was at version 1 when it was proposed and is at version 2 now/);
    assert.equal((await call('GET', `/admin/v1/changes/${first.id}`)).body.status, 'conflicting');
    assert.equal((await served('checkout')).value, 'from-bob', 'the conflicting request changed nothing');
    const again = await call('POST', `/admin/v1/changes/${first.id}/approve`, {}, bob);
    assert.equal(again.status, 409);
  });

  test('reject and withdraw: nothing applied; only the author withdraws', async () => {
    const rejected = (await call('PATCH', `${ENV}/production/flags/checkout`, { disable: true }, ada)).body.changeRequest;
    assert.equal((await call('POST', `/admin/v1/changes/${rejected.id}/reject`, { comment: 'not now' }, bob)).body.status, 'rejected');
    const withdrawn = (await call('DELETE', `${ENV}/production/flags/checkout`, undefined, ada)).body.changeRequest;
    assert.equal(withdrawn.changes[0].action, 'delete');
    const notAuthor = await call('POST', `/admin/v1/changes/${withdrawn.id}/withdraw`, {}, bob);
    assert.equal(notAuthor.status, 403);
    assert.equal(notAuthor.body.error, 'not_author');
    assert.equal((await call('POST', `/admin/v1/changes/${withdrawn.id}/withdraw`, {}, ada)).body.status, 'withdrawn');
    assert.equal((await served('checkout')).value, 'from-bob');
    assert.equal((await call('POST', `/admin/v1/changes/${rejected.id}/approve`, {}, bob)).status, 409, 'a final request stays final');
  });
});

describe('promotion and comparison', () => {
  before(async () => {
    assert.equal((await call('PUT', `${ENV}/staging/flags/checkout`, flag('staged', { targeting: [{ query: 'country eq "fr"', variation: 'off' }] }), ada)).status, 201);
    assert.equal((await call('PUT', `${ENV}/staging/flags/search`, flag('new-search'), ada)).status, 201);
  });

  test('compare shows each environment\'s flag and where they differ', async () => {
    const compared = await call('GET', '/admin/v1/projects/shop/flags/checkout/compare?environments=staging,production', undefined, reader);
    assert.equal(compared.status, 200, JSON.stringify(compared.body));
    assert.deepEqual(compared.body.environments.map((entry: { environment: string }) => entry.environment), ['staging', 'production']);
    const paths = compared.body.differences.map((difference: { path: string }) => difference.path);
    assert.ok(paths.includes('variations.on'), paths.join(', '));
    const on = compared.body.differences.find((difference: { path: string }) => difference.path === 'variations.on');
    assert.deepEqual(on.values, { staging: 'staged', production: 'from-bob' });
    assert.ok(paths.includes('targeting'), 'a rule only staging has');
  });

  test('promote: the diff first (dry run), then into an environment that requires approval, one change request', async () => {
    const preview = await call('POST', `${ENV}/production/promote`, { from: 'staging', dryRun: true }, reader);
    assert.equal(preview.status, 200, JSON.stringify(preview.body));
    const actions = Object.fromEntries(preview.body.changes.map((change: { key: string; action: string }) => [change.key, change.action]));
    assert.deepEqual(actions, { checkout: 'update', search: 'create' });
    const denied = await call('POST', `${ENV}/production/promote`, { from: 'staging' }, reader);
    assert.equal(denied.status, 403);

    const proposed = await call('POST', `${ENV}/production/promote`, { from: 'staging', reason: 'release 42' }, ada);
    assert.equal(proposed.status, 202, JSON.stringify(proposed.body));
    const request = proposed.body.changeRequest;
    assert.deepEqual(request.changes.map((change: { key: string }) => change.key).sort(), ['checkout', 'search']);
    assert.match(request.reason, /promote from staging: release 42/);
    assert.equal((await served('search')).errorCode, 'FLAG_NOT_FOUND');
    assert.equal((await call('POST', `/admin/v1/changes/${request.id}/approve`, {}, bob)).body.status, 'applied');
    assert.equal((await served('search')).value, 'new-search');
    assert.equal((await served('checkout')).value, 'staged');
    const after = await call('POST', `${ENV}/production/promote`, { from: 'staging', dryRun: true }, reader);
    assert.deepEqual(after.body.changes.map((change: { action: string }) => change.action), ['unchanged', 'unchanged']);
  });

  test('promote one flag into an environment without approval applies at once', async () => {
    assert.equal((await call('PUT', `${ENV}/staging/flags/search`, flag('newer-search'), ada)).status, 200);
    const promoted = await call('POST', '/admin/v1/projects/shop/environments/staging/promote', { from: 'production', flags: ['search'] }, ada);
    assert.equal(promoted.status, 200, JSON.stringify(promoted.body));
    assert.equal(promoted.body.applied, true);
    assert.deepEqual(promoted.body.changes.map((change: { key: string; action: string }) => [change.key, change.action]), [['search', 'update']]);
    assert.equal((await call('GET', `${ENV}/staging/flags/search`)).body.flag.variations.on, 'new-search');
    const unknown = await call('POST', `${ENV}/staging/promote`, { from: 'qa' }, ada);
    assert.equal(unknown.status, 404);
    assert.equal(unknown.body.error, 'unknown_environment');
  });
});

describe('shared fields: variations and metadata are the flag\'s, in every environment of its project', () => {
  test('a variation edited in one environment reaches the others, by actor shared-fields; their serving stays their own', async () => {
    assert.equal((await call('POST', ENV, { key: 'dev' })).status, 201);
    const base = { variations: { red: '#f00', blue: '#00f' }, defaultRule: { variation: 'red' } };
    assert.equal((await call('PUT', `${ENV}/dev/flags/colour`, base, ada)).status, 201);
    assert.equal((await call('PUT', `${ENV}/staging/flags/colour`, { ...base, defaultRule: { variation: 'blue' } }, ada)).status, 201);

    const renamed = { variations: { red: '#e00', blue: '#00f' }, defaultRule: { variation: 'red' }, metadata: { description: 'Button colour' } };
    assert.equal((await call('PUT', `${ENV}/dev/flags/colour`, renamed, ada)).status, 200);
    const staging = await call('GET', `${ENV}/staging/flags/colour`);
    assert.deepEqual(staging.body.flag.variations, renamed.variations, 'the variations followed');
    assert.deepEqual(staging.body.flag.metadata, { description: 'Button colour' }, 'the metadata followed');
    assert.deepEqual(staging.body.flag.defaultRule, { variation: 'blue' }, "staging's own serving stays");
    const audit = await call('GET', `${ENV}/staging/flags/colour/audit`);
    assert.equal(audit.body.entries[0].actor, 'shared-fields');
    assert.match(audit.body.entries[0].reason, /changed in shop\/dev by ada/);
  });

  test('a variation another environment still serves cannot be removed: 400 naming it, nothing written anywhere', async () => {
    const before = await call('GET', `${ENV}/dev/flags/colour`);
    const refused = await call('PUT', `${ENV}/dev/flags/colour`, { variations: { red: '#e00' }, defaultRule: { variation: 'red' } }, ada);
    assert.equal(refused.status, 400, JSON.stringify(refused.body));
    assert.match(refused.body.message, /shop\/staging/);
    assert.deepEqual((await call('GET', `${ENV}/dev/flags/colour`)).body, before.body, 'dev unchanged');
    assert.ok((await call('GET', `${ENV}/staging/flags/colour`)).body.flag.variations.blue, 'staging unchanged');
  });

  test('into an environment that requires approval, shared fields go as a change request', async () => {
    assert.equal((await call('PUT', `${ENV}/production/flags/colour`, { variations: { red: '#e00', blue: '#00f' }, defaultRule: { variation: 'red' }, metadata: { description: 'Button colour' } }, ada)).status, 202);
    const pending = (await call('GET', '/admin/v1/changes?environment=production&status=pending')).body.changes;
    const created = pending.find((change: { changes: Array<{ key: string }> }) => change.changes[0]?.key === 'colour');
    assert.equal((await call('POST', `/admin/v1/changes/${created.id}/approve`, {}, bob)).status, 200);
    assert.equal((await call('PUT', `${ENV}/dev/flags/colour`, { variations: { red: '#d00', blue: '#00f' }, defaultRule: { variation: 'red' }, metadata: { description: 'Button colour' } }, ada)).status, 200);
    const production = await call('GET', `${ENV}/production/flags/colour`);
    assert.equal(production.body.flag.variations.red, '#e00', 'production does not change without review');
    const proposals = (await call('GET', '/admin/v1/changes?environment=production&status=pending')).body.changes;
    const carried = proposals.find((change: { reason?: string }) => /shared fields/.test(change.reason ?? ''));
    assert.ok(carried, 'a change request carries the shared fields');
    assert.equal(carried.changes[0].after.variations.red, '#d00');
  });
});
