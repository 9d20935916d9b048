// One execution environment, as the local runner starts it: a fresh process that imports the handler (the cold
// start), invokes it, then invokes it again warm, and prints its timings as one JSON line.
const start = performance.now();
const { handler, shutdown } = await import('./handler.mjs');
const first = await handler({ userId: 'u-1', plan: 'pro' });
const cold = performance.now() - start;
const warm = [];
let last;
for (let i = 0; i < Number(process.env.WARM_INVOCATIONS ?? 200); i++) {
  const t = performance.now();
  last = await handler({ userId: `u-${i}`, plan: i % 2 ? 'pro' : 'free' });
  warm.push(performance.now() - t);
}
warm.sort((a, b) => a - b);
// Give the provider a moment to write its snapshot for the next cold start, as a function's environment would have.
await new Promise((resolve) => setTimeout(resolve, 300));
await shutdown();
console.log(JSON.stringify({ cold, processUptime: process.uptime() * 1000, first: JSON.parse(first.body), warmMedian: warm[warm.length >> 1], warmP99: warm[Math.floor(warm.length * 0.99)], last: JSON.parse(last.body) }));
