// One process owns an embedded store (issue 9, item 1). Before: `vexil import` into the folder of a running
// `vexil serve` printed success, the server never served the flags, and whichever process exited last won. Now the
// second process is refused with one line naming the owner, and `--server URL --admin-key K` writes through the
// running server instead, with nothing lost across a restart.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

const root = resolve(import.meta.dirname, '../../..');
const bin = join(root, 'packages/cli/src/bin/vexil.ts');
const ADMIN = 'owner-test-admin-key-0123456789';
const SDK = 'owner-test-sdk-key-0123456789';

function vexil(args: string[]) {
  const result = spawnSync(process.execPath, ['--conditions=source', '--import', 'tsx', bin, ...args], { cwd: root, encoding: 'utf8' });
  return { code: result.status, stdout: result.stdout, stderr: result.stderr };
}

function serve(args: string[]): Promise<{ child: ChildProcess; url: string; output: () => string }> {
  const child = spawn(process.execPath, ['--conditions=source', '--import', 'tsx', bin, 'serve', '--host', '127.0.0.1', '--port', '0', '--log-level', 'warn', ...args], {
    cwd: root,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout!.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr!.on('data', (chunk: Buffer) => (output += chunk.toString()));
  return new Promise((resolvePromise, reject) => {
    const timer = setTimeout(() => reject(new Error(`vexil serve did not start:\n${output}`)), 60_000);
    child.stdout!.on('data', () => {
      const match = /listening on (http:\/\/\S+)[\s\S]*metrics \S+\/metrics\n/.exec(output);
      if (match) {
        clearTimeout(timer);
        resolvePromise({ child, url: match[1]!, output: () => output });
      }
    });
    child.on('exit', (code) => {
      clearTimeout(timer);
      reject(Object.assign(new Error(`vexil serve exited with ${code}:\n${output}`), { code, output }));
    });
  });
}

function stop(child: ChildProcess): Promise<void> {
  return new Promise((resolvePromise) => {
    if (child.exitCode !== null || child.signalCode !== null) return resolvePromise();
    child.once('exit', () => resolvePromise());
    child.kill('SIGTERM');
  });
}

async function evaluate(url: string, key: string): Promise<{ status: number; body: any }> {
  const response = await fetch(`${url}/ofrep/v1/evaluate/flags/${key}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-api-key': SDK },
    body: JSON.stringify({ context: { targetingKey: 'u1' } }),
  });
  return { status: response.status, body: await response.json() };
}

let dir: string;
let flagsFile: string;
before(() => {
  dir = mkdtempSync(join(tmpdir(), 'vexil-owner-'));
  flagsFile = join(dir, 'imported.yaml');
  writeFileSync(flagsFile, 'imported-flag:\n  variations: { on: true, off: false }\n  defaultRule: { variation: on }\n');
});
after(() => rmSync(dir, { recursive: true, force: true }));

describe('one process owns an embedded store', { timeout: 180_000 }, () => {
  it('refuses a second process with one line naming the owner; --server writes through it; nothing is lost', async () => {
    const store = `pglite:${join(dir, 'data')}`;
    const server = await serve(['--store', store, '--no-examples', '--admin-key', ADMIN, '--sdk-key', SDK]);
    try {
      const pid = String(server.child.pid);

      const direct = vexil(['import', flagsFile, '--store', store]);
      assert.equal(direct.code, 1, `a second process must not write into the owned store:\n${direct.stdout}${direct.stderr}`);
      const line = direct.stderr.trim();
      assert.equal(line.split('\n').length, 1, `one line: ${line}`);
      assert.match(line, new RegExp(`in use by process ${pid}\\b`));
      assert.ok(line.includes(server.url), `names where the owner serves: ${line}`);
      assert.match(line, /--store/);
      assert.ok(line.includes(`vexil import --server ${server.url} --admin-key`), line);

      await assert.rejects(serve(['--store', store, '--no-examples', '--admin-key', ADMIN]), (error: Error & { output?: string }) => {
        assert.ok(error.output?.includes(`in use by process ${pid}`), error.output);
        return true;
      });
      const exportDirect = vexil(['export', '--store', store]);
      assert.equal(exportDirect.code, 1);
      assert.match(exportDirect.stderr, /in use by process/);

      const through = vexil(['import', flagsFile, '--server', server.url, '--admin-key', ADMIN]);
      assert.equal(through.code, 0, through.stdout + through.stderr);
      assert.match(through.stdout, /imported-flag: created/);
      const served = await evaluate(server.url, 'imported-flag');
      assert.equal(served.status, 200, JSON.stringify(served.body));
      assert.equal(served.body.value, true);

      const exported = vexil(['export', '--server', server.url, '--admin-key', ADMIN]);
      assert.equal(exported.code, 0, exported.stderr);
      assert.ok(JSON.parse(exported.stdout).flags['imported-flag'], 'export through the server lists the imported flag');
    } finally {
      await stop(server.child);
    }
    // The owner is gone: the folder is free again, and holds what was written through the server.
    const after = vexil(['export', '--store', store]);
    assert.equal(after.code, 0, after.stderr);
    assert.ok(JSON.parse(after.stdout).flags['imported-flag'], 'the write through the server survived the restart');
  });

  it('takes over the lock of an owner that was killed (kill -9)', async () => {
    const store = `pglite:${join(dir, 'killed')}`;
    const server = await serve(['--store', store, '--no-examples', '--admin-key', ADMIN]);
    server.child.kill('SIGKILL');
    await new Promise((resolvePromise) => server.child.once('exit', resolvePromise));
    const result = vexil(['import', flagsFile, '--store', store]);
    assert.equal(result.code, 0, result.stdout + result.stderr);
    assert.match(result.stdout, /imported-flag: created/);
  });
});
