// A hand-rolled timing loop: per-call timers (as tinybench takes) would cost more than the evaluations measured
// here. Each case gets its own freshly compiled loop (`new Function`), so the evaluation call inside it is
// monomorphic and every library gets the same chance of being inlined; results are compared with a probe value
// and counted, so the JIT cannot drop the calls.

type Evaluate = (context: unknown) => unknown;
type SyncLoop = (evaluate: Evaluate, contexts: readonly unknown[], n: number, probe: unknown) => number;
type AsyncLoop = (evaluate: Evaluate, contexts: readonly unknown[], n: number, probe: unknown) => Promise<number>;

const loopBody = (awaitKeyword: string) => `
  let hits = 0;
  let j = 0;
  const length = contexts.length;
  for (let i = 0; i < n; i++) {
    if ((${awaitKeyword} evaluate(contexts[j])) === probe) hits++;
    if (++j === length) j = 0;
  }
  return hits;`;

const AsyncFunction = Object.getPrototypeOf(async () => {}).constructor as new (...args: string[]) => AsyncLoop;

function freshSyncLoop(): SyncLoop {
  return new Function('evaluate', 'contexts', 'n', 'probe', loopBody('')) as SyncLoop;
}

function freshAsyncLoop(): AsyncLoop {
  return new AsyncFunction('evaluate', 'contexts', 'n', 'probe', loopBody('await'));
}

export interface TimingOptions {
  /** Minimum time spent warming up (and calibrating) before measuring, in ms. */
  warmupMs: number;
  /** Target duration of one measured round, in ms. */
  roundMs: number;
  /** Number of measured rounds; the median is reported. */
  rounds: number;
}

export const DEFAULT_TIMING: TimingOptions = { warmupMs: 300, roundMs: 80, rounds: 9 };

export interface Measurement {
  /** Median ns per evaluation over the rounds. */
  median: number;
  min: number;
  max: number;
  /** Evaluations per round. */
  iterations: number;
  rounds: number[];
}

/** Keeps every loop's result alive. */
let sink = 0;
export function sinkValue(): number {
  return sink;
}

const now = () => process.hrtime.bigint();

export function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2;
}

export interface TimedCase {
  evaluate: (context: never) => unknown;
  contexts: readonly unknown[];
  probe: unknown;
  async: boolean;
}

interface Runner {
  /** Runs `n` evaluations and returns the elapsed ns. */
  run(n: number): Promise<number>;
  iterations: number;
  rounds: number[];
}

function runnerFor(timed: TimedCase): Runner {
  const fn = timed.evaluate as Evaluate;
  const { contexts, probe } = timed;
  const syncLoop = timed.async ? undefined : freshSyncLoop();
  const asyncLoop = timed.async ? freshAsyncLoop() : undefined;
  return {
    async run(n) {
      const start = now();
      sink += syncLoop ? syncLoop(fn, contexts, n, probe) : await asyncLoop!(fn, contexts, n, probe);
      return Number(now() - start);
    },
    iterations: 0,
    rounds: [],
  };
}

/** Warms a case up while growing its batch until one batch is a sizeable part of a round; sets its round size. */
async function warmUp(runner: Runner, options: TimingOptions): Promise<void> {
  let n = 64;
  let lastNs = 0;
  const warmupEnd = now() + BigInt(Math.round(options.warmupMs * 1e6));
  for (;;) {
    lastNs = await runner.run(n);
    if (lastNs < (options.roundMs * 1e6) / 4) n *= 2;
    else if (now() >= warmupEnd) break;
  }
  runner.iterations = Math.max(1, Math.round((n * options.roundMs * 1e6) / lastNs));
}

/**
 * Times several cases (one scenario on every library): each is warmed up and calibrated, then the measured rounds
 * are interleaved (round 1 of every case, then round 2…), so a noisy moment on the machine does not land on one
 * library only. Returns one measurement per case, in order.
 */
export async function measureInterleaved(cases: readonly TimedCase[], options: TimingOptions = DEFAULT_TIMING): Promise<Measurement[]> {
  const runners = cases.map(runnerFor);
  for (const runner of runners) await warmUp(runner, options);
  for (let round = 0; round < options.rounds; round++) {
    for (const runner of runners) runner.rounds.push((await runner.run(runner.iterations)) / runner.iterations);
  }
  return runners.map(({ rounds, iterations }) => ({
    median: median(rounds),
    min: Math.min(...rounds),
    max: Math.max(...rounds),
    iterations,
    rounds,
  }));
}
