// Raw event export: the JSON-lines file rotates by size (nothing lost across files), and the webhook exporter POSTs
// batches signed like notifications, retrying a failed delivery.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { createServer } from 'node:http';
import { mkdtemp, readFile, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { eventually, fixtureServer, json } from './helpers.js';

const feature = (i: number) => ({ kind: 'feature', key: 'f', variation: 'on', userKey: `user-${i}`, creationDate: Math.floor(Date.now() / 1000), value: true });

describe('raw event export', () => {
  it('rotates the JSON-lines file by size, keeping every event across the files', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'vexil-export-'));
    const file = join(dir, 'events.jsonl');
    const app = await fixtureServer({ eventsFile: file, eventsFileRotation: { size: '2K', interval: '1d', maxFiles: 100 } });
    try {
      for (let batch = 0; batch < 10; batch++) {
        const events = Array.from({ length: 10 }, (_, i) => feature(batch * 10 + i));
        assert.equal((await app.inject({ method: 'POST', url: '/v1/data/collector', headers: json(), payload: { events } })).statusCode, 200);
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
    } finally {
      await app.close();
    }
    try {
      const files = (await readdir(dir)).filter((name) => name.endsWith('.jsonl')).sort();
      assert.ok(files.length >= 3, `rotated into several files: ${files.join(', ')}`);
      assert.ok(files.includes('events.jsonl'));
      assert.ok(files.some((name) => /^events\.\d{8}T\d{6}Z-\d+\.jsonl$/.test(name)), files.join(', '));
      const users = new Set<string>();
      for (const name of files)
        for (const line of (await readFile(join(dir, name), 'utf8')).split('\n').filter(Boolean)) users.add((JSON.parse(line) as { userKey: string }).userKey);
      assert.equal(users.size, 100);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('POSTs batches of { meta, events } signed with X-Hub-Signature-256, and retries a failed delivery', async () => {
    const secret = 'warehouse-secret';
    const received: { events: unknown[]; meta: unknown }[] = [];
    let failures = 1;
    const server = createServer((request, response) => {
      let body = '';
      request.on('data', (chunk) => (body += chunk));
      request.on('end', () => {
        const expected = `sha256=${createHmac('sha256', secret).update(body).digest('hex')}`;
        if (request.headers['x-hub-signature-256'] !== expected) return response.writeHead(401).end();
        if (failures-- > 0) return response.writeHead(503).end();
        received.push(JSON.parse(body));
        response.writeHead(200).end('{}');
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const url = `http://127.0.0.1:${(server.address() as { port: number }).port}/ingest`;
    const app = await fixtureServer({ eventsWebhook: { url, secret, batchSize: 25, flushIntervalMs: 50, retryDelayMs: 20 } });
    try {
      const events = Array.from({ length: 60 }, (_, i) => feature(i));
      events.push({ kind: 'tracking', key: 'request', userKey: 'user-1', creationDate: Math.floor(Date.now() / 1000), trackingEventDetails: { value: 12 } } as never);
      await app.inject({ method: 'POST', url: '/v1/data/collector', headers: json(), payload: { events } });
      await eventually(() => received.reduce((sum, body) => sum + body.events.length, 0) === 61, 15_000);
      assert.ok(received.every((body) => body.events.length <= 25));
      assert.match((await app.inject({ method: 'GET', url: '/metrics' })).body, /vexil_events_exported_total\{outcome="retry"\} 25/);
    } finally {
      await app.close();
      server.close();
    }
  });
});
