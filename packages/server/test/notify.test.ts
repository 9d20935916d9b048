import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import { createServer as createNetServer, type AddressInfo, type Socket } from 'node:net';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { resolveServeConfig, type NotificationBody, type ServerOptions } from '@vexil/server';
import { ADMIN, eventually, fixtureServer, json, sleep } from './helpers.js';

interface Received {
  headers: IncomingHttpHeaders;
  raw: string;
  body: unknown;
}

/** A local HTTP receiver on 127.0.0.1 (random port). `failFirst` requests answer 500. */
async function receiver(options: { failFirst?: number } = {}): Promise<{ url: string; received: Received[]; attempts: () => number; close: () => Promise<void> }> {
  const received: Received[] = [];
  let attempts = 0;
  const server: Server = createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => {
      attempts++;
      if (attempts <= (options.failFirst ?? 0)) {
        response.writeHead(500).end('not now');
        return;
      }
      const raw = Buffer.concat(chunks).toString('utf8');
      received.push({ headers: request.headers, raw, body: JSON.parse(raw) });
      response.writeHead(204).end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  if (!address || typeof address !== 'object') throw new Error('no address');
  return {
    url: `http://127.0.0.1:${address.port}/hook`,
    received,
    attempts: () => attempts,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

const cleanups: Array<() => Promise<void>> = [];
after(async () => {
  for (const cleanup of cleanups.reverse()) await cleanup().catch(() => undefined);
});

async function serverWith(options: Partial<ServerOptions>): Promise<FastifyInstance> {
  const app = await fixtureServer(options);
  cleanups.push(() => app.close());
  return app;
}

async function started(options: { failFirst?: number } = {}) {
  const r = await receiver(options);
  cleanups.push(r.close);
  return r;
}

const flag = (variation: 'yes' | 'no' = 'yes') => ({ variations: { yes: true, no: false }, defaultRule: { variation } });
const write = (app: FastifyInstance, method: 'PUT' | 'POST' | 'DELETE', url: string, payload?: unknown, headers: Record<string, string> = {}) =>
  app.inject({ method, url, headers: json(ADMIN, headers), ...(payload === undefined ? {} : { payload: JSON.stringify(payload) }) });

const hmac = (secret: string, raw: string) => `sha256=${createHmac('sha256', secret).update(raw).digest('hex')}`;

async function counter(app: FastifyInstance, outcome: string): Promise<number> {
  const text = (await app.inject({ method: 'GET', url: '/metrics' })).body;
  let total = 0;
  for (const line of text.split('\n')) {
    if (line.startsWith('vexil_notifications_total{') && line.includes(`outcome="${outcome}"`)) total += Number(line.split(' ').pop());
  }
  return total;
}

describe('notifications', () => {
  test('webhook: signed GOFF-shaped body for create, update, toggle and delete; Slack text', async () => {
    const hook = await started();
    const slack = await started();
    const app = await serverWith({
      notifiers: [
        { kind: 'webhook', url: hook.url, secret: 's3cret', headers: { 'x-team': 'flags' }, meta: { env: 'test' } },
        { kind: 'slack', url: slack.url },
      ],
      notifyOptions: { batchMs: 30, retryDelayMs: 10, hostname: 'test-host' },
    });
    assert.deepEqual(app.vexil.notifier?.targets, [`webhook:${new URL(hook.url).host}`, `slack:${new URL(slack.url).host}`]);

    const next = async (count: number): Promise<{ received: Received; body: NotificationBody }> => {
      await eventually(() => hook.received.length >= count);
      const received = hook.received[count - 1]!;
      return { received, body: received.body as NotificationBody };
    };

    // create → added
    assert.equal((await write(app, 'PUT', '/admin/v1/flags/notify-1', flag('yes'), { 'x-vexil-reason': 'launch' })).statusCode, 201);
    const created = await next(1);
    assert.equal(created.received.headers['x-hub-signature-256'], hmac('s3cret', created.received.raw));
    assert.equal(created.received.headers['content-type'], 'application/json');
    assert.equal(created.received.headers['x-team'], 'flags');
    assert.deepEqual(created.body.meta, { env: 'test', hostname: 'test-host' });
    assert.deepEqual(created.body.flags, { added: { 'notify-1': flag('yes') }, updated: {}, deleted: {} });
    assert.equal(created.body.actor, 'config admin key 1 (config-admin-1)');
    assert.equal(created.body.reason, 'launch');
    assert.equal(typeof created.body.revision, 'number');
    assert.ok(!Number.isNaN(Date.parse(created.body.at)));
    assert.deepEqual(
      created.body.changes.map(({ key, action }) => ({ key, action })),
      [{ key: 'notify-1', action: 'create' }],
    );

    // update → updated with old and new values
    assert.equal((await write(app, 'PUT', '/admin/v1/flags/notify-1', { flag: flag('no'), reason: 'too early' })).statusCode, 200);
    const updated = await next(2);
    assert.equal(updated.received.headers['x-hub-signature-256'], hmac('s3cret', updated.received.raw));
    assert.deepEqual(updated.body.flags, { added: {}, updated: { 'notify-1': { old_value: flag('yes'), new_value: flag('no') } }, deleted: {} });
    assert.equal(updated.body.reason, 'too early');
    assert.ok(updated.body.revision > created.body.revision);

    // toggle → updated, with disable
    assert.equal((await write(app, 'POST', '/admin/v1/flags/notify-1/toggle', { reason: 'incident' })).statusCode, 200);
    const toggled = await next(3);
    assert.deepEqual(toggled.body.flags.updated['notify-1'], { old_value: flag('no'), new_value: { ...flag('no'), disable: true } });
    assert.equal(toggled.body.reason, 'incident');

    // delete → deleted with the last value
    assert.equal((await write(app, 'DELETE', '/admin/v1/flags/notify-1', { reason: 'cleanup' })).statusCode, 200);
    const deleted = await next(4);
    assert.deepEqual(deleted.body.flags, { added: {}, updated: {}, deleted: { 'notify-1': { ...flag('no'), disable: true } } });
    assert.equal(deleted.body.changes[0]!.action, 'delete');

    // Slack: one short text per notification, no signature.
    await eventually(() => slack.received.length >= 4);
    const texts = slack.received.map((received) => (received.body as { text: string }).text);
    assert.deepEqual(Object.keys(slack.received[0]!.body as object), ['text']);
    assert.equal(slack.received[0]!.headers['x-hub-signature-256'], undefined);
    assert.match(texts[0]!, /^Vexil: flag change on test-host \(revision \d+\)\n• `notify-1` created\nby config admin key 1 \(config-admin-1\) — “launch”$/);
    assert.match(texts[1]!, /• `notify-1` updated \(defaultRule\)\n/);
    assert.match(texts[2]!, /• `notify-1` disabled\nby config admin key 1 \(config-admin-1\) — “incident”$/);
    assert.match(texts[3]!, /• `notify-1` deleted\n/);
    await eventually(async () => (await counter(app, 'sent')) === 8);
    assert.equal(hook.received.length, 4);
  });

  test('changes within the batch window are sent as one notification', async () => {
    const hook = await started();
    const app = await serverWith({ notifiers: [{ kind: 'webhook', url: hook.url }], notifyOptions: { batchMs: 300 } });
    await write(app, 'PUT', '/admin/v1/flags/batch-a', flag('yes'), { 'x-vexil-reason': 'one' });
    await write(app, 'PUT', '/admin/v1/flags/batch-b', flag('yes'), { 'x-vexil-reason': 'two' });
    await write(app, 'PUT', '/admin/v1/flags/batch-a', flag('no'));
    await write(app, 'PUT', '/admin/v1/flags/bool-flag', flag('no'));
    await eventually(() => hook.received.length >= 1);
    await sleep(500);
    assert.equal(hook.received.length, 1);
    const body = hook.received[0]!.body as NotificationBody;
    assert.equal(hook.received[0]!.headers['x-hub-signature-256'], undefined);
    assert.deepEqual(body.flags.added, { 'batch-a': flag('no'), 'batch-b': flag('yes') });
    assert.deepEqual(Object.keys(body.flags.updated), ['bool-flag']);
    assert.deepEqual(body.flags.updated['bool-flag']!.new_value, flag('no'));
    assert.equal(body.flags.updated['bool-flag']!.old_value.defaultRule?.variation, 'off');
    assert.deepEqual(
      body.changes.map(({ key, action }) => `${action} ${key}`),
      ['create batch-a', 'create batch-b', 'update batch-a', 'update bool-flag'],
    );
    assert.equal(body.reason, 'one; two');
    assert.equal(body.revision, Math.max(...body.changes.map((change) => change.revision)));
  });

  test('a failing receiver is retried with backoff', async () => {
    const hook = await started({ failFirst: 2 });
    const app = await serverWith({ notifiers: [{ kind: 'webhook', url: hook.url, name: 'flaky' }], notifyOptions: { batchMs: 10, retryDelayMs: 20 } });
    await write(app, 'PUT', '/admin/v1/flags/retry-1', flag('yes'));
    await eventually(() => hook.received.length === 1);
    assert.equal(hook.attempts(), 3);
    assert.deepEqual(Object.keys((hook.received[0]!.body as NotificationBody).flags.added), ['retry-1']);
    // The receiver has the body a moment before the sender has the answer.
    const metrics = await eventually(async () => {
      const text = (await app.inject({ method: 'GET', url: '/metrics' })).body;
      return text.includes('outcome="sent"') ? text : undefined;
    });
    assert.match(metrics, /vexil_notifications_total\{target="flaky",outcome="retry"\} 2/);
    assert.match(metrics, /vexil_notifications_total\{target="flaky",outcome="sent"\} 1/);
  });

  test('a write does not wait for its notification: acknowledged while the target holds the request unanswered', { timeout: 30_000 }, async () => {
    // A target that accepts the connection and never answers: a write that waited for it would never be acknowledged.
    const sockets = new Set<Socket>();
    const silent = createNetServer((socket) => sockets.add(socket));
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
    const port = (silent.address() as AddressInfo).port;
    const app = await serverWith({
      notifiers: [{ kind: 'webhook', url: `http://127.0.0.1:${port}/hook` }],
      notifyOptions: { batchMs: 5, retries: 0, timeoutMs: 60_000 },
    });
    cleanups.push(async () => {
      for (const socket of sockets) socket.destroy();
      await new Promise((resolve) => silent.close(resolve));
    });
    assert.equal((await write(app, 'PUT', '/admin/v1/flags/held-1', flag('yes'))).statusCode, 201);
    await eventually(() => sockets.size >= 1, 15_000);
    assert.equal((await write(app, 'PUT', '/admin/v1/flags/held-2', flag('no'))).statusCode, 201, 'acknowledged while the first notification is unanswered');
    assert.equal(await counter(app, 'sent'), 0);
    assert.equal(await counter(app, 'failed'), 0, 'the notification is still waiting for its answer');
  });

  test('an unreachable target neither blocks nor crashes the server; a full queue drops the oldest', async () => {
    const app = await serverWith({
      notifiers: [{ kind: 'webhook', url: 'http://127.0.0.1:1/hook' }],
      notifyOptions: { batchMs: 5, retries: 2, retryDelayMs: 150, queueSize: 1, timeoutMs: 500 },
    });
    for (let i = 0; i < 4; i++) {
      assert.equal((await write(app, 'PUT', `/admin/v1/flags/down-${i}`, flag('yes'))).statusCode, 201);
      await sleep(40);
    }
    assert.equal((await app.inject({ method: 'GET', url: '/health' })).statusCode, 200);
    await eventually(async () => (await counter(app, 'dropped')) >= 1, 15_000);
    await eventually(async () => (await counter(app, 'failed')) >= 2, 15_000);
    assert.equal(await counter(app, 'sent'), 0);
  });

  test('notify: false sends nothing; configuration from flags, environment and the config file', async () => {
    const hook = await started();
    const app = await serverWith({ notifiers: [{ kind: 'webhook', url: hook.url }], notify: false, notifyOptions: { batchMs: 5 } });
    assert.equal(app.vexil.notifier, undefined);
    await write(app, 'PUT', '/admin/v1/flags/quiet', flag('yes'));
    await sleep(100);
    assert.equal(hook.attempts(), 0);

    const fromCli = await resolveServeConfig(
      { notifyWebhook: ['http://a.example/1', 'http://b.example/2'], notify: false },
      { VEXIL_NOTIFY_SECRET: 'k', VEXIL_NOTIFY_SLACK: 'https://hooks.slack.example/services/x' },
    );
    assert.equal(fromCli.notify, false);
    assert.deepEqual(fromCli.notifiers, [
      { kind: 'webhook', url: 'http://a.example/1', secret: 'k' },
      { kind: 'webhook', url: 'http://b.example/2', secret: 'k' },
      { kind: 'slack', url: 'https://hooks.slack.example/services/x' },
    ]);
    const fromEnv = await resolveServeConfig({}, { VEXIL_NOTIFY_WEBHOOKS: 'http://a.example/1,http://c.example/3', VEXIL_NOTIFY: 'true' });
    assert.equal(fromEnv.notify, true);
    assert.deepEqual(fromEnv.notifiers.map((target) => target.url), ['http://a.example/1', 'http://c.example/3']);
    assert.deepEqual((await resolveServeConfig({}, {})).notifiers, []);

    const dir = await mkdtemp(join(tmpdir(), 'vexil-notify-'));
    try {
      const file = join(dir, 'vexil.yaml');
      await writeFile(
        file,
        [
          'notify: false',
          'notifiers:',
          '  - kind: webhook',
          '    url: https://hooks.example.com/vexil',
          '    secret: abc',
          '    headers: { Authorization: Bearer t }',
          '  - kind: slack',
          '    url: https://hooks.slack.example/services/y',
        ].join('\n'),
      );
      const fromFile = await resolveServeConfig({ config: file }, {});
      assert.equal(fromFile.notify, false);
      assert.deepEqual(fromFile.notifiers, [
        { kind: 'webhook', url: 'https://hooks.example.com/vexil', secret: 'abc', headers: { Authorization: 'Bearer t' } },
        { kind: 'slack', url: 'https://hooks.slack.example/services/y' },
      ]);
      await writeFile(file, 'notifiers:\n  - kind: email\n    url: https://x.example\n');
      await assert.rejects(resolveServeConfig({ config: file }, {}), /notifiers\[0\]\.kind must be webhook or slack/);
      await assert.rejects(resolveServeConfig({ notifyWebhook: ['ftp://x'] }, {}), /http/);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
