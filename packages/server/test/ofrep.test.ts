import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { FastifyInstance } from 'fastify';
import { ADMIN, SDK, SseReader, fixtureServer, json, listen } from './helpers.js';

let app: FastifyInstance;
let base: string;

before(async () => {
  app = await fixtureServer();
  base = await listen(app);
});
after(async () => {
  await app.close();
});

const post = (path: string, body?: unknown, headers: Record<string, string> = json()) =>
  fetch(`${base}${path}`, { method: 'POST', headers, ...(body === undefined ? {} : { body: typeof body === 'string' ? body : JSON.stringify(body) }) });

describe('OFREP single flag', () => {
  test('evaluates with the context and answers OFREP success fields', async () => {
    const response = await post('/ofrep/v1/evaluate/flags/bool-flag', { context: { targetingKey: 'u1', email: 'a@example.com' } });
    assert.equal(response.status, 200);
    assert.match(response.headers.get('content-type') ?? '', /^application\/json/);
    const body = await response.json();
    assert.deepEqual(body, {
      key: 'bool-flag',
      value: true,
      reason: 'TARGETING_MATCH',
      variant: 'on',
      // Only primitive metadata in OFREP; the list `tags` is left out.
      metadata: { owner: 'web', evaluatedRuleName: 'staff', gofeatureflag_cacheable: true },
      cacheable: true,
    });
  });

  test('a missing body, a missing context and a missing targetingKey are accepted', async () => {
    const noBody = await post('/ofrep/v1/evaluate/flags/number-flag', undefined, { 'x-api-key': SDK });
    assert.equal(noBody.status, 200);
    assert.equal((await noBody.json()).value, 50);
    const emptyBody = await post('/ofrep/v1/evaluate/flags/number-flag', '', json());
    assert.equal(emptyBody.status, 200);
    const noContext = await post('/ofrep/v1/evaluate/flags/bool-flag', {});
    assert.deepEqual(await noContext.json(), {
      key: 'bool-flag',
      value: false,
      reason: 'DEFAULT',
      variant: 'off',
      metadata: { owner: 'web', gofeatureflag_cacheable: true },
      cacheable: true,
    });
    const nullContext = await post('/ofrep/v1/evaluate/flags/object-flag', { context: null });
    assert.deepEqual((await nullContext.json()).value, { model: 'a', topK: 10 });
  });

  test('an unknown flag is 404 FLAG_NOT_FOUND with the key', async () => {
    const response = await post('/ofrep/v1/evaluate/flags/no-such-flag', { context: { targetingKey: 'u' } });
    assert.equal(response.status, 404);
    const body = await response.json();
    assert.equal(body.key, 'no-such-flag');
    assert.equal(body.errorCode, 'FLAG_NOT_FOUND');
    assert.equal(typeof body.errorDetails, 'string');
  });

  test('other evaluation errors are 400 with key and errorCode', async () => {
    const response = await post('/ofrep/v1/evaluate/flags/split-flag', { context: { plan: 'pro' } });
    assert.equal(response.status, 400);
    const body = await response.json();
    assert.equal(body.key, 'split-flag');
    assert.equal(body.errorCode, 'TARGETING_KEY_MISSING');
  });

  test('errorDetails say what is wrong and how to fix it (404 and 400), as the playground does', async () => {
    const missing = await post('/ofrep/v1/evaluate/flags/no-such-flag', { context: { targetingKey: 'u' } });
    assert.deepEqual(await missing.json(), { key: 'no-such-flag', errorCode: 'FLAG_NOT_FOUND', errorDetails: 'flag `no-such-flag` does not exist in this environment: check the key (keys are case-sensitive)' });
    const noKey = await post('/ofrep/v1/evaluate/flags/split-flag', { context: {} });
    const noKeyBody = await noKey.json();
    assert.deepEqual(noKeyBody, { key: 'split-flag', errorCode: 'TARGETING_KEY_MISSING', errorDetails: 'flag `split-flag` splits users by targetingKey and the context has none: send {"context": {"targetingKey": "..."}}' });
    const playground = await post('/admin/v1/evaluate', { flag: 'split-flag', context: {} }, json(ADMIN));
    assert.equal((await playground.json()).errorMessage, noKeyBody.errorDetails);
  });

  test('an empty key (POST /ofrep/v1/evaluate/flags/) is 404 {message: "Not Found"}, as GO Feature Flag answers', async () => {
    const response = await post('/ofrep/v1/evaluate/flags/', { context: { targetingKey: 'u' } });
    assert.equal(response.status, 404);
    assert.match(response.headers.get('content-type') ?? '', /^application\/json/);
    assert.deepEqual(await response.json(), { message: 'Not Found' });
    assert.equal((await post('/ofrep/v1/evaluate/flags/', {}, { 'content-type': 'application/json' })).status, 401, 'the key is checked first');
  });

  test('malformed JSON and a non-object body are 400 INVALID_CONTEXT', async () => {
    // A cut-off body: GO Feature Flag's words (its invalid_context_with_key.json).
    const cut = await post('/ofrep/v1/evaluate/flags/bool-flag', '{"context": ', json());
    assert.equal(cut.status, 400);
    assert.deepEqual(await cut.json(), { key: 'bool-flag', errorCode: 'INVALID_CONTEXT', errorDetails: 'code=400, message=unexpected EOF, internal=unexpected EOF' });
    // Other malformed JSON: the parser's message.
    const bad = await post('/ofrep/v1/evaluate/flags/bool-flag', '{"context": }', json());
    assert.equal(bad.status, 400);
    const body = await bad.json();
    assert.equal(body.key, 'bool-flag');
    assert.equal(body.errorCode, 'INVALID_CONTEXT');
    assert.match(body.errorDetails, /not valid JSON/);
    const list = await post('/ofrep/v1/evaluate/flags/bool-flag', [1, 2]);
    assert.equal(list.status, 400);
    assert.equal((await list.json()).errorCode, 'INVALID_CONTEXT');
  });

  test('a disabled flag answers like an OpenFeature default: reason DISABLED, no value, no variant', async () => {
    const response = await post('/ofrep/v1/evaluate/flags/disabled-flag', { context: { targetingKey: 'u' } });
    assert.equal(response.status, 200);
    const body = await response.json();
    assert.equal(body.reason, 'DISABLED');
    assert.equal('value' in body, false);
    assert.equal('variant' in body, false);
    const off = await (await post('/ofrep/v1/evaluate/flags/off-variation-flag', { context: {} })).json();
    assert.equal(off.reason, 'DISABLED');
    assert.equal(off.value, false);
    assert.equal(off.variant, 'off');
  });

  test('keys: none → 401, unknown → 401, Bearer accepted', async () => {
    const none = await post('/ofrep/v1/evaluate/flags/bool-flag', {}, { 'content-type': 'application/json' });
    assert.equal(none.status, 401);
    const wrong = await post('/ofrep/v1/evaluate/flags/bool-flag', {}, json('nope'));
    assert.equal(wrong.status, 401);
    const bearer = await post('/ofrep/v1/evaluate/flags/bool-flag', {}, { 'content-type': 'application/json', authorization: `Bearer ${SDK}` });
    assert.equal(bearer.status, 200);
    const admin = await post('/ofrep/v1/evaluate/flags/bool-flag', {}, json(ADMIN));
    assert.equal(admin.status, 200, 'admin keys may evaluate too');
  });

  test('429 carries Retry-After in integer seconds, per key', async () => {
    const limitedApp = await fixtureServer({ rateLimit: { max: 5, timeWindowMs: 60_000 }, sdkKeys: ['limited-key', 'other-key'] });
    try {
      const send = (key: string) =>
        limitedApp.inject({ method: 'POST', url: '/ofrep/v1/evaluate/flags/bool-flag', headers: json(key), payload: {} });
      const statuses: number[] = [];
      for (let i = 0; i < 6; i++) statuses.push((await send('limited-key')).statusCode);
      assert.deepEqual(statuses, [200, 200, 200, 200, 200, 429]);
      const limited = await send('limited-key');
      assert.equal(limited.statusCode, 429);
      assert.match(String(limited.headers['retry-after']), /^[0-9]+$/);
      assert.equal(limited.json().key, 'bool-flag');
      assert.equal(limited.json().errorCode, 'GENERAL');
      assert.equal((await send('other-key')).statusCode, 200, 'another key has its own budget');
    } finally {
      await limitedApp.close();
    }
  });
});

