// Hostile input and denial of service at the server's edge (issue 9, items 8, 11, 12, 13, 15, 16): every test here
// reproduces what an adversarial review did to the server, and checks the limit that now stops it.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { request as httpRequest, type IncomingMessage } from 'node:http';
import { connect } from 'node:net';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { buildServer } from '../src/app.js';
import { startServer } from '../src/start.js';
import { ADMIN, SDK, SseReader, eventually, fixtureServer, json, listen, postJson, spawnServe } from './helpers.js';

/** JSON text of `{"a": {"a": … 1 …}}`, `depth` objects deep (built as text: JSON.stringify itself overflows). */
const nested = (depth: number, inner = '1'): string => `${'{"a":'.repeat(depth)}${inner}${'}'.repeat(depth)}`;
const flagText = (metadata: string): string => `{"variations":{"a":true,"b":false},"defaultRule":{"variation":"a"},"metadata":${metadata}}`;

async function metric(base: string, name: string, labels: string): Promise<number> {
  const text = await (await fetch(`${base}/metrics`)).text();
  const line = text.split('\n').find((candidate) => candidate.startsWith(`${name}{${labels}}`));
  return line ? Number(line.split(' ').pop()) : 0;
}

/** A GET from a chosen local address (127.0.0.x are all loopback on Linux), answered with its status; the response stays open. */
function getFrom(base: string, path: string, localAddress: string, headers: Record<string, string>): Promise<IncomingMessage> {
  return new Promise((resolve, reject) => {
    const request = httpRequest(`${base}${path}`, { localAddress, headers, agent: false }, resolve);
    request.on('error', reject);
    request.end();
  });
}

