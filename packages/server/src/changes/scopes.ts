import { DEFAULT_ENVIRONMENT, DEFAULT_PROJECT, UnknownEnvironmentError, UnknownProjectError, type EnvironmentRecord, type EnvironmentRef, type FlagStore } from '@vexil/store';
import type { ServerContext } from '../context.js';
import { unknownEnvironment, unknownProject } from '../environments/registry.js';

/** What change requests and promotions need of one environment. */
export interface ScopeView {
  ref: EnvironmentRef;
  record: EnvironmentRecord;
  store: FlagStore;
  /** Waits (briefly) until this server serves `revision` of the environment. */
  settle(revision: number): Promise<void>;
}

/** One environment the server serves (opened when needed); 404 naming the unknown project or environment. */
export async function scopeOf(ctx: ServerContext, ref: EnvironmentRef): Promise<ScopeView> {
  const scope = await ctx.environments.get(ref);
  return { ref: scope.ref, record: scope.record, store: scope.store, settle: async (revision) => void (await scope.holder.waitFor(revision, 2000)) };
}

/** The keys of a project's environments (404 when it does not exist). */
export async function environmentKeysOf(ctx: ServerContext, project: string): Promise<string[]> {
  const catalog = ctx.store.catalog;
  if (!catalog) {
    if (project !== DEFAULT_PROJECT) throw unknownProject(project);
    return [DEFAULT_ENVIRONMENT];
  }
  try {
    return (await catalog.listEnvironments(project)).map((record) => record.key);
  } catch (error) {
    if (error instanceof UnknownProjectError) throw unknownProject(project);
    if (error instanceof UnknownEnvironmentError) throw unknownEnvironment({ project, environment: error.environment });
    throw error;
  }
}
