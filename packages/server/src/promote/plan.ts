import { canonicalJson, type FlagDefinition } from '@vexil/core';
import type { ProposedChange } from '@vexil/store';
import { HttpError } from '../http/errors.js';
import { diffFlags, type PathDiff } from './diff.js';

export type PromoteAction = 'create' | 'update' | 'delete' | 'unchanged';

export interface PromoteChange {
  key: string;
  action: PromoteAction;
  /** The target's flag now (null: none). */
  before: FlagDefinition | null;
  /** The target's flag after the promotion (null: deleted). */
  after: FlagDefinition | null;
  diff: PathDiff[];
  /** The target's version now (0: none): a promotion applies only while it still is. */
  baseVersion: number;
}

/**
 * What promoting `from` onto `to` does, flag by flag, sorted by key: the target gets the source's configuration of
 * each flag (created, updated, or deleted when the source has no such flag). `keys`: only these flags (each must exist
 * in one of the two, else 404); absent: every flag of either.
 */
export function planPromotion(
  from: ReadonlyMap<string, FlagDefinition>,
  to: ReadonlyMap<string, { flag: FlagDefinition; version: number }>,
  keys: readonly string[] | undefined,
  names: { from: string; to: string },
): PromoteChange[] {
  const wanted = keys ? [...new Set(keys)] : [...new Set([...from.keys(), ...to.keys()])];
  for (const key of wanted)
    if (!from.has(key) && !to.has(key))
      throw new HttpError(404, 'not_found', `flag "${key}" exists in neither ${names.from} nor ${names.to}`, { key });
  return wanted.sort().map((key) => {
    const source = from.get(key) ?? null;
    const target = to.get(key);
    const before = target?.flag ?? null;
    const action: PromoteAction =
      source === null ? 'delete' : before === null ? 'create' : canonicalJson(source) === canonicalJson(before) ? 'unchanged' : 'update';
    return { key, action, before, after: source, diff: action === 'unchanged' ? [] : diffFlags(before, source), baseVersion: target?.version ?? 0 };
  });
}

/** The changes a promotion writes, as a change request's proposed changes. */
export function proposedChanges(changes: readonly PromoteChange[]): ProposedChange[] {
  return changes
    .filter((change) => change.action !== 'unchanged')
    .map((change) => ({
      key: change.key,
      action: change.action === 'delete' ? 'delete' : 'put',
      baseVersion: change.baseVersion,
      before: change.before,
      after: change.after,
    }));
}
