// `vexil env`, `vexil promote` and `vexil changes` through the real bin against a real server (embedded store):
// environments created and listed, flags imported into one, promoted into an environment that requires approval
// (a change request), approved by another key (never by its author), and an environment in use refused deletion.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { openStore } from '@vexil/store';
import { buildServer } from '@vexil/server';

const root = resolve(import.meta.dirname, '../../..');
const bin = join(root, 'packages/cli/bin/vexil.js');
const ADMIN = 'environments-cli-admin-key';

function vexil(args: string[], key = ADMIN): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((done) => {
    execFile(process.execPath, [bin, ...args, '--server', base, '--admin-key', key], { cwd: root, encoding: 'utf8' }, (error, stdout, stderr) =>
      done({ code: error ? Number(error.code ?? 1) : 0, stdout, stderr }),
    );
  });
}

let app: FastifyInstance;
let base: string;
let reviewer: string;
const dir = mkdtempSync(join(tmpdir(), 'vexil-env-cli-'));

before(async () => {
  const store = await openStore(`pglite:memory:env-cli-${randomBytes(4).toString('hex')}`);
  app = await buildServer({ store, closeStore: true, adminKeys: [ADMIN], defaultMetrics: false, heartbeatMs: 0, catalogPollMs: 0 });
  await app.listen({ host: '127.0.0.1', port: 0 });
  const address = app.server.address() as { port: number };
  base = `http://127.0.0.1:${address.port}`;
  const created = await fetch(`${base}/admin/v1/keys`, {
    method: 'POST',
    headers: { 'x-api-key': ADMIN, 'content-type': 'application/json' },
    body: JSON.stringify({ name: 'reviewer', role: 'editor' }),
  });
  reviewer = ((await created.json()) as { secret: string }).secret;
});

after(async () => {
  await app?.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('vexil env, promote and changes against a server', () => {
  it('creates environments and lists them, with the one that requires approval marked', async () => {
    assert.equal((await vexil(['env', 'create', 'staging'])).code, 0);
    const production = await vexil(['env', 'create', 'production', '--require-approval']);
    assert.equal(production.code, 0, production.stderr);
    assert.match(production.stdout, /created environment default\/production \(requires approval\)/);
    const listed = await vexil(['env', 'list']);
    assert.equal(listed.code, 0, listed.stderr);
    assert.match(listed.stdout, /staging/);
    assert.match(listed.stdout, /production.*(yes|approval)/i);
    const again = await vexil(['env', 'create', 'staging']);
    assert.notEqual(again.code, 0, 'an existing environment is not created twice');
  });

  it('imports into one environment, promotes into production as a change request, and another person approves it', async () => {
    const file = join(dir, 'flags.yaml');
    writeFileSync(file, 'checkout:\n  variations: { on: true, off: false }\n  defaultRule: { variation: on }\n');
    const imported = await vexil(['import', file, '--env', 'staging']);
    assert.equal(imported.code, 0, imported.stderr);

    const preview = await vexil(['promote', '--from', 'staging', '--to', 'production', '--dry-run']);
    assert.equal(preview.code, 0, preview.stderr);
    assert.match(preview.stdout, /\+ checkout \(create\)/);

    const promoted = await vexil(['promote', '--from', 'staging', '--to', 'production', '--yes']);
    assert.equal(promoted.code, 0, promoted.stderr);
    const id = /change request (\S+)/.exec(promoted.stdout)?.[1];
    assert.ok(id, `a change request id in: ${promoted.stdout}`);

    const pending = await vexil(['changes', 'list', '--status', 'pending']);
    assert.match(pending.stdout, new RegExp(id!.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')));
    const self = await vexil(['changes', 'approve', id!]);
    assert.equal(self.code, 3, 'the author cannot approve (exit 3: refused)');
    assert.match(self.stderr, /self_approval|yours/);
    const approved = await vexil(['changes', 'approve', id!, '--comment', 'ok'], reviewer);
    assert.equal(approved.code, 0, approved.stderr);
    const exported = await vexil(['export', '--env', 'production', '--format', 'json']);
    assert.equal(exported.code, 0, exported.stderr);
    assert.ok(JSON.parse(exported.stdout).checkout, 'production has the flag once approved');
  });

  it('refuses to delete an environment SDK keys serve, naming them, unless --force', async () => {
    const key = await fetch(`${base}/admin/v1/keys`, {
      method: 'POST',
      headers: { 'x-api-key': ADMIN, 'content-type': 'application/json' },
      body: JSON.stringify({ kind: 'sdk', name: 'staging web', project: 'default', environment: 'staging' }),
    });
    assert.equal(key.status, 201);
    const refused = await vexil(['env', 'delete', 'staging']);
    assert.equal(refused.code, 3);
    assert.match(refused.stderr, /in use by SDK key staging web/);
    const forced = await vexil(['env', 'delete', 'staging', '--force']);
    assert.equal(forced.code, 0, forced.stderr);
    const listed = await vexil(['env', 'list']);
    assert.doesNotMatch(listed.stdout, /staging/);
  });
});
