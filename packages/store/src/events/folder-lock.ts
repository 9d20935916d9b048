import { mkdirSync, readFileSync, unlinkSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';

/** Another process holds the embedded events store's folder (PGlite must never be opened by two processes). */
export class EventsFolderLockedError extends Error {
  readonly pid: number;
  constructor(dir: string, pid: number) {
    super(`the events store in ${dir} is in use by process ${pid}: one process owns an embedded store (use --events postgres://… for many servers)`);
    this.name = 'EventsFolderLockedError';
    this.pid = pid;
  }
}

const held = new Map<string, number>();

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * Takes `<dir>/vexil-events.lock` for this process (shared by every store this process opens on the folder; a lock
 * left by a process that is gone is taken over). Returns the release function.
 */
export function lockEventsFolder(dir: string, cwd?: string): () => void {
  const folder = resolve(cwd ?? process.cwd(), dir);
  const file = join(folder, 'vexil-events.lock');
  const count = held.get(file) ?? 0;
  if (count === 0) {
    mkdirSync(folder, { recursive: true });
    for (let attempt = 0; ; attempt++) {
      try {
        writeFileSync(file, String(process.pid), { flag: 'wx' });
        break;
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== 'EEXIST' || attempt > 2) throw error;
        const owner = Number(readFileSync(file, 'utf8').trim());
        if (Number.isInteger(owner) && owner > 0 && owner !== process.pid && alive(owner)) throw new EventsFolderLockedError(folder, owner);
        unlinkSync(file);
      }
    }
  }
  held.set(file, count + 1);
  let released = false;
  return () => {
    if (released) return;
    released = true;
    const left = (held.get(file) ?? 1) - 1;
    if (left > 0) return void held.set(file, left);
    held.delete(file);
    try {
      if (readFileSync(file, 'utf8').trim() === String(process.pid)) unlinkSync(file);
    } catch {
      // already gone
    }
  };
}
