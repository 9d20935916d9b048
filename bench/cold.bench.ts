// Cold start: a fresh Node process per measurement, from the first `import` to the first evaluation's result
// (reading the flags from a file included), for Vexil (core, direct client, OpenFeature provider) and its peers,
// interleaved in the same run. Runs on the built packages (dist), as an app would: `npm run bench -- cold`.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { writeSnapshotFile } from '@vexil/openfeature';
import { flagdFlags, growthbookFeatures, launchDarklyFlags, vexilFlags } from './openfeature/flags.js';

const here = dirname(fileURLToPath(import.meta.url));
const RUNS = Number(process.env.COLD_RUNS ?? 15);

const CONTENDERS = [
  ['vexil-core', 'Vexil `@vexil/core/json`: compileFlags (JSON file) + evaluate', 15],
  ['vexil-client', 'Vexil direct client (`@vexil/openfeature/client`) from a snapshot file', 25],
  ['vexil-provider', 'Vexil OpenFeature provider + `@openfeature/server-sdk`, from a snapshot file', 25],
  ['growthbook', 'GrowthBook `GrowthBookClient` (features file, initSync) + isOn', undefined],
  ['flagd-core', 'flagd-core `FlagdCore` (configuration file) + resolveBooleanEvaluation', undefined],
  ['launchdarkly', 'LaunchDarkly node-server-sdk (file data source) + boolVariation', undefined],
] as const;

export async function run(): Promise<void> {
  if (!existsSync(join(here, '..', 'packages', 'openfeature', 'dist', 'bundle', 'index.js'))) {
    console.log('cold start skipped: build the packages first (npm run build)');
    return;
  }
  const dir = await mkdtemp(join(tmpdir(), 'vexil-cold-bench-'));
  try {
    await writeFile(join(dir, 'vexil-flags.json'), JSON.stringify(vexilFlags));
    await writeSnapshotFile(join(dir, 'vexil-snapshot.json'), { flags: vexilFlags, segments: {}, revision: 1 });
    await writeFile(join(dir, 'growthbook-features.json'), JSON.stringify(growthbookFeatures));
    await writeFile(join(dir, 'flagd-flags.json'), JSON.stringify(flagdFlags));
    await writeFile(join(dir, 'launchdarkly-flags.json'), JSON.stringify(launchDarklyFlags));

    const samples = new Map<string, number[]>(CONTENDERS.map(([name]) => [name, []]));
    const failures = new Map<string, string>();
    // Rounds interleave the contenders, so a busy moment of the machine hits them all alike.
    for (let round = 0; round < RUNS; round++) {
      for (let i = 0; i < CONTENDERS.length; i++) {
        const [name] = CONTENDERS[(i + round) % CONTENDERS.length]!;
        if (failures.has(name)) continue;
        const child = spawnSync(process.execPath, [join(here, 'cold', 'contenders.mjs'), name, dir], { encoding: 'utf8', cwd: join(here, '..'), timeout: 30_000 });
        const line = child.stdout?.trim().split('\n').at(-1);
        if (child.status !== 0 || !line) {
          failures.set(name, (child.stderr ?? '').trim().split('\n').slice(-2).join(' ') || `exit ${child.status}`);
          continue;
        }
        const { ms, value } = JSON.parse(line) as { ms: number; value: unknown };
        // Every contender must give the right answer, or its figure means nothing.
        if (value !== true) {
          failures.set(name, `answered ${JSON.stringify(value)}, expected true`);
          continue;
        }
        samples.get(name)!.push(ms);
      }
    }
    const rows = CONTENDERS.map(([name, label, goal]) => {
      const values = samples.get(name)!.sort((a, b) => a - b);
      if (values.length === 0) return { contender: label, 'median ms': `failed: ${failures.get(name)}`, 'best ms': '', goal: '' };
      return {
        contender: label,
        'median ms': values[values.length >> 1]!.toFixed(1),
        'best ms': values[0]!.toFixed(1),
        goal: goal === undefined ? '' : `< ${goal} ms`,
      };
    });
    console.log(`cold start, first import → first evaluation, fresh Node ${process.version} process each (median and best of ${RUNS}):`);
    console.table(rows);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

if (import.meta.url === `file://${process.argv[1]}`) await run();
