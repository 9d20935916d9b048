// Serving flag files (GitOps mode: `vexil serve --flags F`, or `--store file:`): every edit is served whole.
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { openStore } from '@vexil/store';
import { buildServer } from '@vexil/server';
import { ADMIN, SDK, eventually, json } from './helpers.js';

const dirs: string[] = [];
async function tempDir(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'vexil-file-reload-'));
  dirs.push(dir);
  return dir;
}

/** `count` boolean flags `f0…`, each serving `serve`, plus a segment `staff` and a flag that uses it. */
function flagFile(count: number, serve: 'on' | 'off', staffDomain: string): string {
  let text = `$segments:\n  staff: 'email ew "${staffDomain}"'\n`;
  text += `staff-only:\n  variations: { on: true, off: false }\n  targeting:\n    - query: '@staff'\n      variation: on\n  defaultRule: { variation: off }\n`;
  for (let i = 0; i < count; i++) text += `f${i}:\n  variations: { on: true, off: false }\n  defaultRule: { variation: ${serve} }\n`;
  return text;
}

/** A pino-compatible logger that keeps every line, to check what a user reading the logs would see. */
function capturingLogger(lines: Array<Record<string, unknown>>) {
  const logger = {
    level: 'info',
    child: () => logger,
    fatal: (obj: object, msg?: string) => lines.push({ level: 'fatal', ...obj, msg }),
    error: (obj: object, msg?: string) => lines.push({ level: 'error', ...obj, msg }),
    warn: (obj: object, msg?: string) => lines.push({ level: 'warn', ...obj, msg }),
    info: (obj: object, msg?: string) => lines.push({ level: 'info', ...obj, msg }),
    debug: () => undefined,
    trace: () => undefined,
    silent: () => undefined,
  };
  return logger;
}

async function fileServer(file: string, logLines?: Array<Record<string, unknown>>): Promise<FastifyInstance> {
  const store = await openStore(`file:${file}`, { debounceMs: 20 });
  return buildServer({
    store,
    closeStore: true,
    adminKeys: [ADMIN],
    sdkKeys: [SDK],
    defaultMetrics: false,
    uiRoot: false,
    logger: logLines ? (capturingLogger(logLines) as never) : false,
  });
}

async function health(app: FastifyInstance): Promise<{ status: string; flagFiles?: { errors: number; problems: string[] } }> {
  return (await app.inject({ method: 'GET', url: '/admin/v1/health', headers: { 'x-api-key': ADMIN } })).json();
}

async function metric(app: FastifyInstance, series: string): Promise<number | undefined> {
  const text = (await app.inject({ method: 'GET', url: '/metrics' })).body;
  const line = text.split('\n').find((each) => each.startsWith(series + ' '));
  return line === undefined ? undefined : Number(line.slice(series.length + 1));
}

/** Every flag's value from OFREP bulk evaluation, for a context. */
async function served(app: FastifyInstance, context: Record<string, unknown>): Promise<Map<string, unknown>> {
  const response = await app.inject({ method: 'POST', url: '/ofrep/v1/evaluate/flags', headers: json(), payload: { context } });
  assert.equal(response.statusCode, 200);
  const body = response.json() as { flags: Array<{ key: string; value: unknown }> };
  return new Map(body.flags.map((flag) => [flag.key, flag.value]));
}

describe('Serving flag files: one edit that changes many flags', { timeout: 120_000 }, () => {
  after(async () => {
    for (const dir of dirs) await rm(dir, { recursive: true, force: true });
  });

  for (const count of [3, 500]) {
    for (const how of ['atomic rename', 'in-place rewrite'] as const) {
      it(`serves all ${count} changed flags and the changed segment (${how})`, async () => {
        const dir = await tempDir();
        const file = join(dir, 'flags.yaml');
        await writeFile(file, flagFile(count, 'off', '@old.example'));
        const app = await fileServer(file);
        try {
          const context = { targetingKey: 'u1', email: 'a@new.example' };
          const before = await served(app, context);
          assert.equal(before.size, count + 1);
          assert.equal(before.get('staff-only'), false);

          const edited = flagFile(count, 'on', '@new.example');
          if (how === 'atomic rename') {
            await writeFile(`${file}.tmp`, edited);
            await rename(`${file}.tmp`, file);
          } else {
            await writeFile(file, edited);
          }
          // Everything the edit changed is served: every flag, and the segment (staff-only now matches).
          const stale = async (): Promise<string[]> =>
            [...(await served(app, context))].filter(([, value]) => value !== true).map(([key]) => key);
          await eventually(async () => (await stale()).length === 0, 20_000).catch(async () => {
            const left = await stale();
            assert.fail(`${left.length} of ${count + 1} flag(s) still served as before the edit: ${left.slice(0, 5).join(', ')}`);
          });
        } finally {
          await app.close();
        }
      });
    }
  }
});

