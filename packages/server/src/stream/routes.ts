import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { ChangeEvent } from '@vexil/store';
import type { ServerContext } from '../context.js';
import type { SnapshotChange, SnapshotHolder } from '../snapshot/holder.js';
import type { EnvironmentScope } from '../environments/registry.js';
import { sseMessage, type SseClient } from './sse.js';
import { parseEventId } from './store-id.js';

/** An event id: `<storeId>:<revision>`. */
export function eventId(storeId: string, revision: number): string {
  return `${storeId}:${revision}`;
}

/** The event for one store change: `put`, `delete` or `segments`, with `<storeId>:<revision>` as `id`. */
export function changeMessage(event: ChangeEvent, storeId: string): string {
  const id = eventId(storeId, event.revision);
  switch (event.type) {
    case 'put':
      return sseMessage('put', id, JSON.stringify({ revision: event.revision, key: event.key, flag: event.flag, version: event.version, at: event.at }));
    case 'delete':
      return sseMessage('delete', id, JSON.stringify({ revision: event.revision, key: event.key, version: event.version, at: event.at }));
    case 'segments':
      return sseMessage('segments', id, JSON.stringify({ revision: event.revision, segments: event.segments, at: event.at }));
  }
}

/** The full state, as one `snapshot` event; serialised once per revision. */
class SnapshotMessages {
  #revision = -1;
  #storeId = '';
  #text = '';
  constructor(
    private readonly holder: SnapshotHolder,
    private readonly storeIdNow: () => string,
  ) {}

  current(): { revision: number; text: string } {
    const revision = this.holder.appliedRevision;
    const storeId = this.storeIdNow();
    if (revision !== this.#revision || storeId !== this.#storeId) {
      const versions: Record<string, number> = {};
      for (const [key, held] of this.holder.flags) versions[key] = held.version;
      const data = JSON.stringify({ revision, flags: this.holder.definitions(), segments: this.holder.segments, versions });
      this.#text = sseMessage('snapshot', eventId(storeId, revision), data);
      this.#revision = revision;
      this.#storeId = storeId;
    }
    return { revision, text: this.#text };
  }
}

/**
 * The id of an environment's data in event ids: the store's id for default/default (as before environments), with
 * `.e-<environment id>` for the others, so an id from one environment never resumes in another (nor in one deleted
 * and created again: environment ids are never reused).
 */
export function streamIdOf(storeId: string, scope: EnvironmentScope): string {
  return scope.isDefault ? storeId : `${storeId}.e-${scope.record.id}`;
}

export function registerStreamRoutes(app: FastifyInstance, ctx: ServerContext): void {
  const { sse } = ctx;
  const resumeWaitMs = ctx.streamResumeWaitMs;
  // One serialised snapshot per environment, made when its first stream asks.
  const snapshotsOf = new WeakMap<EnvironmentScope, SnapshotMessages>();
  const snapshots = (scope: EnvironmentScope): SnapshotMessages => {
    let messages = snapshotsOf.get(scope);
    // Read at each use: the store id changes when the store is found reset (see ServerContext.storeId).
    if (!messages) snapshotsOf.set(scope, (messages = new SnapshotMessages(scope.holder, () => streamIdOf(ctx.storeId, scope))));
    return messages;
  };

  const sendScopeSnapshot = (client: SseClient, scope: EnvironmentScope): void => {
    const { revision, text } = snapshots(scope).current();
    client.write(text);
    client.lastSent = revision;
  };

  app.get<{ Querystring: { key?: string; lastEventId?: string } }>(
    '/v1/stream',
    {
      exposeHeadRoute: false,
      config: { auth: 'sdk', queryKey: true, rateLimit: false, produces: 'text/event-stream' },
      schema: {
        tags: ['Streaming'],
        summary: 'Flag changes for in-process SDKs (SSE)',
        description: [
          'Server-sent events. Event ids are `<storeId>:<revision>` (the store id is stable for one store). On connect: `event: snapshot` (data `{revision, flags: {key: definition}, segments, versions}`).',
          'Then every change: `event: put` (data `{revision, key, flag, version, at}`), `event: delete` (`{revision, key, version, at}`) or `event: segments` (`{revision, segments, at}`), in revision order.',
          '`Last-Event-ID` (header, or `?lastEventId=`) resumes without a gap from the changes kept in memory. A full `snapshot` is sent instead when those no longer reach back far enough, when the id names another store, when a plain numeric id is ahead of this server, or when an id of this store stays ahead of this server for longer than the resume wait.',
          'Comment lines (`: ping`) every 15 s keep the connection open. The key may be sent as `?key=`.',
        ].join(' '),
        querystring: {
          type: 'object',
          properties: { key: { type: 'string' }, lastEventId: { type: 'string' } },
          additionalProperties: true,
        },
      },
    },
    (request: FastifyRequest<{ Querystring: { key?: string; lastEventId?: string } }>, reply: FastifyReply) => {
      const header = request.headers['last-event-id'];
      const raw = typeof header === 'string' && header !== '' ? header : request.query.lastEventId;
      const resume = parseEventId(raw);
      const scope = request.environment;
      const holder = scope.holder;
      const client = sse.open(request, reply, 'sdk', undefined, scope.name);
      const sendSnapshot = (to: SseClient) => sendScopeSnapshot(to, scope);
      // No (readable) id, or an id from another store or environment (or from this one before a reset): the whole state.
      const storeId = streamIdOf(ctx.storeId, scope);
      if (!resume || (resume.storeId !== undefined && resume.storeId !== storeId)) return sendSnapshot(client);
      const from = resume.revision;
      const applied = holder.appliedRevision;
      if (from === applied) {
        // Current: only later changes.
        client.lastSent = from;
        return;
      }
      if (from < applied) {
        const missed = holder.changes.since(from);
        if (!missed) return sendSnapshot(client);
        for (const event of missed) client.write(changeMessage(event, storeId));
        client.lastSent = applied;
        return;
      }
      // Ahead of this server. A plain numeric id cannot tell "this store, another server further ahead" from "a store
      // that was reset since": never take it as current.
      if (resume.storeId === undefined || resumeWaitMs <= 0) return sendSnapshot(client);
      // This store, and a client coming from a server further ahead: later changes only, once this server has caught
      // up; a server that does not catch up in time (degraded, or the store was reset) sends the whole state.
      client.lastSent = from;
      void holder.waitFor(from, resumeWaitMs).then((reached) => {
        if (reached || client.closed || client.lastSent !== from) return;
        sendSnapshot(client);
      });
    },
  );

  // Each environment's changes reach only the streams of keys serving that environment.
  ctx.environments.each((scope) => {
    const { holder, name } = scope;
    const onChange = (change: SnapshotChange) => {
      if (sse.count('sdk', name) === 0) return;
      if (change.resync) {
        const { revision, text } = snapshots(scope).current();
        for (const client of sse.clients('sdk', name)) {
          client.write(text);
          client.lastSent = revision;
        }
        return;
      }
      const storeId = streamIdOf(ctx.storeId, scope);
      for (const event of change.events) sse.broadcast('sdk', changeMessage(event, storeId), event.revision, name);
    };
    holder.on('change', onChange);
    // An environment no longer served (deleted): its streams end; their keys then fail to authenticate or route.
    return () => {
      holder.off('change', onChange);
      for (const client of [...sse.clients('sdk', name)]) client.close(true);
    };
  });
}
