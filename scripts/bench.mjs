// `npm run bench [-- name...]`: the benchmarks compare Vexil with peer libraries (LaunchDarkly, Unleash, GrowthBook,
// flagd) that neither Vexil nor its tests need, so they live in bench/package.json, outside the root workspaces: a
// root `npm install` / `npm ci` leaves them out. This installs them on first use (and again when bench's lockfile
// changed), then runs bench/run.ts with the names given.
import { existsSync, statSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const bench = join(root, 'bench');
const installed = join(bench, 'node_modules', '.package-lock.json');
const lockfile = join(bench, 'package-lock.json');

if (!existsSync(installed) || statSync(installed).mtimeMs < statSync(lockfile).mtimeMs) {
  console.log('installing the benchmarks\' dependencies (bench/package.json) …');
  const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm';
  const install = spawnSync(npm, ['ci', '--prefix', bench, '--no-audit', '--no-fund'], { cwd: root, stdio: 'inherit', shell: process.platform === 'win32' });
  if (install.status !== 0) process.exit(install.status ?? 1);
}

const run = spawnSync(process.execPath, ['--conditions=source', '--import', 'tsx', join(bench, 'run.ts'), ...process.argv.slice(2)], {
  cwd: root,
  stdio: 'inherit',
});
process.exit(run.status ?? 1);
