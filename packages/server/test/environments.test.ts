// Projects × environments through the server: SDK keys serve their environment from the key alone (OFREP, relay,
// streams), per-environment admin routes, 404s naming the unknown project or environment, deleting an environment in
// use, and every per-environment admin route tried with out-of-scope keys (403, nothing changed).
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { FastifyInstance } from 'fastify';
import { ADMIN, callJson, SDK, SseReader, fixtureServer, listen, postJson, sleep } from './helpers.js';

let app: FastifyInstance;
let base: string;
const ENV = '/admin/v1/projects/checkout/environments';


const call = (method: string, path: string, body?: unknown, key = ADMIN) => callJson(base, method, path, body, key);

async function createKey(body: Record<string, unknown>): Promise<{ id: string; secret: string }> {
  const created = await call('POST', '/admin/v1/keys', body);
  assert.equal(created.status, 201, JSON.stringify(created.body));
  return created.body;
}

// Variations are shared by a flag's environments; what each serves is its own.
const BANNERS = { 'staging-banner': 'staging-banner', 'production-banner': 'production-banner', 'staging-2': 'staging-2', 'by the staging editor': 'by the staging editor' };
const banner = (serve: keyof typeof BANNERS) => ({ variations: BANNERS, defaultRule: { variation: serve } });

let stagingSdk: { id: string; secret: string };
let productionSdk: { id: string; secret: string };

before(async () => {
  app = await fixtureServer({ catalogPollMs: 0 });
  base = await listen(app);
  const project = await call('POST', '/admin/v1/projects', {
    key: 'checkout',
    name: 'Checkout',
    environments: [{ key: 'staging' }, { key: 'production', requireApproval: false }],
  });
  assert.equal(project.status, 201, JSON.stringify(project.body));
  assert.deepEqual(project.body.environments.map((environment: { key: string }) => environment.key).sort(), ['production', 'staging']);
  stagingSdk = await createKey({ kind: 'sdk', name: 'web staging', project: 'checkout', environment: 'staging' });
  productionSdk = await createKey({ kind: 'sdk', name: 'web production', project: 'checkout', environment: 'production' });
  assert.equal((await call('PUT', `${ENV}/staging/flags/banner`, banner('staging-banner'))).status, 201);
  assert.equal((await call('PUT', `${ENV}/production/flags/banner`, banner('production-banner'))).status, 201);
});
after(async () => {
  await app?.close();
});

