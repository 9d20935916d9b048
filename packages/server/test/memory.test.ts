// Issue 9, item 7: about 200 OFREP requests of 1 MB grew `vexil serve` from 100 MB to 4 GB (the context sample kept
// every request's parsed body). The sample now keeps only small request texts, within a total: memory stays bounded
// whatever the requests. A memory bound, measured on a real `vexil serve` process; no timing is asserted.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ADMIN, FIXTURE, SDK, json, spawnServe } from './helpers.js';

/** The stated bound on the server's resident memory after the flood (it starts at about 100 MB on flag files). */
const RSS_BOUND_BYTES = 300 * 1024 * 1024;
const REQUESTS = 500;
const CONCURRENCY = 4;

async function residentBytes(base: string): Promise<number> {
  const text = await (await fetch(`${base}/metrics`)).text();
  const line = text.split('\n').find((candidate) => candidate.startsWith('vexil_process_resident_memory_bytes '));
  assert.ok(line, 'the server reports its resident memory');
  return Number(line.split(' ')[1]);
}

test(`${REQUESTS} OFREP requests with 1 MB contexts leave vexil serve under ${RSS_BOUND_BYTES / 1024 / 1024} MB resident`, async () => {
  // The heap cap keeps a regression from taking the (shared) machine's memory: the server would die instead. Events are
  // off: an embedded events store (PGlite) would add its own fixed footprint, which says nothing about the requests.
  const server = await spawnServe(['--flags', FIXTURE, '--admin-key', ADMIN, '--sdk-key', SDK, '--rate-limit', '0', '--events', 'off'], {
    NODE_OPTIONS: '--max-old-space-size=1536',
  });
  try {
    const before = await residentBytes(server.url);
    let sent = 0;
    let largest = 0;
    const worker = async (): Promise<void> => {
      while (sent < REQUESTS) {
        const n = sent++;
        // About a megabyte of distinct attributes (under the 1 MiB body limit).
        const context: Record<string, string> = { targetingKey: `user-${n}` };
        for (let i = 0; i < 19_000; i++) context[`attribute-${i}`] = `${n}-${i}-${'v'.repeat(24)}`;
        const body = JSON.stringify({ context });
        largest = Math.max(largest, body.length);
        const response = await fetch(`${server.url}/ofrep/v1/evaluate/flags/bool-flag`, { method: 'POST', headers: json(SDK), body });
        assert.equal(response.status, 200, await response.text());
        await response.arrayBuffer().catch(() => undefined);
      }
    };
    await Promise.all(Array.from({ length: CONCURRENCY }, worker));
    assert.ok(largest > 900_000, `requests of about 1 MB (${largest} bytes)`);
    const after = await residentBytes(server.url);
    console.log(`vexil serve resident memory: ${(before / 1048576).toFixed(0)} MB before, ${(after / 1048576).toFixed(0)} MB after ${REQUESTS} requests of ${(largest / 1048576).toFixed(2)} MB`);
    assert.ok(after < RSS_BOUND_BYTES, `resident memory ${(after / 1048576).toFixed(0)} MB is over the bound`);
    // The admin page's sample still works: small contexts are kept, the large ones were left out.
    await fetch(`${server.url}/ofrep/v1/evaluate/flags/bool-flag`, { method: 'POST', headers: json(SDK), body: '{"context":{"targetingKey":"small"}}' });
    const sample = await (await fetch(`${server.url}/admin/v1/flags/bool-flag/contexts`, { headers: json(ADMIN) })).json();
    assert.deepEqual(sample.contexts, [{ targetingKey: 'small' }]);
    assert.equal(sample.recorded, 1);
  } finally {
    await server.stop();
  }
});
