// Shared set-up of the page-level end-to-end tests that need only a server of their own: `vexil serve` on a fresh
// embedded store (events kept in the same folder) and headless Debian Chromium on one page.
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium, type Browser, type Page } from 'playwright-core';
import { SHOTS } from './screenshots-dir.js';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const UI = join(ROOT, 'packages/ui');
export { SHOTS } from './screenshots-dir.js';
const CHROMIUM = '/usr/bin/chromium';
export const ADMIN_KEY = `adm-${randomBytes(12).toString('hex')}`;
export const SDK_KEY = `sdk-${randomBytes(12).toString('hex')}`;
/** A reason to skip (for `test(…, { skip })`), or false when Chromium is there. */
export const skip = existsSync(CHROMIUM) ? false : `${CHROMIUM} is not installed`;

function newestMtime(path: string): number {
  const stat = statSync(path);
  if (!stat.isDirectory()) return stat.mtimeMs;
  return Math.max(0, ...readdirSync(path).map((entry) => newestMtime(join(path, entry))));
}

function ensureBuilt(): void {
  const built = join(UI, 'dist/index.html');
  const sources = Math.max(newestMtime(join(UI, 'src')), newestMtime(join(UI, 'index.html')));
  if (existsSync(built) && statSync(built).mtimeMs >= sources) return;
  const result = spawnSync(process.execPath, [join(ROOT, 'node_modules/vite/bin/vite.js'), 'build', '--logLevel', 'warn'], { cwd: UI, stdio: 'inherit' });
  assert.equal(result.status, 0, 'vite build failed');
}

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = createServer();
    probe.once('error', reject);
    probe.listen(0, '127.0.0.1', () => {
      const { port } = probe.address() as { port: number };
      probe.close(() => resolve(port));
    });
  });
}

export interface PageHarness {
  base: string;
  page: Page;
  /** One HTTP call to the server with a key; the body parsed when it is JSON. */
  http(method: string, path: string, key: string, body?: unknown): Promise<{ status: number; body: any }>;
  close(): Promise<void>;
}

/** Starts the server (its folder named after `name`) and the browser; `port` and `args` for servers configured further. */
export async function startPageHarness(name: string, options: { port?: number; args?: string[]; env?: Record<string, string> } = {}): Promise<PageHarness> {
  ensureBuilt();
  mkdirSync(SHOTS, { recursive: true });
  const dir = mkdtempSync(join(tmpdir(), `vexil-${name}-e2e-`));
  const port = options.port ?? (await freePort());
  const base = `http://127.0.0.1:${port}`;
  const child: ChildProcess = spawn(
    process.execPath,
    ['--conditions=source', '--import', 'tsx', join(ROOT, 'packages/cli/src/bin/vexil.ts'), 'serve', '--store', `pglite:${dir}`, '--port', String(port), '--admin-key', ADMIN_KEY, '--sdk-key', SDK_KEY, '--no-examples', '--log-level', 'warn', ...(options.args ?? [])],
    { cwd: ROOT, stdio: ['ignore', 'inherit', 'inherit'], env: { ...process.env, ...(options.env ?? {}) } },
  );
  let browser: Browser | undefined;
  const close = async (): Promise<void> => {
    await browser?.close();
    if (child.exitCode === null) {
      const exited = new Promise((resolve) => child.once('exit', resolve));
      child.kill('SIGTERM');
      await Promise.race([exited, new Promise((resolve) => setTimeout(resolve, 5000))]);
      if (child.exitCode === null) child.kill('SIGKILL');
    }
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    const deadline = Date.now() + 60_000;
    for (;;) {
      const ok = await fetch(`${base}/health`).then((r) => r.ok, () => false);
      if (ok) break;
      if (Date.now() > deadline || child.exitCode !== null) throw new Error('vexil serve did not start');
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
    browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--headless', '--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'] });
    const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
    page.setDefaultTimeout(20_000);
    page.on('pageerror', (error) => console.log(`# page error: ${error.message}`));
    const http: PageHarness['http'] = async (method, path, key, body) => {
      const response = await fetch(`${base}${path}`, {
        method,
        headers: { authorization: `Bearer ${key}`, ...(body !== undefined ? { 'content-type': 'application/json' } : {}) },
        body: body === undefined ? undefined : JSON.stringify(body),
      });
      return { status: response.status, body: (await response.json().catch(() => undefined)) as any };
    };
    return { base, page, http, close };
  } catch (error) {
    await close();
    throw error;
  }
}
