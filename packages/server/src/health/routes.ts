import type { FastifyInstance } from 'fastify';
import type { EnvironmentRef } from '@vexil/store';
import type { ServerContext } from '../context.js';
import { roleOn } from '../auth/keys.js';

// Two views of the server's health. `GET /health` answers anyone (load balancers, Kubernetes probes, GO Feature Flag's
// clients): whether it started and whether it is degraded, nothing more. The details (the store's last error, flag
// files with their paths, lines and flag names, every project × environment, the events buffer) tell an outsider how
// the server is built and where it hurts: they are at `GET /admin/v1/health`, for admin keys and signed-in users.

const status = { type: 'string', enum: ['starting', 'ok', 'degraded'] } as const;

const flagFilesSchema = {
  type: 'object',
  description: 'Present while a flag file being served has errors: how many, and the first ones as file:line:col flag field: message.',
  properties: { errors: { type: 'integer' }, problems: { type: 'array', items: { type: 'string' } } },
} as const;

const reportSchema = {
  type: 'object',
  properties: {
    initialized: { type: 'boolean' },
    status,
    store: {
      type: 'object',
      properties: {
        kind: { type: 'string' },
        reachable: { type: 'boolean' },
        writable: { type: 'boolean' },
        changeFeed: { type: 'string', description: 'DynamoDB: `streams` while the table\'s stream is read, else `polling`.' },
        lastError: { type: 'string' },
        lastErrorAt: { type: 'string' },
      },
    },
    flagFiles: flagFilesSchema,
    revision: { type: 'integer' },
    flags: { type: 'integer' },
    lastReload: { type: 'string' },
    environments: {
      type: 'array',
      description:
        'Every project × environment this server serves, default/default first: its revision, flag count and status (`degraded`: its store does not answer, its last good flags are served). The top-level `status` is `degraded` when any is.',
      items: {
        type: 'object',
        properties: {
          project: { type: 'string' },
          environment: { type: 'string' },
          status,
          revision: { type: 'integer' },
          flags: { type: 'integer' },
          flagFiles: flagFilesSchema,
        },
      },
    },
    events: {
      type: 'object',
      description: 'The events store (with `--events`): `degraded` while it does not answer and events wait in the buffer.',
      properties: {
        status: { type: 'string', enum: ['ok', 'degraded', 'off'] },
        buffered: { type: 'integer' },
        dropped: { type: 'integer' },
        written: { type: 'integer' },
        lastError: { type: 'string' },
        lastErrorAt: { type: 'string' },
      },
    },
  },
} as const;

/**
 * The whole report: each environment's status and broken flag files, the store, the events buffer. `visible` keeps
 * the environments a caller may see (the overall status still counts them all).
 */
export function healthReport(ctx: ServerContext, visible: (ref: EnvironmentRef) => boolean = () => true) {
  const holder = ctx.holder;
  // Every environment's broken flag files, each line naming its environment (other than default/default).
  const files = { count: 0, problems: [] as string[] };
  let anyDegraded = false;
  const environments = ctx.environments.list().flatMap(({ ref, holder: served, sourceProblems, isDefault, name }) => {
    const own = sourceProblems.report();
    if (served.status === 'degraded' || own.count > 0) anyDegraded = true;
    if (!visible(ref)) return [];
    files.count += own.count;
    for (const problem of own.problems) if (files.problems.length < 20) files.problems.push(isDefault ? problem : `[${name}] ${problem}`);
    return [
      {
        project: ref.project,
        environment: ref.environment,
        status: served.status === 'ok' && own.count > 0 ? ('degraded' as const) : served.status,
        revision: served.revision,
        flags: served.snapshot.flags.size,
        ...(own.count > 0 ? { flagFiles: { errors: own.count, problems: own.problems } } : {}),
      },
    ];
  });
  return {
    initialized: holder.status !== 'starting',
    status: holder.status === 'ok' && anyDegraded ? ('degraded' as const) : holder.status,
    store: {
      kind: ctx.store.kind,
      reachable: holder.storeReachable,
      writable: ctx.store.writable,
      ...(ctx.store.changeFeed !== undefined ? { changeFeed: ctx.store.changeFeed } : {}),
      ...(holder.lastError && !holder.storeReachable ? { lastError: holder.lastError.message, lastErrorAt: holder.lastError.at } : {}),
    },
    ...(files.count > 0 ? { flagFiles: { errors: files.count, problems: files.problems } } : {}),
    revision: holder.revision,
    flags: holder.snapshot.flags.size,
    lastReload: holder.loadedAt.toISOString(),
    environments,
    events: ctx.events ? ctx.events.health : { status: 'off' as const },
  };
}

export function registerHealthRoutes(app: FastifyInstance, ctx: ServerContext): void {
  app.get(
    '/health',
    {
      config: { auth: 'none', rateLimit: false },
      schema: {
        tags: ['Monitoring'],
        summary: 'Health',
        description:
          '`initialized` (as GO Feature Flag answers) plus `status`: `ok`, or `degraded` while a store does not answer or a flag file has an error, the last good flags being served. Always 200 once started: evaluations keep working when degraded. No key needed, so it says nothing more: the details are at `GET /admin/v1/health`.',
        response: { 200: { type: 'object', properties: { initialized: { type: 'boolean' }, status } } },
      },
    },
    () => {
      const { initialized, status: overall } = healthReport(ctx);
      return { initialized, status: overall };
    },
  );

  app.get(
    '/admin/v1/health',
    {
      // Any admin key or signed-in user; a caller granted some environments sees only those.
      config: { auth: 'reader', access: 'caller' },
      schema: {
        tags: ['Monitoring'],
        summary: 'Health, in detail',
        description:
          'What `GET /health` sums up: the store (reachable, writable, its last error), broken flag files (file:line:col flag field: message), every project × environment with its revision, flag count and status, and the events buffer. A key or user granted some environments only sees those (the overall `status` counts them all).',
        response: { 200: reportSchema },
      },
    },
    (request) => {
      const principal = request.principal;
      return healthReport(ctx, (ref) => principal !== undefined && roleOn(principal, ref) !== undefined);
    },
  );
}
