import { readFileSync, unlinkSync } from 'node:fs';
import { open, readFile, rename, stat, unlink, writeFile } from 'node:fs/promises';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { EmbeddedStoreLockedError, type EmbeddedStoreOwner } from '../errors.js';

/** The lock file in an embedded store's folder: who owns the store (one process only). */
export const LOCK_FILE = 'vexil.lock';
/** A takeover guard older than this belongs to a process that died while taking over a stale lock. */
const GUARD_STALE_MS = 10_000;

/**
 * One process owns an embedded (PGlite) store: PGlite is PostgreSQL inside the process, so two processes on one folder
 * would each keep their own copy in memory and the last to exit would overwrite the other's writes. The owner holds
 * `vexil.lock` in the folder (created exclusively, `wx`), with its pid, host and, once it serves, its URL; a second
 * process gets `EmbeddedStoreLockedError` naming the owner. A lock left by a process that is gone (kill -9, a crash)
 * is taken over, under a guard file so two processes finding the same stale lock cannot both take it.
 */
export class EmbeddedStoreLock {
  readonly path: string;
  readonly dataDir: string;
  #owner: EmbeddedStoreOwner;
  #released = false;

  private constructor(dataDir: string, owner: EmbeddedStoreOwner) {
    this.dataDir = dataDir;
    this.path = join(dataDir, LOCK_FILE);
    this.#owner = owner;
    held.add(this);
    if (!exitHandlerInstalled) {
      // A process that exits without closing its stores (process.exit) leaves no lock behind.
      process.once('exit', () => {
        for (const lock of [...held]) lock.releaseSync();
      });
      exitHandlerInstalled = true;
    }
  }

  get owner(): EmbeddedStoreOwner {
    return { ...this.#owner };
  }

  /** Takes the folder's lock, or throws `EmbeddedStoreLockedError` when a live process holds it. */
  static async acquire(dataDir: string): Promise<EmbeddedStoreLock> {
    const path = join(dataDir, LOCK_FILE);
    const owner: EmbeddedStoreOwner = {
      pid: process.pid,
      host: hostname(),
      startedAt: new Date().toISOString(),
      command: commandLine(),
    };
    for (let attempt = 0; attempt < 50; attempt++) {
      try {
        const handle = await open(path, 'wx', 0o644);
        try {
          await handle.writeFile(JSON.stringify(owner) + '\n');
        } finally {
          await handle.close();
        }
        return new EmbeddedStoreLock(dataDir, owner);
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
      }
      const text = await readFile(path, 'utf8').catch(() => undefined);
      if (text === undefined) continue; // released meanwhile: try again
      const current = parseOwner(text);
      if (!current) {
        // Being written right now (a moment old), or garbage left by a crash: wait, then treat as stale.
        const age = await stat(path).then((s) => Date.now() - s.mtimeMs, () => 0);
        if (age < 2000) {
          await sleep(50);
          continue;
        }
      } else if (ownerAlive(current)) {
        throw new EmbeddedStoreLockedError(dataDir, path, current);
      }
      await takeOverStale(path, text);
    }
    throw new Error(`cannot take the lock ${path}: it keeps changing hands`);
  }

  /** Records where the owner serves, so that a second process can be told where to send its writes. */
  async advertise(details: { url?: string; command?: string }): Promise<void> {
    if (this.#released) return;
    this.#owner = { ...this.#owner, ...details };
    // Written beside and renamed over: a reader never sees a half-written lock.
    const temporary = `${this.path}.${process.pid}.tmp`;
    await writeFile(temporary, JSON.stringify(this.#owner) + '\n');
    await rename(temporary, this.path);
  }

  /** Removes the lock if it is still this process's. */
  async release(): Promise<void> {
    if (this.#released) return;
    this.#released = true;
    held.delete(this);
    const text = await readFile(this.path, 'utf8').catch(() => undefined);
    if (text !== undefined && isMine(parseOwner(text))) await unlink(this.path).catch(() => undefined);
  }

  /** At process exit: synchronous, as nothing asynchronous runs any more. */
  releaseSync(): void {
    if (this.#released) return;
    this.#released = true;
    held.delete(this);
    try {
      if (isMine(parseOwner(readFileSync(this.path, 'utf8')))) unlinkSync(this.path);
    } catch {
      // gone already
    }
  }
}

/** Locks this process holds, released at exit. */
const held = new Set<EmbeddedStoreLock>();
let exitHandlerInstalled = false;

/** Replaces a stale lock (still holding `staleText`) by nothing, under a guard that only one process can hold. */
async function takeOverStale(path: string, staleText: string): Promise<void> {
  const guard = `${path}.takeover`;
  let handle;
  try {
    handle = await open(guard, 'wx');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    // Another process is taking over; a guard left by one that died during it is removed after a while.
    const age = await stat(guard).then((s) => Date.now() - s.mtimeMs, () => 0);
    if (age > GUARD_STALE_MS) await unlink(guard).catch(() => undefined);
    await sleep(50);
    return;
  }
  try {
    await handle.close();
    // Still the same stale lock (not one a live process took meanwhile)? Then it goes.
    const now = await readFile(path, 'utf8').catch(() => undefined);
    if (now === staleText) await unlink(path).catch(() => undefined);
  } finally {
    await unlink(guard).catch(() => undefined);
  }
}

function parseOwner(text: string): EmbeddedStoreOwner | undefined {
  try {
    const value = JSON.parse(text) as Partial<EmbeddedStoreOwner>;
    if (typeof value.pid !== 'number' || !Number.isSafeInteger(value.pid) || typeof value.host !== 'string') return undefined;
    return value as EmbeddedStoreOwner;
  } catch {
    return undefined;
  }
}

function isMine(owner: EmbeddedStoreOwner | undefined): boolean {
  return owner !== undefined && owner.pid === process.pid && owner.host === hostname();
}

/** A lock from another machine (a shared folder) cannot be checked: it counts as alive. */
function ownerAlive(owner: EmbeddedStoreOwner): boolean {
  if (owner.host !== hostname()) return true;
  if (owner.pid === process.pid) return true;
  try {
    process.kill(owner.pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** `vexil serve`, `vexil import`…: what the owner runs, for the message a second process gets. */
function commandLine(): string {
  const args = process.argv.slice(1);
  const vexil = args.findIndex((arg) => /(^|[\\/])vexil(\.[cm]?[jt]s)?$/.test(arg));
  if (vexil !== -1 && args[vexil + 1] && !args[vexil + 1]!.startsWith('-')) return `vexil ${args[vexil + 1]}`;
  return `node ${args[0] ?? ''}`.trim();
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
