// The rollout of a flag in the admin API: its plan, state and history, and a person's commands.
import type { FastifyInstance } from 'fastify';
import { normalizeRolloutPlan } from '@vexil/core';
import { nextCheckAt, RolloutCommandError, type ManualCommand } from '@vexil/analysis';
import type { ServerContext } from '../context.js';
import { HttpError } from '../http/errors.js';
import { errorSchema, flagKeyParams, looseObject } from '../http/schemas.js';
import { applyRolloutCommand, NotStartedError, rolloutLeaseName } from './controller.js';
import { environmentRoutes } from '../environments/request.js';
import type { EnvironmentScope } from '../environments/registry.js';

export const ROLLOUT_COMMANDS: readonly ManualCommand[] = ['approve', 'pause', 'resume', 'abort', 'skip'];

export function registerRolloutRoutes(app: FastifyInstance, ctx: ServerContext, clock: () => number = Date.now): void {
  const perEnvironment = environmentRoutes(app);

  const load = async ({ store }: EnvironmentScope, key: string) => {
    const stored = await store.get(key);
    if (!stored) throw new HttpError(404, 'not_found', `flag "${key}" does not exist`, { key });
    if (!stored.flag.rollout) throw new HttpError(404, 'no_rollout', `flag "${key}" has no rollout plan`, { key });
    return stored;
  };

  perEnvironment.get<{ Params: { key: string } }>(
    '/admin/v1/flags/:key/rollout',
    {
      config: { auth: 'reader', access: 'environment' },
      schema: {
        tags: ['Admin'],
        summary: "A flag's rollout: plan, state, history of checks",
        description:
          'The plan as the controller reads it (durations in ms, step percentages), the state (status, step, served percent, Argo Rollouts counters), every recent check with its figures, thresholds and decision, when the next check is due, and which server leads the controller.',
        params: flagKeyParams,
        response: { 200: looseObject, 404: errorSchema },
      },
    },
    async (request) => {
      const scope = request.environment;
      const stored = await load(scope, request.params.key);
      const plan = normalizeRolloutPlan(stored.flag.rollout!);
      const state = stored.flag.rolloutState;
      const due = state ? nextCheckAt(plan, state) : undefined;
      const lease = await ctx.store.leases?.get(rolloutLeaseName(scope.ref)).catch(() => undefined);
      return {
        key: stored.key,
        version: stored.version,
        status: state?.status ?? 'not-started',
        percent: state?.percent ?? 0,
        plan,
        state: state ?? null,
        nextCheckAt: due !== undefined ? new Date(due).toISOString() : null,
        controller: lease ? { holder: lease.holder, expiresAt: lease.expiresAt } : null,
      };
    },
  );

  perEnvironment.post<{ Params: { key: string; command: string }; Body: { reason?: string } | undefined }>(
    '/admin/v1/flags/:key/rollout/:command',
    {
      config: { auth: 'editor', access: 'environment' },
      schema: {
        tags: ['Admin'],
        summary: 'Approve, pause, resume, abort or skip a step of a rollout',
        description:
          '`approve`: serve the step waiting for approval. `pause`: stop checking and advancing (the current percentage keeps being served). `resume`: restart the current step with fresh counters. `abort`: serve the baseline to everyone and end the rollout. `skip`: end the current step now and go to the next (or promote). One audited flag write by the caller; 409 when the command does not apply to the rollout\'s state.',
        params: { type: 'object', properties: { key: flagKeyParams.properties.key, command: { type: 'string', enum: [...ROLLOUT_COMMANDS] } }, required: ['key', 'command'] },
        body: { type: ['object', 'null'], properties: { reason: { type: 'string', maxLength: 2000 } }, additionalProperties: false },
        response: { 200: looseObject, 404: errorSchema, 409: errorSchema },
      },
    },
    async (request) => {
      const { store, holder } = request.environment;
      if (!store.writable) throw new HttpError(405, 'read_only_store', `the ${store.kind} store is read-only`);
      const stored = await load(request.environment, request.params.key);
      const command = request.params.command as ManualCommand;
      try {
        const { decision, reason, version, revision } = await applyRolloutCommand(store, stored, command, request.principal?.name ?? 'anonymous', clock(), request.body?.reason);
        await holder.waitFor(revision, 2000);
        return { key: stored.key, command, action: decision.action, status: decision.state.status, percent: decision.state.percent, reason, version, revision };
      } catch (error) {
        if (error instanceof RolloutCommandError || error instanceof NotStartedError) throw new HttpError(409, 'rollout_state', error.message, { key: stored.key, command });
        throw error;
      }
    },
  );
}
