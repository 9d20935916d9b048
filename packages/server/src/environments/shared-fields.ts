import type { FastifyInstance, FastifyRequest } from 'fastify';
import { canonicalJson, checkFlag, type FlagDefinition } from '@vexil/core';
import { StoreConflictError, StoreValidationError, type FlagStore, type WriteOptions } from '@vexil/store';
import type { ServerContext } from '../context.js';
import type { ChangeRequestService } from '../changes/service.js';
import { addFlagWriteHook } from '../changes/routes.js';
import type { EnvironmentScope } from './registry.js';

/** The actor of the writes that carry shared fields to a flag's other environments. */
export const SHARED_FIELDS_ACTOR = 'shared-fields';

/**
 * What a flag shares across the environments of its project (as in LaunchDarkly and Unleash): its variations (and so
 * its type) and its metadata (description, tags…). Targeting, rules, splits, disable and rollout plans are each
 * environment's own.
 */
export const SHARED_FIELDS = ['variations', 'metadata'] as const;

/** `target` with the shared fields of `source` (a field `source` lacks is removed from `target` too). */
export function withSharedFields(target: FlagDefinition, source: FlagDefinition): FlagDefinition {
  const next: FlagDefinition = { ...target };
  for (const field of SHARED_FIELDS) {
    if (source[field] === undefined) delete next[field];
    else (next as Record<string, unknown>)[field] = source[field];
  }
  return next;
}

function sameSharedFields(a: FlagDefinition, b: FlagDefinition): boolean {
  return SHARED_FIELDS.every((field) => canonicalJson((a[field] ?? null) as never) === canonicalJson((b[field] ?? null) as never));
}

interface SiblingChange {
  scope: EnvironmentScope;
  baseVersion: number;
  before: FlagDefinition;
  after: FlagDefinition;
}

/**
 * The environment's store as the flag write routes see it: a `put` that changes a shared field is first checked
 * against every other environment of the project that has the flag (a variation their rules still name would make
 * them invalid: then nothing is written, 400 naming the environment), then written, then carried to them by actor
 * `shared-fields` — as a change request in an environment that requires approval, so its served values never change
 * without review.
 */
function sharingStore(
  ctx: ServerContext,
  scope: EnvironmentScope,
  request: FastifyRequest,
  changes: ChangeRequestService | undefined,
): FlagStore {
  const inner = scope.store;
  const put: FlagStore['put'] = async (key: string, flag: FlagDefinition, options: WriteOptions) => {
    // Most writes change serving only: the shared fields are already the siblings' too, and nothing is read there.
    const current = await inner.get(key);
    if (current && sameSharedFields(current.flag, flag)) return inner.put(key, flag, options);
    const siblings = await siblingChanges(ctx, scope, key, flag);
    const result = await inner.put(key, flag, options);
    const reason = `shared fields (${SHARED_FIELDS.join(', ')}) of "${key}" changed in ${scope.name} by ${options.actor}`;
    for (const change of siblings) {
      try {
        if (change.scope.record.requireApproval && changes) {
          const proposed = await changes.propose(
            change.scope.ref,
            request.principal,
            [{ key, action: 'put', baseVersion: change.baseVersion, before: change.before, after: change.after }],
            reason,
          );
          request.log.info({ changeRequest: proposed.id, key, environment: change.scope.name }, 'shared fields proposed to an environment that requires approval');
        } else {
          await change.scope.store.put(key, change.after, { actor: SHARED_FIELDS_ACTOR, reason: reason.slice(0, 2000), expectedVersion: change.baseVersion });
        }
      } catch (error) {
        // The flag moved there meanwhile (or the write failed): that environment keeps its own value, and says so.
        if (!(error instanceof StoreConflictError)) request.log.error({ err: error, key, environment: change.scope.name }, 'shared fields not carried');
        else request.log.warn({ key, environment: change.scope.name }, 'shared fields not carried: the flag changed there meanwhile');
      }
    }
    return result;
  };
  return new Proxy(inner, {
    get(target, property) {
      if (property === 'put') return put;
      const value: unknown = Reflect.get(target, property, target);
      return typeof value === 'function' ? (value as (...args: unknown[]) => unknown).bind(target) : value;
    },
  });
}

/** The other environments whose copy of `key` the new shared fields would change, each checked valid with them. */
async function siblingChanges(ctx: ServerContext, scope: EnvironmentScope, key: string, flag: FlagDefinition): Promise<SiblingChange[]> {
  const catalog = ctx.store.catalog;
  if (!catalog) return [];
  const records = await catalog.listEnvironments(scope.ref.project).catch(() => []);
  const out: SiblingChange[] = [];
  for (const record of records) {
    if (record.key === scope.ref.environment) continue;
    const sibling = await ctx.environments.get({ project: record.project, environment: record.key });
    const stored = await sibling.store.get(key);
    if (!stored) continue;
    const after = withSharedFields(stored.flag, flag);
    if (canonicalJson(after) === canonicalJson(stored.flag)) continue;
    const checked = checkFlag(key, after, { source: `environment ${sibling.name}`, segments: sibling.holder.segments });
    const errors = checked.problems.filter((problem) => problem.severity === 'error');
    if (errors.length > 0) {
      for (const problem of errors) problem.message = `in ${sibling.name}, which shares this flag's variations: ${problem.message}`;
      throw new StoreValidationError(errors);
    }
    if (!sibling.store.writable) continue;
    out.push({ scope: sibling, baseVersion: stored.version, before: stored.flag, after: checked.flag ?? after });
  }
  return out;
}

/**
 * Flag writes in an environment of a project with several environments carry the shared fields to the others
 * (register after the change-request hook: a write that becomes a change request carries nothing until applied).
 */
export function registerSharedFields(app: FastifyInstance, ctx: ServerContext, changes: ChangeRequestService | undefined): void {
  addFlagWriteHook(app, async (request: FastifyRequest) => {
    const scope = (request as { environment?: EnvironmentScope }).environment;
    if (!scope || scope.record.requireApproval || !ctx.store.catalog?.writable) return;
    request.environment = { ...scope, store: sharingStore(ctx, scope, request, changes) };
  });
}