describe('environments through the server', () => {
  test('a fresh store lists project default with environment default; the old paths are that environment', async () => {
    const listed = await call('GET', '/admin/v1/projects');
    assert.equal(listed.status, 200);
    const byKey = Object.fromEntries(listed.body.projects.map((project: { key: string }) => [project.key, project]));
    assert.deepEqual(byKey.default.environments.map((environment: { key: string }) => environment.key), ['default']);
    const oldPath = await call('GET', '/admin/v1/flags');
    const newPath = await call('GET', '/admin/v1/projects/default/environments/default/flags');
    assert.equal(oldPath.status, 200);
    assert.deepEqual(newPath.body.flags.map((flag: { key: string }) => flag.key), oldPath.body.flags.map((flag: { key: string }) => flag.key));
    assert.ok(!oldPath.body.flags.some((flag: { key: string }) => flag.key === 'banner'), 'an environment write stays in its environment');
  });

  test('SDK keys serve their environment from the key alone: OFREP, bulk, relay, configuration', async () => {
    const single = (key: string) => postJson(base, '/ofrep/v1/evaluate/flags/banner', { context: { targetingKey: 'u1' } }, { 'content-type': 'application/json', 'x-api-key': key });
    assert.equal((await single(stagingSdk.secret)).body.value, 'staging-banner');
    assert.equal((await single(productionSdk.secret)).body.value, 'production-banner');
    const legacy = await single(SDK);
    assert.equal(legacy.status, 404, 'the key made before environments serves default/default, which has no such flag');
    assert.equal(legacy.body.errorCode, 'FLAG_NOT_FOUND');

    const bulk = await postJson(base, '/ofrep/v1/evaluate/flags', { context: { targetingKey: 'u1' } }, { 'content-type': 'application/json', 'x-api-key': stagingSdk.secret });
    assert.deepEqual(bulk.body.flags.map((flag: { key: string }) => flag.key), ['banner']);
    const relay = await postJson(base, '/v1/feature/banner/eval', { evaluationContext: { key: 'u1' }, defaultValue: 'x' }, { 'content-type': 'application/json', 'x-api-key': productionSdk.secret });
    assert.equal(relay.body.value, 'production-banner');
    const configuration = await postJson(base, '/v1/flag/configuration', {}, { 'content-type': 'application/json', 'x-api-key': stagingSdk.secret });
    assert.deepEqual(Object.keys(configuration.body.flags), ['banner']);
    assert.deepEqual(configuration.body.flags.banner.defaultRule, { variation: 'staging-banner' });
  });

  test('a change in one environment reaches only that environment\'s streams', async () => {
    const staging = await SseReader.open(`${base}/v1/stream?key=${stagingSdk.secret}`);
    const production = await SseReader.open(`${base}/v1/stream?key=${productionSdk.secret}`);
    const stagingOfrep = await SseReader.open(`${base}/ofrep/v1/events?key=${stagingSdk.secret}`);
    const productionOfrep = await SseReader.open(`${base}/ofrep/v1/events?key=${productionSdk.secret}`);
    try {
      const snapshot = JSON.parse((await staging.waitFor((event) => event.event === 'snapshot')).data);
      assert.deepEqual(Object.keys(snapshot.flags), ['banner']);
      await production.waitFor((event) => event.event === 'snapshot');
      const productionBefore = production.events.length;
      const productionOfrepBefore = productionOfrep.events.length;
      assert.equal((await call('PUT', `${ENV}/staging/flags/banner`, banner('staging-2'))).status, 200);
      const put = await staging.waitFor((event) => event.event === 'put');
      assert.deepEqual(JSON.parse(put.data).flag.defaultRule, { variation: 'staging-2' });
      await stagingOfrep.waitFor((event) => event.data.includes('refetchEvaluation'));
      // Production's streams stay quiet (a moment more than the change took to reach staging's).
      await sleep(300);
      assert.equal(production.events.length, productionBefore, 'no event on production\'s stream');
      assert.equal(productionOfrep.events.length, productionOfrepBefore, 'no event on production\'s OFREP stream');
      // Event ids of one environment do not resume in another: a full snapshot instead.
      const resumed = await SseReader.open(`${base}/v1/stream`, { 'x-api-key': productionSdk.secret, 'last-event-id': put.id! });
      try {
        const first = await resumed.waitFor(() => true);
        assert.equal(first.event, 'snapshot');
        assert.deepEqual(JSON.parse(first.data).flags.banner.defaultRule, { variation: 'production-banner' });
      } finally {
        resumed.close();
      }
    } finally {
      for (const reader of [staging, production, stagingOfrep, productionOfrep]) reader.close();
    }
  });

  test('unknown project or environment: 404 with the name, on admin routes and when making keys', async () => {
    const noProject = await call('GET', '/admin/v1/projects/nope/environments/staging/flags');
    assert.equal(noProject.status, 404);
    assert.equal(noProject.body.error, 'unknown_project');
    assert.match(noProject.body.message, /"nope"/);
    const noEnvironment = await call('GET', `${ENV}/qa/flags`);
    assert.equal(noEnvironment.status, 404);
    assert.equal(noEnvironment.body.error, 'unknown_environment');
    assert.match(noEnvironment.body.message, /"qa"/);
    const key = await call('POST', '/admin/v1/keys', { kind: 'sdk', project: 'checkout', environment: 'qa' });
    assert.equal(key.status, 404);
    assert.match(key.body.message, /qa/);
    const duplicate = await call('POST', ENV, { key: 'staging' });
    assert.equal(duplicate.status, 409);
  });

  test('an environment copied from another starts with its flags; deleting one in use is refused unless forced', async () => {
    const created = await call('POST', ENV, { key: 'qa', copyFrom: 'staging' });
    assert.equal(created.status, 201, JSON.stringify(created.body));
    const flags = await call('GET', `${ENV}/qa/flags`);
    assert.deepEqual(flags.body.flags.map((flag: { key: string }) => flag.key), ['banner']);
    const qaSdk = await createKey({ kind: 'sdk', name: 'qa runner', project: 'checkout', environment: 'qa' });
    const stream = await SseReader.open(`${base}/v1/stream?key=${qaSdk.secret}`);
    await stream.waitFor((event) => event.event === 'snapshot');

    const refused = await call('DELETE', `${ENV}/qa`);
    assert.equal(refused.status, 409);
    assert.equal(refused.body.error, 'environment_in_use');
    assert.deepEqual(refused.body.keys, [{ id: qaSdk.id, name: 'qa runner' }]);
    assert.equal((await call('GET', `${ENV}/qa/flags`)).status, 200, 'nothing was deleted');

    const forced = await call('DELETE', `${ENV}/qa?force=true`);
    assert.equal(forced.status, 200);
    await stream.closed;
    assert.ok(stream.ended, 'the deleted environment\'s streams end');
    assert.equal((await call('GET', `${ENV}/qa/flags`)).body.error, 'unknown_environment');
    const orphan = await postJson(base, '/ofrep/v1/evaluate/flags/banner', {}, { 'content-type': 'application/json', 'x-api-key': qaSdk.secret });
    assert.equal(orphan.status, 401, 'its key no longer works, as if revoked');
    assert.match(orphan.text, /checkout\/qa, which no longer exists/);
  });

  test('/admin/v1/health lists every environment served', async () => {
    const health = await (await fetch(`${base}/admin/v1/health`, { headers: { 'x-api-key': ADMIN } })).json();
    const names = health.environments.map((environment: { project: string; environment: string }) => `${environment.project}/${environment.environment}`);
    for (const name of ['default/default', 'checkout/staging', 'checkout/production']) assert.ok(names.includes(name), name);
    assert.ok(health.environments.every((environment: { status: string }) => environment.status === 'ok'));
  });
});

