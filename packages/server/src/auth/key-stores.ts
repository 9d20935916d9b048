import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import type { ApiKeyRecord, ApiKeyStore } from '@vexil/store';

/** Keys kept in this process only: used when the store cannot keep keys and no key file is configured. */
export class MemoryKeyStore implements ApiKeyStore {
  readonly #keys = new Map<string, ApiKeyRecord>();

  async list(): Promise<ApiKeyRecord[]> {
    return [...this.#keys.values()].map((record) => ({ ...record }));
  }

  async create(record: ApiKeyRecord): Promise<void> {
    if (this.#keys.has(record.id)) throw new Error(`key ${record.id} exists`);
    this.#keys.set(record.id, { ...record });
  }

  async revoke(id: string): Promise<boolean> {
    const record = this.#keys.get(id);
    if (!record) return false;
    if (!record.revokedAt) record.revokedAt = new Date().toISOString();
    return true;
  }
}

/**
 * Keys in a local JSON file (hashes only, mode 0600): used with the embedded store on disk, which cannot keep keys
 * itself, so that a restart keeps the keys it printed on first start.
 */
export class FileKeyStore implements ApiKeyStore {
  readonly path: string;
  #queue: Promise<unknown> = Promise.resolve();

  constructor(path: string) {
    this.path = path;
  }

  async list(): Promise<ApiKeyRecord[]> {
    return this.#read();
  }

  create(record: ApiKeyRecord): Promise<void> {
    return this.#update((keys) => {
      if (keys.some((key) => key.id === record.id)) throw new Error(`key ${record.id} exists`);
      keys.push({ ...record });
      return undefined;
    });
  }

  revoke(id: string): Promise<boolean> {
    return this.#update((keys) => {
      const record = keys.find((key) => key.id === id);
      if (!record) return false;
      record.revokedAt ??= new Date().toISOString();
      return true;
    });
  }

  async #read(): Promise<ApiKeyRecord[]> {
    let text: string;
    try {
      text = await readFile(this.path, 'utf8');
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return [];
      throw error;
    }
    const data = JSON.parse(text) as { keys?: ApiKeyRecord[] };
    return Array.isArray(data.keys) ? data.keys : [];
  }

  /** Serialised read-modify-write, written to a temporary file and renamed (never a half-written file). */
  #update<T>(change: (keys: ApiKeyRecord[]) => T): Promise<T> {
    const run = this.#queue.then(async () => {
      const keys = await this.#read();
      const result = change(keys);
      await mkdir(dirname(this.path), { recursive: true });
      const temporary = `${this.path}.${process.pid}.tmp`;
      await writeFile(temporary, JSON.stringify({ format: 'vexil-api-keys/1', keys }, null, 2) + '\n', { mode: 0o600 });
      await rename(temporary, this.path);
      return result;
    });
    this.#queue = run.catch(() => undefined);
    return run;
  }
}
