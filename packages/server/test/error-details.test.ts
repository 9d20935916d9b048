// Issue 9, item 18: an evaluation error says what is wrong and how to fix it, in the same words on OFREP single,
// OFREP bulk and `vexil eval`. Before, OFREP said `Error while evaluating the flag: X` for an unknown flag and for a
// missing targeting key alike, and a body without the `context` wrapper or with a numeric targetingKey got
// TARGETING_KEY_MISSING with no hint.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { buildServer } from '@vexil/server';
import { REPO_ROOT, SDK, ADMIN, json, listen, postJson } from './helpers.js';

const FLAGS = `
split:
  variations: { a: A, b: B }
  defaultRule: { percentage: { a: 50, b: 50 } }
by-company:
  variations: { a: A, b: B }
  bucketingKey: company.id
  defaultRule: { percentage: { a: 50, b: 50 } }
static:
  variations: { on: true }
  defaultRule: { variation: on }
`;

let dir: string;
let file: string;
let app: FastifyInstance;
let base: string;

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'vexil-error-details-'));
  file = join(dir, 'flags.goff.yaml');
  writeFileSync(file, FLAGS);
  app = await buildServer({ storeUrl: `file:${file}`, sdkKeys: [SDK], adminKeys: [ADMIN], defaultMetrics: false, heartbeatMs: 0, logger: false });
  base = await listen(app);
});
after(async () => {
  await app?.close();
  rmSync(dir, { recursive: true, force: true });
});

const single = (key: string, body: unknown) => postJson(base, `/ofrep/v1/evaluate/flags/${key}`, body, json());
const bulkEntry = async (key: string, body: unknown) => {
  const answer = await postJson(base, '/ofrep/v1/evaluate/flags', body, json());
  assert.equal(answer.status, 200);
  return answer.body.flags.find((flag: { key: string }) => flag.key === key);
};

/** `vexil eval --requests -` on the same file: one output line per request line. */
function cliEval(requests: unknown[]): Record<string, any>[] {
  const result = spawnSync(process.execPath, ['--conditions=source', '--import', 'tsx', join(REPO_ROOT, 'packages/cli/src/bin/vexil.ts'), 'eval', '--flags', file, '--requests', '-'], {
    cwd: REPO_ROOT,
    encoding: 'utf8',
    input: requests.map((line) => JSON.stringify(line)).join('\n') + '\n',
  });
  assert.equal(result.status, 0, result.stderr);
  return result.stdout.trim().split('\n').map((line) => JSON.parse(line));
}