describe('access on every per-environment admin route', () => {
  let stagingEditor: { secret: string };
  let routes: Array<{ method: string; path: string }>;

  before(async () => {
    // Editor on staging, reader on production, nothing on default.
    stagingEditor = await createKey({
      name: 'staging editor',
      grants: [
        { project: 'checkout', environment: 'staging', role: 'editor' },
        { project: 'checkout', environment: 'production', role: 'reader' },
      ],
    });
    const document = await (await fetch(`${base}/openapi.json`)).json();
    routes = Object.entries(document.paths as Record<string, Record<string, unknown>>)
      .filter(([path]) => path.startsWith('/admin/v1/projects/{project}/environments/{environment}'))
      .flatMap(([path, operations]) => Object.keys(operations).map((method) => ({ method: method.toUpperCase(), path })));
    assert.ok(routes.length >= 20, `found ${routes.length} per-environment routes`);
  });

  const fill = (path: string, environment: string) =>
    path
      .replace('{project}', 'checkout')
      .replace('{environment}', environment)
      .replace('{key}', 'banner')
      .replace('{command}', 'pause')
      .replace('{event}', 'purchase');

  test('/admin/v1/health shows a key granted some environments only those', async () => {
    const health = await call('GET', '/admin/v1/health', undefined, stagingEditor.secret);
    assert.equal(health.status, 200, JSON.stringify(health.body));
    const names = health.body.environments.map((environment: { project: string; environment: string }) => `${environment.project}/${environment.environment}`);
    assert.deepEqual(names.sort(), ['checkout/production', 'checkout/staging']);
  });

  test('writes on production with a reader grant: 403, and production is unchanged', async () => {
    const before = await call('GET', `${ENV}/production/audit?limit=500`);
    const flagBefore = await call('GET', `${ENV}/production/flags/banner`);
    // The playground and a promotion's dry run are reads; a real promotion is tried below with a valid body.
    const writes = routes.filter((route) => route.method !== 'GET' && !(route.method === 'POST' && (route.path.endsWith('/evaluate') || route.path.endsWith('/promote'))));
    assert.ok(writes.length >= 10);
    for (const route of writes) {
      const answer = await call(route.method, fill(route.path, 'production'), route.method === 'DELETE' ? undefined : {}, stagingEditor.secret);
      assert.equal(answer.status, 403, `${route.method} ${route.path}: ${JSON.stringify(answer.body)}`);
      assert.equal(answer.body.error, 'forbidden');
    }
    const promote = await call('POST', `${ENV}/production/promote`, { from: 'staging' }, stagingEditor.secret);
    assert.equal(promote.status, 403, JSON.stringify(promote.body));
    assert.equal((await call('POST', `${ENV}/production/promote`, { from: 'staging', dryRun: true }, stagingEditor.secret)).status, 200, 'a reader may look');
    const afterAudit = await call('GET', `${ENV}/production/audit?limit=500`);
    assert.deepEqual(afterAudit.body.entries, before.body.entries, 'no audit entry: nothing was written');
    assert.deepEqual((await call('GET', `${ENV}/production/flags/banner`)).body, flagBefore.body);
  });

  test('every route of an environment without a grant: 403; the granted environment answers', async () => {
    for (const route of routes) {
      const answer = await call(route.method, fill(route.path, 'default').replace('checkout', 'default'), route.method === 'GET' || route.method === 'DELETE' ? undefined : {}, stagingEditor.secret);
      assert.equal(answer.status, 403, `${route.method} ${route.path}`);
    }
    for (const path of ['/admin/v1/flags', '/admin/v1/audit', '/admin/v1/segments']) {
      assert.equal((await call('GET', path, undefined, stagingEditor.secret)).status, 403, `${path} is default/default`);
    }
    assert.equal((await call('GET', `${ENV}/production/flags`, undefined, stagingEditor.secret)).status, 200, 'reader on production may read');
    const write = await call('PUT', `${ENV}/staging/flags/banner`, banner('by the staging editor'), stagingEditor.secret);
    assert.equal(write.status, 200, JSON.stringify(write.body));
    for (const [method, path] of [
      ['POST', '/admin/v1/projects'],
      ['POST', '/admin/v1/keys'],
      ['POST', ENV],
      ['DELETE', `${ENV}/staging`],
      ['PATCH', `${ENV}/staging`],
    ] as const) {
      const answer = await call(method, path, method === 'DELETE' ? undefined : { key: 'x' }, stagingEditor.secret);
      assert.equal(answer.status, 403, `${method} ${path}`);
    }
    const listed = await call('GET', '/admin/v1/projects', undefined, stagingEditor.secret);
    assert.deepEqual(
      listed.body.projects.map((project: { key: string; environments: Array<{ key: string }> }) => `${project.key}:${project.environments.map((e) => e.key).join(',')}`),
      ['checkout:staging,production'],
      'a caller sees only what it has a role on',
    );
  });

  test('SDK keys cannot use admin routes', async () => {
    assert.equal((await call('GET', `${ENV}/staging/flags`, undefined, stagingSdk.secret)).status, 403);
  });
});
