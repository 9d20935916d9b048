// Pure parts: the SSE parser, flag state diffs, the snapshot file, offline evaluation through OpenFeature.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { OpenFeature } from '@openfeature/server-sdk';
import { SseParser, VexilProvider, readSnapshotFile, writeSnapshotFile } from '@vexil/openfeature';
import { FlagState } from '../src/state.js';

test('SSE parser: any chunking, CRLF/CR/LF, comments, multi-line data, ids that persist, retry', () => {
  const stream = ': heartbeat\r\nevent: snapshot\r\nid: 3\r\ndata: {"a":\r\ndata: 1}\r\n\r\nevent: put\nid: 4\nretry: 250\ndata: x\n\ndata: y\r\r';
  for (const size of [1, 2, 3, 7, stream.length]) {
    const parser = new SseParser();
    const events = [];
    for (let i = 0; i < stream.length; i += size) events.push(...parser.push(stream.slice(i, i + size)));
    assert.deepEqual(events, [
      { event: 'snapshot', data: '{"a":\n1}', id: '3' },
      { event: 'put', data: 'x', id: '4', retry: 250 },
      { event: 'message', data: 'y', id: '4' },
    ], `chunk size ${size}`);
  }
});

test('flag state: flagsChanged lists added, changed, removed flags and flags using a changed segment', () => {
  const state = new FlagState();
  const flag = (on: boolean, query?: string) => ({
    variations: { on: true, off: false },
    ...(query ? { targeting: [{ query, variation: 'on' }] } : {}),
    defaultRule: { variation: on ? 'on' : 'off' },
  });
  assert.deepEqual(state.replace({ flags: { a: flag(true), b: flag(false), s: flag(false, '@beta') }, segments: { beta: { query: 'plan eq "beta"' } }, revision: 1 }), []);
  assert.deepEqual(state.replace({ flags: { a: flag(true), b: flag(true), c: flag(true), s: flag(false, '@beta') }, segments: { beta: { query: 'plan eq "beta"' } }, revision: 2 }), ['b', 'c']);
  assert.deepEqual(state.apply({ type: 'put', key: 'a', flag: flag(true), revision: 3 }), [], 'same definition: nothing changed');
  assert.deepEqual(state.apply({ type: 'delete', key: 'c', revision: 4 }), ['c']);
  assert.equal(state.apply({ type: 'delete', key: 'b', revision: 4 }), undefined, 'replayed revision ignored');
  assert.deepEqual(state.apply({ type: 'segments', segments: { beta: { query: 'plan eq "gold"' } }, revision: 5 }), ['s']);
  assert.equal(state.revision, 5);
});

test('snapshot file: atomic write, read back, damaged file refused; offline evaluation through OpenFeature', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'vexil-of-'));
  const file = join(dir, 'nested', 'flags.json');
  const flags = { 'new-ui': { variations: { on: true, off: false }, targeting: [{ query: 'email ew "@example.com"', variation: 'on' }], defaultRule: { variation: 'off' } } };
  await writeSnapshotFile(file, { flags, segments: {}, revision: 7, versions: { 'new-ui': 2 } });
  assert.deepEqual((await readdir(join(dir, 'nested'))).filter((f) => f.endsWith('.tmp')), []);
  const back = await readSnapshotFile(file);
  assert.equal(back?.revision, 7);
  assert.deepEqual(back?.flags, flags);
  const doc = JSON.parse(await readFile(file, 'utf8'));
  doc.flags['new-ui'].flag.defaultRule.variation = 'on';
  await writeFile(join(dir, 'edited.json'), JSON.stringify(doc));
  await assert.rejects(readSnapshotFile(join(dir, 'edited.json')), /hash does not match/);
  assert.equal(await readSnapshotFile(join(dir, 'missing.json')), undefined);

  // No url and no store: the snapshot is the source, so the engine's reasons are kept.
  await OpenFeature.setProviderAndWait('units', new VexilProvider({ snapshotFile: file }));
  const client = OpenFeature.getClient('units');
  const hit = await client.getBooleanDetails('new-ui', false, { targetingKey: 'u1', email: 'a@example.com' });
  assert.equal(hit.value, true, JSON.stringify(hit));
  assert.equal(hit.variant, 'on');
  assert.equal(hit.reason, 'TARGETING_MATCH');
  const mismatch = await client.getStringDetails('new-ui', 'x', { targetingKey: 'u1' });
  assert.equal(mismatch.value, 'x');
  assert.equal(mismatch.errorCode, 'TYPE_MISMATCH');
  await OpenFeature.clearProviders();
  await rm(dir, { recursive: true, force: true });
});

test('pollIntervalMs 0 never polls: the flags are fetched once, with no request loop (stream off, or a server without one)', async () => {
  for (const stream of [false, true]) {
    const requests: string[] = [];
    const fetch = (async (url: string) => {
      requests.push(new URL(url).pathname);
      if (url.endsWith('/v1/stream')) return new Response('not here', { status: 404 });
      const body = { flags: { f: { variations: { a: 'A' }, defaultRule: { variation: 'a' } } } };
      return new Response(JSON.stringify(body), { status: 200, headers: { 'content-type': 'application/json' } });
    }) as unknown as typeof globalThis.fetch;
    const provider = new VexilProvider({ url: 'http://vexil.test', stream, pollIntervalMs: 0, fetch, events: false, reconnect: { initialDelayMs: 10, maxDelayMs: 20 } });
    await provider.initialize();
    assert.equal(provider.resolve('f', '', {}, 'string').value, 'A');
    await new Promise((resolve) => setTimeout(resolve, 300));
    assert.deepEqual(requests, stream ? ['/v1/stream', '/v1/flag/configuration'] : ['/v1/flag/configuration'], `stream ${stream}`);
    await provider.onClose();
  }
});
