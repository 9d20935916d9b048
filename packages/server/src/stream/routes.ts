import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { ChangeEvent } from '@vexil/store';
import type { ServerContext } from '../context.js';
import type { SnapshotChange, SnapshotHolder } from '../snapshot/holder.js';
import { sseMessage, type SseClient } from './sse.js';

/** The event for one store change: `put`, `delete` or `segments`, with the revision as `id`. */
export function changeMessage(event: ChangeEvent): string {
  switch (event.type) {
    case 'put':
      return sseMessage('put', event.revision, JSON.stringify({ revision: event.revision, key: event.key, flag: event.flag, version: event.version, at: event.at }));
    case 'delete':
      return sseMessage('delete', event.revision, JSON.stringify({ revision: event.revision, key: event.key, version: event.version, at: event.at }));
    case 'segments':
      return sseMessage('segments', event.revision, JSON.stringify({ revision: event.revision, segments: event.segments, at: event.at }));
  }
}

/** The full state, as one `snapshot` event; serialised once per revision. */
class SnapshotMessages {
  #revision = -1;
  #text = '';
  constructor(private readonly holder: SnapshotHolder) {}

  current(): { revision: number; text: string } {
    const revision = this.holder.appliedRevision;
    if (revision !== this.#revision) {
      const versions: Record<string, number> = {};
      for (const [key, held] of this.holder.flags) versions[key] = held.version;
      const data = JSON.stringify({ revision, flags: this.holder.definitions(), segments: this.holder.segments, versions });
      this.#text = sseMessage('snapshot', revision, data);
      this.#revision = revision;
    }
    return { revision, text: this.#text };
  }
}

export function registerStreamRoutes(app: FastifyInstance, ctx: ServerContext): void {
  const { holder, sse } = ctx;
  const snapshots = new SnapshotMessages(holder);

  const sendSnapshot = (client: SseClient): void => {
    const { revision, text } = snapshots.current();
    client.write(text);
    client.lastSent = revision;
  };

  app.get<{ Querystring: { key?: string; lastEventId?: string } }>(
    '/v1/stream',
    {
      exposeHeadRoute: false,
      config: { auth: 'sdk', queryKey: true, rateLimit: false },
      schema: {
        tags: ['Streaming'],
        summary: 'Flag changes for in-process SDKs (SSE)',
        description: [
          'Server-sent events. On connect: `event: snapshot` (id = revision; data `{revision, flags: {key: definition}, segments, versions}`).',
          'Then every change: `event: put` (data `{revision, key, flag, version, at}`), `event: delete` (`{revision, key, version, at}`) or `event: segments` (`{revision, segments, at}`), each with its revision as `id`.',
          '`Last-Event-ID` (header, or `?lastEventId=`) resumes without a gap from the changes kept in memory; when those no longer reach back far enough, a full `snapshot` is sent instead.',
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
      const lastEventId = raw !== undefined && /^[0-9]{1,15}$/.test(raw.trim()) ? Number(raw.trim()) : undefined;
      const client = sse.open(request, reply, 'sdk');
      if (lastEventId === undefined) return sendSnapshot(client);
      if (lastEventId >= holder.appliedRevision) {
        // Current (or ahead of this server: another server already sent it more): only later changes.
        client.lastSent = lastEventId;
        return;
      }
      const missed = holder.changes.since(lastEventId);
      if (!missed) return sendSnapshot(client);
      for (const event of missed) client.write(changeMessage(event));
      client.lastSent = holder.appliedRevision;
    },
  );

  holder.on('change', (change: SnapshotChange) => {
    if (sse.count('sdk') === 0) return;
    if (change.resync) {
      const { revision, text } = snapshots.current();
      for (const client of sse.clients('sdk')) {
        client.write(text);
        client.lastSent = revision;
      }
      return;
    }
    for (const event of change.events) sse.broadcast('sdk', changeMessage(event), event.revision);
  });
}
