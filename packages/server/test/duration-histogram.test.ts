import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { Histogram, Registry } from 'prom-client';
import { DurationHistogram } from '../src/metrics/duration-histogram.js';

const BOUNDS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5];
const LABELS = ['method', 'route', 'status'] as const;

/** The same observations into prom-client's histogram and into ours: the scraped texts. */
async function bothTexts(observations: Array<{ series: [string, string, string]; value: number }>): Promise<[string, string]> {
  const theirs = new Registry();
  const reference = new Histogram({ name: 'x_seconds', help: 'h', labelNames: LABELS, buckets: BOUNDS, registers: [theirs] });
  const ours = new Registry();
  const histogram = new DurationHistogram('x_seconds', 'h', LABELS, BOUNDS, ours);
  for (const { series, value } of observations) {
    reference.observe({ method: series[0], route: series[1], status: series[2] }, value);
    histogram.series(...series).observe(value);
  }
  return [await theirs.metrics(), await ours.metrics()];
}

describe('DurationHistogram (the request-duration metric)', () => {
  test('prints what prom-client prints for the same observations, bucket edges included', async () => {
    const edges = BOUNDS.flatMap((bound) => [bound, bound * 0.999, bound * 1.001]);
    const observations = [...edges, 0, 3, 1000].map((value, index) => ({
      series: (index % 3 === 0 ? ['POST', '/ofrep/v1/evaluate/flags/:key', '200'] : ['GET', '/health', index % 2 ? '200' : '503']) as [string, string, string],
      value,
    }));
    const [theirs, ours] = await bothTexts(observations);
    assert.equal(ours, theirs);
    assert.match(ours, /x_seconds_bucket\{le="0\.0025",method="POST",route="\/ofrep\/v1\/evaluate\/flags\/:key",status="200"\} \d+/);
  });

  test('any observations: the same text as prom-client (property)', async () => {
    const series = fc.constantFrom<[string, string, string]>(['POST', '/a', '200'], ['POST', '/a', '400'], ['GET', '/b', '200']);
    await fc.assert(
      fc.asyncProperty(fc.array(fc.record({ series, value: fc.double({ min: 0, max: 10, noNaN: true }) }), { maxLength: 60 }), async (observations) => {
        const [theirs, ours] = await bothTexts(observations);
        assert.equal(ours, theirs);
      }),
      { numRuns: 200 },
    );
  });

  test('reset empties every series; a value that is not a number is not counted', async () => {
    const registry = new Registry();
    const histogram = new DurationHistogram('y_seconds', 'h', LABELS, BOUNDS, registry);
    const series = histogram.series('GET', '/', '200');
    series.observe(0.002);
    series.observe(Number.NaN);
    assert.match(await registry.metrics(), /y_seconds_count\{method="GET",route="\/",status="200"\} 1$/m);
    registry.resetMetrics();
    assert.match(await registry.metrics(), /y_seconds_count\{method="GET",route="\/",status="200"\} 0$/m);
    assert.match(await registry.metrics(), /y_seconds_bucket\{le="\+Inf",method="GET",route="\/",status="200"\} 0$/m);
  });
});