describe('errorDetails say what is wrong and how to fix it (issue 9, item 18)', () => {
  test('an unknown flag and a missing targeting key no longer read the same', async () => {
    const unknown = await single('no-such-flag', { context: { targetingKey: 'u' } });
    const noKey = await single('split', { context: {} });
    assert.deepEqual([unknown.status, unknown.body.errorCode], [404, 'FLAG_NOT_FOUND']);
    assert.deepEqual([noKey.status, noKey.body.errorCode], [400, 'TARGETING_KEY_MISSING']);
    assert.equal(unknown.body.errorDetails, 'flag `no-such-flag` does not exist in this environment: check the key (keys are case-sensitive)');
    assert.equal(noKey.body.errorDetails, 'flag `split` splits users by targetingKey and the context has none: send {"context": {"targetingKey": "..."}}');
    assert.doesNotMatch(unknown.body.errorDetails + noKey.body.errorDetails, /Error while evaluating the flag/);
  });

  test('a body without the context wrapper is told so (400 TARGETING_KEY_MISSING kept)', async () => {
    const r = await single('split', { targetingKey: 'user-1', plan: 'pro' });
    assert.equal(r.status, 400);
    assert.equal(r.body.errorCode, 'TARGETING_KEY_MISSING');
    assert.match(r.body.errorDetails, /^the body has no `context` object \(targetingKey is at the top level\): OFREP wants \{"context": \{\.\.\.\}\}; flag `split` splits users/);
    // A flag that needs no key still evaluates such a body (Vexil accepts a missing context).
    assert.equal((await single('static', { targetingKey: 'user-1' })).status, 200);
  });

  test('a numeric targetingKey: "targetingKey must be a string, got number"', async () => {
    const r = await single('split', { context: { targetingKey: 12345 } });
    assert.deepEqual([r.status, r.body.errorCode], [400, 'TARGETING_KEY_MISSING']);
    assert.match(r.body.errorDetails, /targetingKey must be a string, got number/);
  });

  test('a bucketingKey the context lacks names the attribute and shows where it goes', async () => {
    const r = await single('by-company', { context: { targetingKey: 'u' } });
    assert.deepEqual([r.status, r.body.errorCode], [400, 'TARGETING_KEY_MISSING']);
    assert.equal(r.body.errorDetails, 'flag `by-company` splits users by company.id (its bucketingKey) and the context has none: send {"context": {"company": {"id": "..."}}}');
  });

  test('the same words on OFREP single, OFREP bulk and vexil eval', async () => {
    const cases: { flag: string; body: Record<string, unknown> }[] = [
      { flag: 'split', body: { context: {} } },
      { flag: 'split', body: { context: { targetingKey: 7 } } },
      { flag: 'split', body: { context: { targetingKey: '' } } },
      { flag: 'split', body: { targetingKey: 'user-1' } },
      { flag: 'by-company', body: { context: { targetingKey: 'u', company: { id: 3 } } } },
    ];
    const cli = cliEval(cases.map(({ flag, body }) => ({ flag, ...body })));
    for (const [index, { flag, body }] of cases.entries()) {
      const one = await single(flag, body);
      const entry = await bulkEntry(flag, body);
      assert.equal(one.body.errorCode, 'TARGETING_KEY_MISSING', JSON.stringify(body));
      assert.equal(entry.errorDetails, one.body.errorDetails, `bulk vs single for ${JSON.stringify(body)}`);
      // The CLI's line says "line N" where OFREP says "the body"; the diagnosis of the flag is word for word the same.
      const words = (text: string) => text.replace(/^(the body|line \d+)[^;]*; /, '');
      assert.equal(words(cli[index]!.errorMessage), words(one.body.errorDetails), `CLI vs OFREP for ${JSON.stringify(body)}`);
      assert.equal(cli[index]!.errorCode, 'TARGETING_KEY_MISSING');
    }
    const unknown = cliEval([{ flag: 'no-such-flag', context: { targetingKey: 'u' } }])[0]!;
    assert.equal(unknown.errorMessage, (await single('no-such-flag', { context: { targetingKey: 'u' } })).body.errorDetails);
    assert.match(cli[3]!.errorMessage, /^line 4 has no `context` object \(targetingKey is at the top level\): --requests wants/);
  });

  test('the relay API keeps GO Feature Flag\'s texts', async () => {
    const r = await postJson(base, '/v1/feature/split/eval', { evaluationContext: { key: '', custom: {} }, defaultValue: 'z' }, json());
    assert.equal(r.body.errorDetails, 'Error: Empty targeting key');
  });
});

describe('a context wrapped twice (issue 9, item 18)', () => {
  test('OFREP names the extra `context` level, and so does vexil eval --context', async () => {
    const r = await single('split', { context: { context: { targetingKey: 'u' } } });
    assert.deepEqual([r.status, r.body.errorCode], [400, 'TARGETING_KEY_MISSING']);
    assert.match(r.body.errorDetails, /^the context holds another `context` object: put the attributes in the context itself/);
    const cli = spawnSync(
      process.execPath,
      ['--conditions=source', '--import', 'tsx', join(REPO_ROOT, 'packages/cli/src/bin/vexil.ts'), 'eval', '--flags', file, '--flag', 'split', '--context', '{"context":{"targetingKey":"u"}}'],
      { cwd: REPO_ROOT, encoding: 'utf8' },
    );
    assert.equal(cli.status, 0, cli.stderr);
    assert.match(JSON.parse(cli.stdout).errorMessage, /^--context holds another `context` object: put the attributes in --context itself.*; flag `split` splits users by targetingKey/);
  });
});