describe('OFREP bulk', () => {
  test('every flag sorted by key, with ETag and eventStreams; If-None-Match gives 304', async () => {
    const context = { context: { targetingKey: 'user-1', email: 'x@example.com' } };
    const response = await post('/ofrep/v1/evaluate/flags', context);
    assert.equal(response.status, 200);
    const etag = response.headers.get('etag');
    assert.ok(etag && /^"\d+-[\w-]+"$/.test(etag), `etag ${etag}`);
    const body = await response.json();
    const keys = body.flags.map((flag: { key: string }) => flag.key);
    assert.deepEqual(keys, [...keys].sort());
    assert.deepEqual(keys, ['bool-flag', 'disabled-flag', 'number-flag', 'object-flag', 'off-variation-flag', 'split-flag']);
    const disabled = body.flags.find((flag: { key: string }) => flag.key === 'disabled-flag');
    assert.deepEqual(Object.keys(disabled).sort(), ['key', 'metadata', 'reason']);
    assert.equal(body.eventStreams.length, 1);
    assert.equal(body.eventStreams[0].type, 'sse');
    // The address this request reached, and a stream token, never the key.
    assert.match(body.eventStreams[0].url, new RegExp(`^${base}/ofrep/v1/events\\?token=[\\w-]+\\.\\d+\\.[\\w-]+$`));
    assert.ok(!body.eventStreams[0].url.includes(SDK));
    assert.equal(body.eventStreams[0].inactivityDelaySec, 120);

    const again = await post('/ofrep/v1/evaluate/flags', context, json(SDK, { 'if-none-match': etag }));
    assert.equal(again.status, 304);
    assert.equal(again.headers.get('etag'), etag);
    assert.equal(await again.text(), '');

    // The same ETag with another context (another attribute, same targetingKey) must not give 304.
    const other = await post('/ofrep/v1/evaluate/flags', { context: { targetingKey: 'user-1', email: 'x@other.org' } }, json(SDK, { 'if-none-match': etag }));
    assert.equal(other.status, 200);
    assert.notEqual(other.headers.get('etag'), etag);
  });

  test('per-flag errors sit inside flags[] with HTTP 200', async () => {
    const response = await post('/ofrep/v1/evaluate/flags', {});
    assert.equal(response.status, 200);
    const body = await response.json();
    const split = body.flags.find((flag: { key: string }) => flag.key === 'split-flag');
    assert.deepEqual(split, { key: 'split-flag', errorCode: 'TARGETING_KEY_MISSING', errorDetails: 'flag `split-flag` splits users by targetingKey and the context has none: send {"context": {"targetingKey": "..."}}' });
  });

  test('entries keep the flag metadata but not gofeatureflag_cacheable (single-flag answers only)', async () => {
    const body = await (await post('/ofrep/v1/evaluate/flags', { context: { targetingKey: 'u', email: 'a@example.com' } })).json();
    const bool = body.flags.find((flag: { key: string }) => flag.key === 'bool-flag');
    assert.deepEqual(bool, { key: 'bool-flag', value: true, reason: 'TARGETING_MATCH', variant: 'on', metadata: { owner: 'web', evaluatedRuleName: 'staff' } });
    assert.ok(body.flags.every((flag: { metadata?: Record<string, unknown> }) => flag.metadata?.gofeatureflag_cacheable === undefined));
  });

  test('gofeatureflag.flagList in the context limits the flags; keys of no flag are left out (as GO Feature Flag)', async () => {
    const context = { targetingKey: 'u', gofeatureflag: { flagList: ['number-flag', 'nope', 'bool-flag', 'number-flag'] } };
    const body = await (await post('/ofrep/v1/evaluate/flags', { context })).json();
    assert.deepEqual(body.flags.map((flag: { key: string }) => flag.key), ['bool-flag', 'number-flag']);
    const empty = await (await post('/ofrep/v1/evaluate/flags', { context: { targetingKey: 'u', gofeatureflag: { flagList: [] } } })).json();
    assert.equal(empty.flags.length, 6, 'an empty list means every flag');
  });

  test('the ETag changes when a flag changes, and the event stream sends refetchEvaluation', async () => {
    const first = await post('/ofrep/v1/evaluate/flags', { context: { targetingKey: 'k' } });
    const etag = first.headers.get('etag')!;
    const { eventStreams } = await first.json();
    const events = await SseReader.open(eventStreams[0].url);
    try {
      assert.equal(events.status, 200);
      assert.match(events.headers?.get('content-type') ?? '', /^text\/event-stream/);
      const put = await fetch(`${base}/admin/v1/flags/number-flag`, {
        method: 'PATCH',
        headers: json(ADMIN),
        body: JSON.stringify({ defaultRule: { variation: 'small' } }),
      });
      assert.equal(put.status, 200);
      const event = await events.waitFor((e) => e.event === 'message');
      const data = JSON.parse(event.data);
      assert.equal(data.type, 'refetchEvaluation');
      assert.ok(Number.isInteger(data.lastModified));
      assert.ok(event.id && Number(event.id) > 0);
      const refetch = await post(`/ofrep/v1/evaluate/flags?flagConfigEtag=${encodeURIComponent(data.etag)}`, { context: { targetingKey: 'k' } }, json(SDK, { 'if-none-match': etag }));
      assert.equal(refetch.status, 200);
      const flags = (await refetch.json()).flags;
      assert.equal(flags.find((flag: { key: string }) => flag.key === 'number-flag').value, 10);
    } finally {
      events.close();
    }
  });

  test('the event stream: a Last-Event-ID other than the current revision (older, or ahead: a fresh store) re-fetches at once', async () => {
    const revision = app.vexil.holder.revision;
    for (const [lastEventId, refetch] of [
      [String(revision), false],
      [String(revision - 1), true],
      [String(revision + 100), true],
    ] as const) {
      const events = await SseReader.open(`${base}/ofrep/v1/events?key=${SDK}`, { 'last-event-id': lastEventId });
      try {
        if (refetch) {
          const event = await events.waitFor((e) => e.event === 'message');
          assert.equal(JSON.parse(event.data).type, 'refetchEvaluation');
          assert.equal(event.id, String(revision));
        } else {
          await new Promise((resolve) => setTimeout(resolve, 100));
          assert.equal(events.events.length, 0);
        }
      } finally {
        events.close();
      }
    }
  });

  test('the event stream needs a key (query or header)', async () => {
    const anonymous = await fetch(`${base}/ofrep/v1/events`);
    assert.equal(anonymous.status, 401);
    await anonymous.body?.cancel();
  });
});

