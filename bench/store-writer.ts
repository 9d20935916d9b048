// Child process of store.bench.ts: opens a store and writes changes one after another, each carrying the wall-clock
// time (ms, sub-millisecond precision) at which its write started, so the parent can measure write-to-seen latency.
// Usage: store-writer.ts <url> <count> [json options]
import { openStore } from '@vexil/store';

const [url, countText, optionsText] = process.argv.slice(2);
if (!url || !countText) {
  console.error('usage: store-writer.ts <url> <count> [json options]');
  process.exit(2);
}
const count = Number(countText);
const store = await openStore(url, optionsText ? (JSON.parse(optionsText) as Record<string, unknown>) : {});
const now = () => performance.timeOrigin + performance.now();
const pause = () => new Promise((resolve) => setTimeout(resolve, 1));
const durations: number[] = [];
try {
  for (let i = 0; i < count; i++) {
    const started = performance.now();
    await store.put(
      'bench-latency',
      { variations: { on: true, off: false }, defaultRule: { variation: i % 2 ? 'on' : 'off' }, metadata: { sentAt: now(), i } },
      { actor: 'bench-writer' },
    );
    durations.push(performance.now() - started);
    await pause(); // isolated changes, not one burst: this measures propagation, not queueing
  }
} finally {
  await store.close();
}
// The parent reads this line: how long each put() took to commit, in ms.
process.stdout.write(`${JSON.stringify({ durations })}\n`);