describe('item 8: depth and size limits on bodies, contexts and flags; no 500 on deep input', () => {
  let app: FastifyInstance;
  let base: string;
  before(async () => {
    app = await fixtureServer({ rateLimit: false, bodyLimit: 4 * 1024 * 1024 });
    base = await listen(app);
  });
  after(() => app.close());

  test('a flag with metadata nested 4,000 levels is refused with 400 naming the limit (it used to be stored)', async () => {
    const response = await fetch(`${base}/admin/v1/flags/poison`, { method: 'PUT', headers: json(ADMIN), body: flagText(nested(4000)) });
    assert.equal(response.status, 400);
    const body = await response.json();
    assert.match(body.message, /deeper than 64 levels/);
    assert.equal((await fetch(`${base}/admin/v1/flags/poison`, { headers: json(ADMIN) })).status, 404, 'nothing stored');
  });

  test('a flag deeper than the flag limit (32) but within the body limit is refused by validation, with the field named', async () => {
    const response = await fetch(`${base}/admin/v1/flags/deep-40`, { method: 'PUT', headers: json(ADMIN), body: flagText(nested(40)) });
    assert.equal(response.status, 400);
    const body = await response.json();
    assert.equal(body.error, 'validation_failed');
    assert.match(body.message, /deep-40.*nests deeper than 32 levels/);
    const ok = await fetch(`${base}/admin/v1/flags/deep-20`, { method: 'PUT', headers: json(ADMIN), body: flagText(nested(20)) });
    assert.equal(ok.status, 201, 'a flag within the limit is accepted');
  });

  test('a flag over 256 KiB of JSON is refused', async () => {
    const big = flagText(JSON.stringify({ blob: 'x'.repeat(300 * 1024) }));
    const response = await fetch(`${base}/admin/v1/flags/too-big`, { method: 'PUT', headers: json(ADMIN), body: big });
    assert.equal(response.status, 400);
    assert.match((await response.json()).message, /more than the limit of 262144/);
  });

  test('deeply nested contexts get 400 on every evaluation route, never 500', async () => {
    const deep = nested(6000);
    const bodies: Array<[string, string]> = [
      ['/ofrep/v1/evaluate/flags/bool-flag', `{"context":{"targetingKey":"u","deep":${deep}}}`],
      ['/ofrep/v1/evaluate/flags', `{"context":{"targetingKey":"u","deep":${deep}}}`],
      ['/v1/feature/bool-flag/eval', `{"evaluationContext":{"key":"u","custom":{"deep":${deep}}}}`],
      ['/v1/allflags', `{"evaluationContext":{"key":"u","custom":{"deep":${deep}}}}`],
      ['/v1/flag/configuration', `{"flags":[],"deep":${deep}}`],
      ['/v1/data/collector', `{"events":[${deep}]}`],
    ];
    for (const [path, body] of bodies) {
      const answer = await postJson(base, path, body, json(SDK));
      assert.equal(answer.status, 400, `${path}: ${answer.text.slice(0, 200)}`);
      assert.match(answer.text, /deeper than 64 levels/, path);
    }
    const playground = await postJson(base, '/admin/v1/evaluate', `{"context":{"deep":${nested(100)}}}`, json(ADMIN));
    assert.equal(playground.status, 400);
  });

  test('a poison flag in a served file is left out (reported), and every bulk route and the stream still answer', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'vexil-poison-'));
    const file = join(dir, 'flags.json');
    await writeFile(file, `{"fine":{"variations":{"a":1},"defaultRule":{"variation":"a"}},"poison":${flagText(nested(6000))}}`);
    const served = await buildServer({ storeUrl: `file:${file}`, adminKeys: [ADMIN], sdkKeys: [SDK], defaultMetrics: false, heartbeatMs: 0, rateLimit: false });
    try {
      const url = await listen(served);
      for (const [method, path, key] of [
        ['POST', '/v1/flag/configuration', SDK],
        ['GET', '/v1/flag/change', SDK],
        ['POST', '/v1/allflags', SDK],
        ['POST', '/ofrep/v1/evaluate/flags', SDK],
        ['GET', '/admin/v1/flags', ADMIN],
        ['GET', '/admin/v1/audit', ADMIN],
      ] as const) {
        const response = await fetch(`${url}${path}`, { method, headers: json(key), ...(method === 'POST' ? { body: '{"evaluationContext":{"key":"u"},"context":{"targetingKey":"u"}}' } : {}) });
        assert.ok(response.status < 500, `${method} ${path} → ${response.status}`);
        const text = await response.text();
        assert.ok(!text.includes('{"a":{"a":{"a":{"a":{"a":{"a":{"a":{"a":{"a":{"a":{"a":{"a":{"a":{"a":{"a":{"a":{"a":{"a":{"a":{"a":{"a":{"a":{"a":{"a":{"a":{"a":{"a":{"a":{"a":{"a":{"a":{"a":{"a"'), `${path} serves no poison`);
      }
      const bulk = await postJson(url, '/ofrep/v1/evaluate/flags', { context: { targetingKey: 'u' } }, json(SDK));
      assert.deepEqual(bulk.body.flags.map((entry: { key: string }) => entry.key), ['fine'], 'the poison flag is not served');
      const list = await (await fetch(`${url}/admin/v1/flags`, { headers: json(ADMIN) })).json();
      assert.ok(
        list.problems.some((problem: { flagKey?: string; message: string }) => problem.flagKey === 'poison' && /nests deeper than 32 levels/.test(problem.message)),
        JSON.stringify(list.problems).slice(0, 500),
      );
      const stream = await SseReader.open(`${url}/v1/stream?key=${SDK}`);
      try {
        const snapshot = JSON.parse((await stream.waitFor((event) => event.event === 'snapshot', 10_000)).data);
        assert.ok(snapshot.flags.fine);
      } finally {
        stream.close();
      }
    } finally {
      await served.close();
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe('item 16: prototype keys, reserved names, the collector quota, the audit actor', () => {
  let app: FastifyInstance;
  let base: string;
  const OTHER_SDK = 'another-sdk-key-0002';
  before(async () => {
    app = await fixtureServer({ rateLimit: false, sdkKeys: [SDK, OTHER_SDK] });
    base = await listen(app);
  });
  after(() => app.close());

  test('the escaped form "\\u005f_proto__" is scrubbed like "__proto__" (the scrub reads parsed keys)', async () => {
    const body = '{"variations":{"a":true},"defaultRule":{"variation":"a"},"\\u005f_proto__":{"polluted":true},"metadata":{"\\u005f_proto__":{"x":1},"ok":1}}';
    const response = await fetch(`${base}/admin/v1/flags/escaped-proto`, { method: 'PUT', headers: json(ADMIN), body });
    assert.equal(response.status, 201);
    const stored = await (await fetch(`${base}/admin/v1/flags/escaped-proto`, { headers: json(ADMIN) })).text();
    assert.ok(!stored.includes('__proto__'), stored);
    assert.deepEqual(JSON.parse(stored).flag.metadata, { ok: 1 });
    assert.equal(({} as Record<string, unknown>).polluted, undefined);
  });

  test('a flag named __proto__, "." or "..", or with a lone surrogate, is refused with 400', async () => {
    for (const key of ['__proto__', '%2E', '%2E%2E']) {
      // node:http sends the path as it is (fetch would resolve "%2E%2E" away).
      const response = await new Promise<IncomingMessage>((resolve, reject) => {
        const { hostname, port } = new URL(base);
        const put = httpRequest({ hostname, port, path: `/admin/v1/flags/${key}`, method: 'PUT', headers: json(ADMIN) }, resolve);
        put.on('error', reject);
        put.end('{"variations":{"a":true},"defaultRule":{"variation":"a"}}');
      });
      response.resume();
      assert.equal(response.statusCode, 400, key);
    }
    const named = await fetch(`${base}/admin/v1/flags/__proto__`, { method: 'PUT', headers: json(ADMIN), body: '{"variations":{"a":true},"defaultRule":{"variation":"a"}}' });
    assert.match((await named.json()).message, /"__proto__" is reserved/);
    for (const key of ['__proto__', '.', '..', '\ud800x', 'x\udc00']) {
      const response = await postJson(base, '/admin/v1/flags', `{"key":${JSON.stringify(key)},"flag":{"variations":{"a":true},"defaultRule":{"variation":"a"}}}`, json(ADMIN));
      assert.equal(response.status, 400, JSON.stringify(key));
    }
    const list = await (await fetch(`${base}/admin/v1/flags`, { headers: json(ADMIN) })).json();
    assert.ok(!list.flags.some((flag: { key: string }) => ['__proto__', '.', '..'].includes(flag.key) || /[\ud800-\udfff]/.test(flag.key)));
  });

  test('a lone surrogate anywhere in a body is refused with 400 naming where (in flag content it used to be a 500)', async () => {
    for (const [method, path, body, key] of [
      ['PUT', '/admin/v1/flags/surrogate-1', '{"variations":{"a":true},"defaultRule":{"variation":"a"},"metadata":{"x":"\\ud800"}}', ADMIN],
      ['PUT', '/admin/v1/flags/surrogate-2', '{"variations":{"\\udc00":true},"defaultRule":{"variation":"\\udc00"}}', ADMIN],
      ['POST', '/admin/v1/keys', '{"name":"\\ud800","kind":"sdk"}', ADMIN],
      ['POST', '/ofrep/v1/evaluate/flags', '{"context":{"targetingKey":"\\ud800"}}', SDK],
    ] as const) {
      const response = await fetch(`${base}${path}`, { method, headers: json(key), body });
      assert.equal(response.status, 400, `${method} ${path}`);
      assert.match(await response.text(), /lone UTF-16 surrogate/);
    }
    // A surrogate pair is text like any other.
    const pair = await fetch(`${base}/admin/v1/flags/surrogate-pair`, { method: 'PUT', headers: json(ADMIN), body: '{"variations":{"a":"\\ud83d\\ude00"},"defaultRule":{"variation":"a"}}' });
    assert.equal(pair.status, 201);
  });

  test('a segment named __proto__ (plain or escaped), "." or ".." is refused with 400, not dropped', async () => {
    // `staff` stays (the fixture's flags use it): only the reserved name is wrong.
    const staff = '"staff":"email ew \\"@example.com\\""';
    for (const name of ['__proto__', '\\u005f_proto__', '.', '..']) {
      const body = `{"segments":{${staff},"${name}":"key eq \\"a\\""}}`;
      const before = app.vexil.holder.appliedRevision;
      const response = await fetch(`${base}/admin/v1/segments`, { method: 'PUT', headers: json(ADMIN), body });
      assert.equal(response.status, 400, body);
      assert.match((await response.json()).message, /reserved/, body);
      assert.equal(app.vexil.holder.appliedRevision, before, 'nothing written');
    }
    const fine = await fetch(`${base}/admin/v1/segments`, { method: 'PUT', headers: json(ADMIN), body: `{"segments":{${staff},"ok":"key eq \\"a\\""}}` });
    assert.equal(fine.status, 200, 'the same body with a usable name is accepted');
  });

  test('one request from one key cannot fill the collector series table: another key still gets its series counted', async () => {
    const events = Array.from({ length: 10_001 }, (_, i) => ({ kind: 'feature', key: `junk-${i}`, variation: 'v', creationDate: 1 }));
    const flood = await postJson(base, '/v1/data/collector', { events }, json(SDK));
    assert.equal(flood.status, 200);
    const later = await postJson(base, '/v1/data/collector', { events: [{ kind: 'feature', key: 'bool-flag', variation: 'on', creationDate: 1 }] }, json(OTHER_SDK));
    assert.equal(later.status, 200);
    const summary = await (await fetch(`${base}/admin/v1/events`, { headers: json(ADMIN) })).json();
    assert.equal(summary.flags['bool-flag']?.on?.count, 1, 'the other key\'s series is counted');
    assert.ok(Object.keys(summary.flags).length <= 1001, `one key made ${Object.keys(summary.flags).length} series`);
    assert.ok(summary.overflow >= 9000);
  });

  test('the audit actor is the key\'s name and its unique id: two keys with one name are told apart', async () => {
    const make = async () => (await postJson(base, '/admin/v1/keys', { name: 'ci', role: 'editor' }, json(ADMIN))).body as { id: string; secret: string };
    const [first, second] = [await make(), await make()];
    const flag = '{"variations":{"a":true},"defaultRule":{"variation":"a"}}';
    assert.equal((await fetch(`${base}/admin/v1/flags/by-ci-1`, { method: 'PUT', headers: json(first.secret), body: flag })).status, 201);
    assert.equal((await fetch(`${base}/admin/v1/flags/by-ci-2`, { method: 'PUT', headers: json(second.secret), body: flag })).status, 201);
    const audit = await (await fetch(`${base}/admin/v1/audit?limit=2`, { headers: json(ADMIN) })).json();
    assert.deepEqual(
      audit.entries.map((entry: { actor: string }) => entry.actor),
      [`ci (${second.id})`, `ci (${first.id})`],
    );
  });
});

describe('item 12: failed authentications limited per address, counted; short keys refused at start', () => {
  test('past the limit, an address gets 429 (even with a valid key) until the window ends; /metrics counts both', async () => {
    const app = await fixtureServer({ authFailureLimit: { max: 5, timeWindowMs: 60_000 } });
    try {
      const base = await listen(app);
      const statuses: number[] = [];
      for (let i = 0; i < 8; i++) statuses.push((await postJson(base, '/ofrep/v1/evaluate/flags/bool-flag', {}, json(`wrong-key-guess-${i}`))).status);
      assert.deepEqual(statuses, [401, 401, 401, 401, 401, 429, 429, 429]);
      const limited = await postJson(base, '/ofrep/v1/evaluate/flags/bool-flag', {}, json(SDK));
      assert.equal(limited.status, 429, 'a guessed key would not be checked either');
      assert.ok(Number(limited.headers.get('retry-after')) >= 1);
      assert.equal(await metric(base, 'vexil_auth_failures_total', 'outcome="rejected"'), 5);
      assert.equal(await metric(base, 'vexil_auth_failures_total', 'outcome="limited"'), 4);
      // Requests without a key are not key guesses: still a plain 401.
      assert.equal((await postJson(base, '/ofrep/v1/evaluate/flags/bool-flag', {}, { 'content-type': 'application/json' })).status, 401);
    } finally {
      await app.close();
    }
  });

  test('the real address comes from X-Forwarded-For only when the proxy is trusted', async () => {
    const untrusted = await fixtureServer({ authFailureLimit: { max: 3, timeWindowMs: 60_000 } });
    const trusted = await fixtureServer({ authFailureLimit: { max: 3, timeWindowMs: 60_000 }, trustProxy: ['127.0.0.1'] });
    try {
      const bases = { untrusted: await listen(untrusted), trusted: await listen(trusted) };
      for (const [name, expected] of [
        ['untrusted', [401, 401, 401, 429]],
        ['trusted', [401, 401, 401, 401]],
      ] as const) {
        const statuses: number[] = [];
        // Each guess claims another client address: only a trusted proxy may say so.
        for (let i = 0; i < 4; i++) statuses.push((await postJson(bases[name], '/v1/allflags', {}, json(`bad-key-${i}`, { 'x-forwarded-for': `203.0.113.${i + 1}` }))).status);
        assert.deepEqual(statuses, expected, name);
      }
      const base = bases.trusted;
      for (let i = 0; i < 3; i++) await postJson(base, '/v1/allflags', {}, json('bad-key', { 'x-forwarded-for': '198.51.100.9' }));
      assert.equal((await postJson(base, '/v1/allflags', {}, json('bad-key', { 'x-forwarded-for': '198.51.100.9' }))).status, 429, 'the forwarded address is limited');
    } finally {
      await untrusted.close();
      await trusted.close();
    }
  });

  test('vexil serve refuses configured keys shorter than 16 characters, with a clear message', async () => {
    await assert.rejects(
      startServer({ storeUrl: 'pglite:memory:', adminKeys: ['short-admin'], port: 0, handleSignals: false, print: () => undefined, logger: false }),
      /admin key .*number 1 has 11 characters: keys need at least 16/,
    );
    await assert.rejects(spawnServe(['--store', 'pglite:memory:', '--sdk-key', 'tiny-sdk-key']), /SDK key .*has 12 characters: keys need at least 16/);
  });
});

describe('item 15: the advertised OFREP stream URL', () => {
  let app: FastifyInstance;
  let base: string;
  before(async () => {
    app = await fixtureServer();
    base = await listen(app);
  });
  after(() => app.close());

  const streamUrl = async (key: string, headers: Record<string, string> = {}, server = base): Promise<string> => {
    const answer = await postJson(server, '/ofrep/v1/evaluate/flags', { context: { targetingKey: 'u' } }, json(key, headers));
    assert.equal(answer.status, 200);
    return answer.body.eventStreams[0].url as string;
  };

  test('never built from the Host header, and never carries the key (SDK or admin)', async () => {
    for (const key of [SDK, ADMIN]) {
      const url = await streamUrl(key, { host: 'evil.example' });
      assert.ok(url.startsWith(`${base}/ofrep/v1/events?token=`), url);
      assert.ok(!url.includes(key), 'no key in the URL');
      assert.ok(!url.includes('evil.example'));
    }
    const forged = await streamUrl(SDK, { 'x-forwarded-host': 'evil.example', 'x-forwarded-proto': 'https' });
    assert.ok(forged.startsWith(base), 'an untrusted X-Forwarded-Host is ignored');
  });

  test('--public-url, or a trusted proxy\'s forwarded host, when configured', async () => {
    const withPublic = await fixtureServer({ publicUrl: 'https://flags.example.com/' });
    const behindProxy = await fixtureServer({ trustProxy: ['127.0.0.1'] });
    try {
      assert.ok((await streamUrl(SDK, { host: 'evil.example' }, await listen(withPublic))).startsWith('https://flags.example.com/ofrep/v1/events?token='));
      const forwarded = await streamUrl(SDK, { 'x-forwarded-host': 'flags.internal', 'x-forwarded-proto': 'https' }, await listen(behindProxy));
      assert.ok(forwarded.startsWith('https://flags.internal/ofrep/v1/events?token='), forwarded);
    } finally {
      await withPublic.close();
      await behindProxy.close();
    }
  });

  test('the token opens the stream, only that stream, and stops working when its key is revoked', async () => {
    const created = (await postJson(base, '/admin/v1/keys', { kind: 'sdk', name: 'browser' }, json(ADMIN))).body as { id: string; secret: string };
    const url = await streamUrl(created.secret);
    const open = await SseReader.open(url);
    assert.equal(open.status, 200);
    open.close();
    const token = new URL(url).searchParams.get('token')!;
    assert.equal((await fetch(`${base}/v1/stream?token=${encodeURIComponent(token)}`)).status, 401, 'not a key for other routes');
    assert.equal((await postJson(base, '/ofrep/v1/evaluate/flags', {}, { 'content-type': 'application/json', authorization: `Bearer ${token}` })).status, 401);
    const forged = token.replace(/\.(\d+)\./, (_, expires: string) => `.${Number(expires) + 1800}.`);
    assert.equal((await fetch(`${base}/ofrep/v1/events?token=${encodeURIComponent(forged)}`)).status, 401, 'a changed expiry breaks the MAC');
    assert.equal((await fetch(`${base}/admin/v1/keys/${created.id}`, { method: 'DELETE', headers: { 'x-api-key': ADMIN } })).status, 200);
    assert.equal((await fetch(url)).status, 401, 'revoked key: the token is refused');
  });
});

describe('item 11: stream connection caps and slow consumers', () => {
  test('per-address and per-key caps answer 429 beyond, on both streams; a closed stream frees its place', async () => {
    const app = await fixtureServer({ streamsPerAddress: 2, streamsPerKey: 3 });
    const open: IncomingMessage[] = [];
    try {
      const base = await listen(app);
      const headers = { 'x-api-key': SDK, accept: 'text/event-stream' };
      open.push(await getFrom(base, '/v1/stream', '127.0.0.1', headers));
      open.push(await getFrom(base, '/ofrep/v1/events', '127.0.0.1', headers));
      const third = await getFrom(base, '/v1/stream', '127.0.0.1', headers);
      assert.deepEqual([...open.map((response) => response.statusCode), third.statusCode], [200, 200, 429]);
      third.resume();
      // Another address: allowed until the key's cap (3).
      open.push(await getFrom(base, '/ofrep/v1/events', '127.0.0.2', headers));
      const overKey = await getFrom(base, '/v1/stream', '127.0.0.3', headers);
      assert.equal(open[2]!.statusCode, 200);
      assert.equal(overKey.statusCode, 429);
      overKey.resume();
      // Another key from a full address is still refused for the address.
      assert.equal((await getFrom(base, '/v1/stream', '127.0.0.1', { ...headers, 'x-api-key': ADMIN })).statusCode, 429);
      open.shift()!.destroy();
      await eventually(async () => {
        const again = await getFrom(base, '/v1/stream', '127.0.0.1', headers);
        if (again.statusCode === 200) open.push(again);
        else again.resume();
        return again.statusCode === 200;
      }, 10_000, 50);
      assert.ok((await metric(base, 'vexil_stream_refusals_total', 'stream="sdk",reason="address"')) >= 2);
    } finally {
      for (const response of open) response.destroy();
      await app.close();
    }
  });

  test('a client that never reads is dropped after its backlog stays over the bound; it resumes with Last-Event-ID', async () => {
    const app = await fixtureServer({ streamBacklogBytes: 64 * 1024, streamDrainTimeoutMs: 300, rateLimit: false });
    try {
      const base = await listen(app);
      // A snapshot of about 2 MB (flags of 200 KB each), which a reader that never reads cannot take.
      const blob = 'x'.repeat(200 * 1024);
      for (let i = 0; i < 10; i++) {
        const response = await fetch(`${base}/admin/v1/flags/big-${i}`, { method: 'PUT', headers: json(ADMIN), body: JSON.stringify({ variations: { a: blob }, defaultRule: { variation: 'a' } }) });
        assert.equal(response.status, 201);
      }
      const { port } = new URL(base);
      const sockets = Array.from({ length: 5 }, () => {
        const socket = connect(Number(port), '127.0.0.1');
        socket.write(`GET /v1/stream HTTP/1.1\r\nHost: x\r\nX-API-Key: ${SDK}\r\nAccept: text/event-stream\r\n\r\n`);
        socket.pause();
        const closed = new Promise<void>((resolve) => socket.on('close', () => resolve()));
        return { socket, closed };
      });
      await eventually(() => app.vexil.sse.count('sdk') === 5, 10_000);
      // The server lets go of them (a paused client cannot see it yet)...
      await eventually(() => app.vexil.sse.count('sdk') === 0, 20_000, 50);
      assert.equal(await metric(base, 'vexil_stream_refusals_total', 'stream="sdk",reason="slow"'), 5);
      // ...and once they read, they find the connection gone (an EventSource would then reconnect).
      for (const { socket } of sockets) {
        socket.on('error', () => undefined);
        socket.resume();
      }
      await Promise.race([
        Promise.all(sockets.map(({ closed }) => closed)),
        new Promise((_, reject) => setTimeout(() => reject(new Error('the dropped connections stayed open')), 20_000)),
      ]);

      // A reader that reads gets the whole snapshot, and a dropped client resumes from its last event id.
      const reader = await SseReader.open(`${base}/v1/stream?key=${SDK}`);
      const snapshot = await reader.waitFor((event) => event.event === 'snapshot', 20_000);
      reader.close();
      assert.equal((await fetch(`${base}/admin/v1/flags/after-drop`, { method: 'PUT', headers: json(ADMIN), body: '{"variations":{"a":1},"defaultRule":{"variation":"a"}}' })).status, 201);
      const resumed = await SseReader.open(`${base}/v1/stream?key=${SDK}`, { 'last-event-id': snapshot.id! });
      try {
        const change = await resumed.waitFor((event) => event.event === 'put' || event.event === 'snapshot', 10_000);
        assert.equal(change.event, 'put', 'resumed with the missed change, not a new snapshot');
        assert.equal(JSON.parse(change.data).key, 'after-drop');
      } finally {
        resumed.close();
      }
    } finally {
      await app.close();
    }
  });
});

describe('item 13: playground limits', () => {
  let app: FastifyInstance;
  let base: string;
  before(async () => {
    app = await fixtureServer({ rateLimit: false, bodyLimit: 4 * 1024 * 1024 });
    base = await listen(app);
  });
  after(() => app.close());

  const definition = (query: unknown) => ({ variations: { a: true, b: false }, targeting: [{ query: JSON.stringify(query), variation: 'a' }], defaultRule: { variation: 'b' } });
  /** Quadratic in the list's length: each step copies the accumulated list. */
  const quadratic = { '==': [{ reduce: [{ var: 'items' }, { merge: [{ var: 'accumulator' }, [{ var: 'current' }]] }, []] }, 1] };

  test('a reader key cannot send a large context: 413 over 64 KiB, 400 for a list over 1,000 items', async () => {
    const huge = await postJson(base, '/admin/v1/evaluate', { definition: definition(quadratic), context: { items: Array.from({ length: 40_000 }, (_, i) => i) } }, json(ADMIN));
    assert.equal(huge.status, 413);
    const long = await postJson(base, '/admin/v1/evaluate', { definition: definition(quadratic), context: { items: Array.from({ length: 5000 }, (_, i) => i) } }, json(ADMIN));
    assert.equal(long.status, 400);
    assert.equal(long.body.error, 'playground_limit');
    assert.match(long.body.message, /at most 1000 items/);
    const fine = await postJson(base, '/admin/v1/evaluate', { definition: definition(quadratic), context: { items: Array.from({ length: 1000 }, (_, i) => i) } }, json(ADMIN));
    assert.equal(fine.status, 200);
  });

  test('an unsaved definition may nest at most 2 iterating JsonLogic operators', async () => {
    const cubic = { some: [{ var: 'a' }, { some: [{ var: 'b' }, { some: [{ var: 'c' }, { '==': [1, 1] }] }] }] };
    const refused = await postJson(base, '/admin/v1/evaluate', { definition: definition(cubic), context: {} }, json(ADMIN));
    assert.equal(refused.status, 400);
    assert.match(refused.body.message, /at most 2 iterating operators/);
    const nested = { some: [{ var: 'a' }, { some: [{ var: 'b' }, { '==': [1, 1] }] }] };
    assert.equal((await postJson(base, '/admin/v1/evaluate', { definition: definition(nested), context: {} }, json(ADMIN))).status, 200);
  });
});

describe('the limits are configurable: environment over config file, passed to the server', () => {
  test('resolveServeConfig and startOptionsFromConfig', async () => {
    const { resolveServeConfig } = await import('../src/config/config.js');
    const { startOptionsFromConfig } = await import('../src/start.js');
    const dir = await mkdtemp(join(tmpdir(), 'vexil-limits-config-'));
    try {
      const file = join(dir, 'vexil.yaml');
      await writeFile(file, 'trustProxy: [10.0.0.0/8, 127.0.0.1]\nauthFailureLimit: { max: 7, timeWindowMs: 1000 }\nstreamsPerKey: 50\nstreamsPerAddress: 5\ncontextSampleMaxBytes: 4096\n');
      const fromFile = await resolveServeConfig({ config: file }, {});
      assert.deepEqual(fromFile.trustProxy, ['10.0.0.0/8', '127.0.0.1']);
      assert.deepEqual(fromFile.authFailureLimit, { max: 7, timeWindowMs: 1000 });
      const options = startOptionsFromConfig(fromFile);
      assert.equal(options.streamsPerKey, 50);
      assert.equal(options.streamsPerAddress, 5);
      assert.equal(options.contextSampleTotalChars, 4096);
      const fromEnv = await resolveServeConfig(
        { config: file },
        { VEXIL_TRUST_PROXY: 'true', VEXIL_AUTH_FAILURE_LIMIT: '0', VEXIL_STREAMS_PER_ADDRESS: '9', VEXIL_STREAM_BACKLOG_BYTES: '65536', VEXIL_STREAM_DRAIN_TIMEOUT_MS: '2000', VEXIL_CONTEXT_SAMPLE_SIZE: '0', VEXIL_CONTEXT_SAMPLE_ENTRY_BYTES: '100' },
      );
      assert.equal(fromEnv.trustProxy, true);
      assert.equal(fromEnv.authFailureLimit, false);
      const envOptions = startOptionsFromConfig(fromEnv);
      assert.deepEqual(
        [envOptions.streamsPerAddress, envOptions.streamBacklogBytes, envOptions.streamDrainTimeoutMs, envOptions.contextSampleSize, envOptions.contextSampleEntryChars],
        [9, 65536, 2000, 0, 100],
      );
      const defaults = await resolveServeConfig({}, {});
      assert.deepEqual(defaults.authFailureLimit, { max: 30, timeWindowMs: 60_000 });
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
