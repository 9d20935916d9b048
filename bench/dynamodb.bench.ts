// `npm run bench -- dynamodb`: the DynamoDB store against dynalite (in memory, in this process): write throughput,
// a 50-writer race, list() of 1,000 flags, and change-feed latency (another store object polling, and the writing
// object's own watcher). dynalite answers faster than DynamoDB over a network (~5-10 ms a request in-region): read
// these as the store's own cost, not AWS's. Then the change feed's latency on AWS's DynamoDB Local (started here; it
// needs Java), which serves DynamoDB Streams: by the stream, and by polling every 1,000 ms, in the same run.
import type { AddressInfo } from 'node:net';
import type { Server } from 'node:http';
import { randomBytes } from 'node:crypto';
import dynalite from 'dynalite';
import { openStore, type FlagStore, type FlagDefinition } from '@vexil/store';
import { dynamoLocalEndpoint, stopDynamoLocal } from '../packages/store/test/dynamodb-local.js';

process.env.AWS_ACCESS_KEY_ID ??= 'bench';
process.env.AWS_SECRET_ACCESS_KEY ??= 'bench';
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';

const flag = (n: number): FlagDefinition => ({ variations: { on: true, off: false }, defaultRule: { variation: n % 2 ? 'on' : 'off' }, metadata: { n } });
const median = (values: number[]) => [...values].sort((a, b) => a - b)[values.length >> 1]!;

export async function run(): Promise<void> {
  const server = dynalite({ createTableMs: 0 }) as Server;
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const endpoint = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const url = (poll: number) => `dynamodb://vexil-bench-${randomBytes(3).toString('hex')}?region=eu-west-1&endpoint=${encodeURIComponent(endpoint)}&poll=${poll}`;
  const rows: Array<[string, string]> = [];
  try {
    const table = url(1000);
    const store = await openStore(table);
    const second = await openStore(table);
    let t = performance.now();
    const writes = 300;
    for (let i = 0; i < writes; i++) await store.put(`f-${i % 100}`, flag(i), { actor: 'bench' });
    let ms = performance.now() - t;
    rows.push(['sequential put', `${((writes / ms) * 1000).toFixed(0)} writes/s (${(ms / writes).toFixed(2)} ms each)`]);

    t = performance.now();
    await Promise.all(Array.from({ length: 100 }, (_, i) => (i % 2 ? second : store).put(`c-${i}`, flag(i), { actor: 'bench' })));
    ms = performance.now() - t;
    rows.push(['100 concurrent puts, 2 store objects', `${((100 / ms) * 1000).toFixed(0)} writes/s (${ms.toFixed(0)} ms)`]);

    const race: number[] = [];
    for (let round = 0; round < 3; round++) {
      const read = (await store.get('f-0'))!;
      t = performance.now();
      await Promise.allSettled(Array.from({ length: 50 }, (_, i) => (i % 2 ? second : store).put('f-0', flag(i), { actor: 'bench', expectedVersion: read.version })));
      race.push(performance.now() - t);
    }
    rows.push(['50 writers racing on one flag (1 wins)', `${median(race).toFixed(0)} ms a round (median of 3)`]);

    for (let i = 200; i < 1000; i += 50) await Promise.all(Array.from({ length: 50 }, (_, j) => store.put(`bulk-${i + j}`, flag(j), { actor: 'bench' })));
    const lists: number[] = [];
    for (let i = 0; i < 5; i++) {
      t = performance.now();
      await second.list();
      lists.push(performance.now() - t);
    }
    rows.push([`list() of ${(await store.list()).flags.length} flags`, `${median(lists).toFixed(0)} ms (median of 5)`]);

    for (const [label, watcher, writer] of [
      ['change feed, another store object (poll 1,000 ms)', second, store],
      ['change feed, the writing object (woken by its write)', store, store],
    ] as Array<[string, FlagStore, FlagStore]>) {
      rows.push([label, await feedLatency(watcher, writer)]);
    }
    await store.close();
    await second.close();
  } finally {
    server.close();
  }
  try {
    const local = await dynamoLocalEndpoint();
    for (const [label, params] of [
      ['DynamoDB Local: change feed by DynamoDB Streams (another store object)', 'feed=streams&poll=60000'],
      ['DynamoDB Local: change feed by polling every 1,000 ms (another store object)', 'feed=poll&poll=1000'],
    ] as Array<[string, string]>) {
      const table = `dynamodb://vexil-bench-${randomBytes(3).toString('hex')}?region=eu-west-1&endpoint=${encodeURIComponent(local)}&${params}`;
      const writer = await openStore(table);
      const watcher = await openStore(table);
      rows.push([label, await feedLatency(watcher, writer, params.startsWith('feed=streams'))]);
      await writer.close();
      await watcher.close();
    }
  } catch (error) {
    rows.push(['DynamoDB Local', `not measured: ${(error as Error).message}`]);
  } finally {
    await stopDynamoLocal();
  }
  const width = Math.max(...rows.map(([label]) => label.length));
  for (const [label, value] of rows) console.log(`${label.padEnd(width)}  ${value}`);
}

/** Write start → event at `watcher`, eight writes at random moments: median and max. */
async function feedLatency(watcher: FlagStore, writer: FlagStore, expectStream = false): Promise<string> {
  const latencies: number[] = [];
  const controller = new AbortController();
  const seen = new Map<number, number>();
  const watching = (async () => {
    for await (const event of watcher.watch({ signal: controller.signal })) seen.set(event.revision, performance.now());
  })();
  await new Promise((resolve) => setTimeout(resolve, 200));
  // A stream is read from its first reading on: wait for it, as a server's watchers would have long before a write.
  for (let waited = 0; expectStream && (watcher as { changeFeed?: string }).changeFeed !== 'streams' && waited < 100; waited++)
    await new Promise((resolve) => setTimeout(resolve, 100));
  for (let i = 0; i < 8; i++) {
    const start = performance.now();
    const { revision } = await writer.put('latency', flag(i), { actor: 'bench' });
    while (!seen.has(revision)) await new Promise((resolve) => setTimeout(resolve, 1));
    latencies.push(seen.get(revision)! - start);
    // Decorrelated from the poll: a write lands anywhere in the interval.
    await new Promise((resolve) => setTimeout(resolve, Math.random() * 1000));
  }
  controller.abort();
  await watching;
  return `median ${median(latencies).toFixed(0)} ms, max ${Math.max(...latencies).toFixed(0)} ms (write start → event)`;
}