describe('CORS for browser providers', () => {
  test('preflight allows the headers OFREP providers send and exposes ETag', async () => {
    const preflight = await fetch(`${base}/ofrep/v1/evaluate/flags`, {
      method: 'OPTIONS',
      headers: {
        origin: 'https://app.example.com',
        'access-control-request-method': 'POST',
        'access-control-request-headers': 'authorization,x-api-key,if-none-match,content-type',
      },
    });
    assert.equal(preflight.status, 204);
    assert.equal(preflight.headers.get('access-control-allow-origin'), '*');
    const allowed = (preflight.headers.get('access-control-allow-headers') ?? '').toLowerCase();
    for (const name of ['authorization', 'x-api-key', 'if-none-match', 'content-type']) assert.ok(allowed.includes(name), `${name} in ${allowed}`);
    assert.match(preflight.headers.get('access-control-allow-methods') ?? '', /POST/);

    const actual = await post('/ofrep/v1/evaluate/flags', {}, json(SDK, { origin: 'https://app.example.com' }));
    assert.equal(actual.headers.get('access-control-allow-origin'), '*');
    assert.match((actual.headers.get('access-control-expose-headers') ?? '').toLowerCase(), /etag/);
    await actual.body?.cancel();
  });
});

describe('OFREP: configuration, ETags and ADR-0008 re-fetches', () => {
  test('GET /ofrep/v1/configuration (OFREP extension): name and capabilities, ETag and 304, a key is needed', async () => {
    const response = await fetch(`${base}/ofrep/v1/configuration`, { headers: { 'x-api-key': SDK } });
    assert.equal(response.status, 200);
    assert.match(response.headers.get('content-type') ?? '', /^application\/json/);
    const body = await response.json();
    assert.equal(body.name, 'vexil');
    assert.deepEqual(body.capabilities.cacheInvalidation.polling, { enabled: true, minPollingIntervalMs: 1000 });
    assert.deepEqual([...body.capabilities.flagEvaluation.supportedTypes].sort(), ['boolean', 'float', 'int', 'object', 'string']);
    const etag = response.headers.get('etag');
    assert.ok(etag);
    const again = await fetch(`${base}/ofrep/v1/configuration`, { headers: { 'x-api-key': SDK, 'if-none-match': etag } });
    assert.equal(again.status, 304);
    assert.equal(await again.text(), '');
    const anonymous = await fetch(`${base}/ofrep/v1/configuration`);
    assert.equal(anonymous.status, 401);
    assert.equal((await anonymous.json()).errorCode, 'GENERAL');
  });

  test('the bulk ETag depends on the context even when the answer is the same (and not on its key order)', async () => {
    const etagOf = async (context: Record<string, unknown>): Promise<string> => {
      const response = await post('/ofrep/v1/evaluate/flags', { context });
      await response.body?.cancel();
      return response.headers.get('etag')!;
    };
    const a = await etagOf({ targetingKey: 'same-user', unused: 1 });
    const b = await etagOf({ targetingKey: 'same-user', unused: 2 });
    const c = await etagOf({ unused: 1, targetingKey: 'same-user' });
    assert.notEqual(a, b, 'another context, same flags and same answer: another ETag');
    assert.equal(a, c, 'the same context written in another order');
    const other = await post('/ofrep/v1/evaluate/flags', { context: { targetingKey: 'same-user', unused: 2 } }, json(SDK, { 'if-none-match': a }));
    assert.equal(other.status, 200, 'never a 304 for another context');
    await other.body?.cancel();
  });

  test('bulk entries only carry the error codes of OFREP\'s evaluationFailure', async () => {
    const body = await (await post('/ofrep/v1/evaluate/flags', { context: {} })).json();
    const codes = body.flags.filter((flag: { errorCode?: string }) => flag.errorCode !== undefined).map((flag: { errorCode: string }) => flag.errorCode);
    assert.ok(codes.length > 0);
    for (const code of codes) assert.ok(['PARSE_ERROR', 'TARGETING_KEY_MISSING', 'INVALID_CONTEXT', 'GENERAL'].includes(code), code);
  });

  test('flagConfigEtag (ADR-0008): the current revision keeps If-None-Match working; another revision is never a 304', async () => {
    const context = { context: { targetingKey: 'refetch-user' } };
    const first = await post('/ofrep/v1/evaluate/flags', context);
    await first.body?.cancel();
    const etag = first.headers.get('etag')!;
    const revision = app.vexil.holder.revision;
    const current = await post(`/ofrep/v1/evaluate/flags?flagConfigEtag=${revision}&flagConfigLastModified=1771622898`, context, json(SDK, { 'if-none-match': etag }));
    assert.equal(current.status, 304);
    const quoted = await post(`/ofrep/v1/evaluate/flags?flagConfigEtag=${encodeURIComponent(`W/"${revision}"`)}`, context, json(SDK, { 'if-none-match': etag }));
    assert.equal(quoted.status, 304, 'a quoted or weak revision is read too');
    const older = await post(`/ofrep/v1/evaluate/flags?flagConfigEtag=${revision - 1}`, context, json(SDK, { 'if-none-match': etag }));
    assert.equal(older.status, 200);
    assert.equal(older.headers.get('etag'), etag, 'the 200 still names this answer');
    await older.body?.cancel();
    const opaque = await post('/ofrep/v1/evaluate/flags?flagConfigEtag=not-a-revision', context, json(SDK, { 'if-none-match': etag }));
    assert.equal(opaque.status, 304, 'a value that is no revision of this server changes nothing');
  });

  test('flagConfigEtag ahead of this server (the event came from a server further ahead): the answer waits for that revision', async () => {
    const revision = app.vexil.holder.revision;
    const refetch = post(`/ofrep/v1/evaluate/flags?flagConfigEtag=${revision + 1}`, { context: { targetingKey: 'ahead' } });
    await new Promise((resolve) => setTimeout(resolve, 150));
    const write = await fetch(`${base}/admin/v1/flags/number-flag`, { method: 'PATCH', headers: json(ADMIN), body: JSON.stringify({ defaultRule: { variation: 'large' } }) });
    assert.equal(write.status, 200);
    const response = await refetch;
    assert.equal(response.status, 200);
    assert.match(response.headers.get('etag') ?? '', new RegExp(`^"${revision + 1}-`), 'it waited for the write it was told about');
    const flags = (await response.json()).flags;
    assert.equal(flags.find((flag: { key: string }) => flag.key === 'number-flag').value, 50);

    // A revision this server never reaches: after the wait (a second), the current flags.
    const far = Date.now();
    const late = await post(`/ofrep/v1/evaluate/flags?flagConfigEtag=${revision + 1000}`, { context: { targetingKey: 'ahead' } });
    assert.equal(late.status, 200);
    assert.ok(Date.now() - far >= 900, 'it waited for the revision before answering');
    assert.match(late.headers.get('etag') ?? '', new RegExp(`^"${revision + 1}-`), 'then answered with the current flags');
    await late.body?.cancel();
  });

  test('a key too long to be a flag (over 256 characters) is 404 FLAG_NOT_FOUND; a long valid key works', async () => {
    const tooLong = 'k'.repeat(300);
    const response = await post(`/ofrep/v1/evaluate/flags/${tooLong}`, { context: { targetingKey: 'u' } });
    assert.equal(response.status, 404);
    assert.deepEqual(await response.json(), { key: tooLong, errorCode: 'FLAG_NOT_FOUND', errorDetails: `flag \`${tooLong}\` does not exist in this environment: check the key (keys are case-sensitive)` });
    const longKey = `long-${'é'.repeat(200)}`;
    const created = await fetch(`${base}/admin/v1/flags/${encodeURIComponent(longKey)}`, {
      method: 'PUT',
      headers: json(ADMIN),
      body: JSON.stringify({ variations: { a: 'yes' }, defaultRule: { variation: 'a' } }),
    });
    assert.equal(created.status, 201);
    const evaluated = await post(`/ofrep/v1/evaluate/flags/${encodeURIComponent(longKey)}`, {});
    assert.equal(evaluated.status, 200);
    assert.equal((await evaluated.json()).value, 'yes');
    const deleted = await fetch(`${base}/admin/v1/flags/${encodeURIComponent(longKey)}`, { method: 'DELETE', headers: { 'x-api-key': ADMIN } });
    assert.equal(deleted.status, 200);
  });

  test('a path that is not valid percent-encoding is a 400 in the route\'s own error shape', async () => {
    const ofrep = await post('/ofrep/v1/evaluate/flags/%E0%A4%A', {});
    assert.equal(ofrep.status, 400);
    assert.equal((await ofrep.json()).errorCode, 'INVALID_CONTEXT');
    const admin = await fetch(`${base}/admin/v1/flags/%E0%A4%A`, { headers: { 'x-api-key': ADMIN } });
    assert.equal(admin.status, 400);
    assert.equal((await admin.json()).error, 'bad_request');
  });
});
