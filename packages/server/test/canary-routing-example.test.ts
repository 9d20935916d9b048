// examples/canary-routing/run.ts, as a user runs it: a healthy v2 is promoted, a faulty v2 is rolled back.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { REPO_ROOT } from './helpers.js';

function run(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((done) => {
    execFile(process.execPath, ['--conditions=source', '--import', 'tsx', join(REPO_ROOT, 'examples/canary-routing/run.ts'), ...args], { cwd: REPO_ROOT, encoding: 'utf8', timeout: 240_000 }, (error, stdout, stderr) =>
      done({ code: error ? Number(error.code ?? 1) : 0, stdout, stderr }),
    );
  });
}

describe('examples/canary-routing', () => {
  it('promotes a healthy v2 and rolls back a faulty one, printing each check', async () => {
    const [healthy, faulty] = await Promise.all([run([]), run(['--faulty'])]);
    assert.equal(healthy.code, 0, healthy.stdout + healthy.stderr);
    assert.match(healthy.stdout, /promote: promote to 100% after step 2\/2 \(50%\)/);
    assert.match(healthy.stdout, /outcome: promoted; now 100 of 100 users are routed to v2/);
    assert.equal(faulty.code, 0, faulty.stdout + faulty.stderr);
    assert.match(faulty.stdout, /rollback: rollback at step \d\/2 \(\d+%\): 1 failed checks > failureLimit 0;.*failed \(value/);
    assert.match(faulty.stdout, /outcome: rolled-back; now 0 of 100 users are routed to v2/);
  });
});
