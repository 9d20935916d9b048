// Serving flag files (GitOps mode: `vexil serve --flags F`, or `--store file:`): every edit is served whole.
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rename, rm, writeFile } from 'node:fs/promises';
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

async function fileServer(file: string): Promise<FastifyInstance> {
  const store = await openStore(`file:${file}`, { debounceMs: 20 });
  return buildServer({ store, closeStore: true, adminKeys: [ADMIN], sdkKeys: [SDK], defaultMetrics: false, uiRoot: false, logger: false });
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