describe('Serving flag files: a file that breaks is kept at its last good flags, and says so', { timeout: 60_000 }, () => {
  after(async () => {
    for (const dir of dirs) await rm(dir, { recursive: true, force: true });
  });

  const good = 'checkout:\n  variations: { on: true, off: false }\n  defaultRule: { variation: on }\nother:\n  variations: { a: 1, b: 2 }\n  defaultRule: { variation: a }\n';
  const brokenFlag = 'checkout:\n  variations: { on: true, off: false }\n  defaultRule: { variation: maybe }\nother:\n  variations: { a: 1, b: 2 }\n  defaultRule: { variation: a }\n';
  const brokenYaml = 'checkout:\n  variations: { on: true, off: false\n  defaultRule: { variation: off }\n';

  for (const [what, broken, where] of [
    ['an invalid flag', brokenFlag, /flags\.yaml:3:\d+ checkout defaultRule\.variation: unknown variation "maybe"/],
    ['a file that does not parse', brokenYaml, /flags\.yaml:\d+:\d+: /],
    ['a YAML alias bomb', '', /flags\.yaml:2:\d+: YAML aliases expand this file to/],
  ] as const) {
    it(`${what}: warning log with file:line, /health degraded (details for admin keys), metric counted; all clear once fixed`, async () => {
      const dir = await tempDir();
      const file = join(dir, 'flags.yaml');
      await writeFile(file, good);
      const logs: Array<Record<string, unknown>> = [];
      const app = await fileServer(file, logs);
      try {
        assert.equal((await health(app)).status, 'ok');
        assert.equal(await metric(app, 'vexil_flag_file_problems{severity="error"}'), 0);
        const bomb = await readFile(join(import.meta.dirname, '..', '..', 'core', 'test', 'fixtures', 'alias-bomb.yaml'), 'utf8');
        await writeFile(file, broken || bomb);

        const report = await eventually(async () => {
          const answer = await health(app);
          return answer.status === 'degraded' && answer.flagFiles ? answer.flagFiles : undefined;
        }, 15_000);
        assert.ok(report.errors >= 1);
        assert.ok(report.problems.some((problem) => where.test(problem)), report.problems.join('\n'));
        // Without a key, /health says degraded and nothing of the file.
        assert.deepEqual((await app.inject({ method: 'GET', url: '/health' })).json(), { initialized: true, status: 'degraded' });
        const warning = logs.find((line) => line.level === 'warn' && typeof line.msg === 'string' && where.test(line.msg));
        assert.ok(warning, `a warning log line naming the file and line: ${JSON.stringify(logs.slice(-3))}`);
        assert.equal(warning.file, file);
        assert.ok((await metric(app, 'vexil_flag_file_problems{severity="error"}'))! >= 1);
        if (what === 'an invalid flag') assert.equal(await metric(app, 'vexil_snapshot_flags{state="invalid"}'), 1);

        // The last good flags are still served.
        const served = await app.inject({ method: 'POST', url: '/ofrep/v1/evaluate/flags/checkout', headers: json(), payload: { context: { targetingKey: 'u' } } });
        assert.equal(served.json().value, true);

        await writeFile(file, good.replace('variation: on', 'variation: off'));
        await eventually(async () => (await health(app)).status === 'ok', 15_000);
        assert.equal((await health(app)).flagFiles, undefined);
        assert.equal(await metric(app, 'vexil_flag_file_problems{severity="error"}'), 0);
        assert.equal(await metric(app, 'vexil_snapshot_flags{state="invalid"}'), 0);
        assert.ok(logs.some((line) => line.level === 'info' && /flag files fixed/.test(String(line.msg))));
        await eventually(async () => {
          const fixed = await app.inject({ method: 'POST', url: '/ofrep/v1/evaluate/flags/checkout', headers: json(), payload: { context: { targetingKey: 'u' } } });
          return fixed.json().value === false;
        }, 15_000);
      } finally {
        await app.close();
      }
    });
  }
});

describe('flag files of several environments', () => {
  it('a broken file of one environment shows on /health under that environment; the others and its last good flags keep being served', async () => {
    const dir = await tempDir();
    const production = join(dir, 'prod.yaml');
    const staging = join(dir, 'staging.yaml');
    const banner = (serve: string) => `banner:\n  variations: { a: prod, b: staging }\n  defaultRule: { variation: ${serve} }\n`;
    await writeFile(production, banner('a'));
    await writeFile(staging, banner('b'));
    const store = await openStore(`file:production=${production},staging=${staging}`);
    const app = await buildServer({ store, closeStore: true, adminKeys: [ADMIN], defaultMetrics: false, heartbeatMs: 0 });
    try {
      const key = (await app.inject({ method: 'POST', url: '/admin/v1/keys', headers: json(ADMIN), payload: { kind: 'sdk', environment: 'staging' } })).json().secret as string;
      const served = async () => (await app.inject({ method: 'POST', url: '/ofrep/v1/evaluate/flags/banner', headers: json(key), payload: { context: { targetingKey: 'u' } } })).json().value;
      assert.equal(await served(), 'staging');
      await writeFile(staging, 'banner:\n  variations: { a: prod\n');
      const health = await eventually(async () => {
        const body = (await app.inject({ method: 'GET', url: '/admin/v1/health', headers: { 'x-api-key': ADMIN } })).json();
        return body.status === 'degraded' ? body : undefined;
      });
      const byName = Object.fromEntries(health.environments.map((entry: { environment: string }) => [entry.environment, entry]));
      assert.equal(byName.staging.status, 'degraded');
      assert.equal(byName.staging.flagFiles.errors, 1);
      assert.match(byName.staging.flagFiles.problems[0], /staging\.yaml/);
      assert.equal(byName.production.status, 'ok');
      assert.match(health.flagFiles.problems[0], /^\[default\/staging\] .*staging\.yaml/);
      assert.equal(await served(), 'staging', 'the last good flags of staging are still served');
      const metrics = (await app.inject({ method: 'GET', url: '/metrics' })).body;
      assert.match(metrics, /vexil_flag_file_problems\{severity="error"\} 1/);
      await writeFile(staging, banner('a'));
      await eventually(async () => ((await app.inject({ method: 'GET', url: '/admin/v1/health', headers: { 'x-api-key': ADMIN } })).json().status === 'ok' ? true : undefined));
      await eventually(async () => ((await served()) === 'prod' ? true : undefined));
    } finally {
      await app.close();
    }
  });
});
