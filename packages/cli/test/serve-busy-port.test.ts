// Issue 9, item 21: `vexil serve` on a port another process holds says which port and host, and what to do, instead
// of Node's bare `listen EADDRINUSE: address already in use`.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createServer, type Server } from 'node:net';
import { join, resolve } from 'node:path';

const root = resolve(import.meta.dirname, '../../..');
const bin = join(root, 'packages/cli/src/bin/vexil.ts');

function occupy(host: string): Promise<{ server: Server; port: number }> {
  return new Promise((resolvePort, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, host, () => resolvePort({ server, port: (server.address() as { port: number }).port }));
  });
}

/** Runs `vexil serve …` in a child process until it exits (or 60 s pass: then it is killed and the test fails). */
function serve(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((done) => {
    const child = spawn(process.execPath, ['--conditions=source', '--import', 'tsx', bin, 'serve', ...args], { cwd: root, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), 60_000);
    child.on('exit', (code) => {
      clearTimeout(timer);
      done({ code, stdout, stderr });
    });
  });
}

describe('vexil serve on a busy port', () => {
  it('exits 1 with one line naming the port and host and suggesting --port', async () => {
    const { server, port } = await occupy('127.0.0.1');
    try {
      const key = (kind: string) => `${kind}-${randomBytes(16).toString('hex')}`;
      const result = await serve(['--flags', join(root, 'examples/flags.goff.yaml'), '--port', String(port), '--host', '127.0.0.1', '--admin-key', key('admin'), '--sdk-key', key('sdk'), '--log-level', 'warn']);
      assert.equal(result.code, 1, result.stdout + result.stderr);
      const lines = result.stderr.trim().split('\n');
      assert.equal(lines.length, 1, result.stderr);
      assert.match(lines[0]!, new RegExp(`^vexil: port ${port} on 127\\.0\\.0\\.1 is already in use \\(EADDRINUSE\\)`));
      assert.match(lines[0]!, new RegExp(`--port ${port + 1} \\(or --port 0 for any free port`));
      assert.doesNotMatch(result.stderr, /^vexil: listen EADDRINUSE/);
    } finally {
      server.close();
    }
  });
});
