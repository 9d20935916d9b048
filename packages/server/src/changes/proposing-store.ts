import type { FlagDefinition, SegmentDefinition } from '@vexil/core';
import { FlagNotFoundError, StoreConflictError, type FlagStore, type ProposedChange, type WriteOptions } from '@vexil/store';
import { SEGMENTS_KEY } from './service.js';

/** Receives the one change a write proposes; throws (`ChangeRequestCreated`), so the write never reaches the store. */
export type Proposer = (change: ProposedChange, options: WriteOptions) => Promise<never>;

/**
 * The environment's store as the flag write routes see it when the environment requires approval: reads go to the
 * store, and a write (`put`, `delete`, `putSegments`) becomes a proposed change with what it would replace and the
 * version it was made against (the write's expected version, else the current one), handed to `propose`. A write
 * that would be refused for a version mismatch is refused the same way here. The routes keep all their validation.
 */
export function proposingStore(store: FlagStore, propose: Proposer): FlagStore {
  const put = async (key: string, flag: FlagDefinition, options: WriteOptions): Promise<never> => {
    const current = await store.get(key);
    const currentVersion = current?.version ?? 0;
    if (options.expectedVersion !== undefined && options.expectedVersion !== currentVersion)
      throw new StoreConflictError(key, options.expectedVersion, currentVersion);
    return propose({ key, action: 'put', baseVersion: currentVersion, before: current?.flag ?? null, after: flag }, options);
  };
  const remove = async (key: string, options: WriteOptions): Promise<never> => {
    const current = await store.get(key);
    const currentVersion = current?.version ?? 0;
    if (options.expectedVersion !== undefined && options.expectedVersion !== currentVersion)
      throw new StoreConflictError(key, options.expectedVersion, currentVersion);
    if (!current) throw new FlagNotFoundError(key);
    return propose({ key, action: 'delete', baseVersion: currentVersion, before: current.flag, after: null }, options);
  };
  const putSegments = async (segments: Record<string, SegmentDefinition>, options: WriteOptions): Promise<never> => {
    const current = (await store.list()).segments;
    return propose(
      { key: SEGMENTS_KEY, action: 'put', baseVersion: 0, before: current as unknown as FlagDefinition, after: segments as unknown as FlagDefinition },
      options,
    );
  };
  const importSnapshot = async (): Promise<never> => {
    throw new TypeError('this environment requires approval: import through a promotion or change request instead');
  };
  const replaced: Partial<Record<keyof FlagStore, unknown>> = { put, delete: remove, importSnapshot, ...(store.putSegments ? { putSegments } : {}) };
  return new Proxy(store, {
    get(target, property, _receiver) {
      if (typeof property === 'string' && property in replaced) return replaced[property as keyof FlagStore];
      const value: unknown = Reflect.get(target, property, target);
      // Methods run on the real store (its private fields are not the proxy's).
      return typeof value === 'function' ? (value as (...args: unknown[]) => unknown).bind(target) : value;
    },
  });
}
