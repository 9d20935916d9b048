import type { ServerResponse } from 'node:http';
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { Gauge } from 'prom-client';

export type StreamName = 'sdk' | 'ofrep';

/** Drop a client whose unsent output grows past this (it can reconnect and resume with Last-Event-ID). */
const MAX_BUFFERED_BYTES = 4 * 1024 * 1024;

/** One connected server-sent-events client. */
export class SseClient {
  readonly raw: ServerResponse;
  readonly stream: StreamName;
  /** The last revision this client was sent (or told it has): later events only. */
  lastSent = 0;
  /** The id of the API key that opened the stream: revoking the key ends it. */
  keyId: string | undefined;
  closed = false;
  readonly #onClose: (client: SseClient) => void;

  constructor(raw: ServerResponse, stream: StreamName, onClose: (client: SseClient) => void) {
    this.raw = raw;
    this.stream = stream;
    this.#onClose = onClose;
  }

  write(text: string): void {
    if (this.closed) return;
    if (this.raw.writableLength > MAX_BUFFERED_BYTES) {
      this.close();
      return;
    }
    this.raw.write(text);
  }

  /** Ends the stream. `hangUp`: also close the connection (shutdown), rather than keep it for another request. */
  close(hangUp = false): void {
    if (this.closed) return;
    this.closed = true;
    this.#onClose(this);
    if (!this.raw.writableEnded) this.raw.end();
    // After the stream's last chunk: a keep-alive client would otherwise hold the connection (and a closing server)
    // open until its own idle timeout.
    if (hangUp) this.raw.socket?.end();
  }
}

/** `id:`/`event:`/`data:` lines of one event; `data` is JSON (one line). */
export function sseMessage(event: string | undefined, id: number | string | undefined, data: string): string {
  let text = '';
  if (id !== undefined) text += `id: ${id}\n`;
  if (event !== undefined) text += `event: ${event}\n`;
  return `${text}data: ${data}\n\n`;
}

/** Every open event stream of the server: heartbeats, broadcast, and closing them all at shutdown. */
export class SseHub {
  readonly #clients: Record<StreamName, Set<SseClient>> = { sdk: new Set(), ofrep: new Set() };
  readonly #gauge: Gauge<'stream'> | undefined;
  #timer: NodeJS.Timeout | undefined;
  #closing = false;

  constructor(options: { heartbeatMs: number; gauge?: Gauge<'stream'> }) {
    this.#gauge = options.gauge;
    if (options.heartbeatMs > 0) {
      this.#timer = setInterval(() => this.heartbeat(), options.heartbeatMs);
      this.#timer.unref();
    }
  }

  count(stream: StreamName): number {
    return this.#clients[stream].size;
  }

  clients(stream: StreamName): ReadonlySet<SseClient> {
    return this.#clients[stream];
  }

  /**
   * Takes over the response: writes the event-stream headers (keeping those already set on the reply, e.g. CORS)
   * and registers the client until the connection closes.
   */
  open(request: FastifyRequest, reply: FastifyReply, stream: StreamName, retryMs = 1000): SseClient {
    if (this.#closing) throw Object.assign(new Error('the server is shutting down'), { statusCode: 503 });
    reply.hijack();
    const raw = reply.raw;
    const headers: Record<string, string | number | string[]> = {};
    for (const [name, value] of Object.entries(reply.getHeaders())) if (value !== undefined) headers[name] = value as string;
    headers['content-type'] = 'text/event-stream; charset=utf-8';
    headers['cache-control'] = 'no-cache, no-transform';
    headers['x-accel-buffering'] = 'no';
    headers['x-request-id'] = String(request.id);
    if (request.raw.httpVersionMajor < 2) headers.connection = 'keep-alive';
    raw.writeHead(200, headers);
    raw.socket?.setNoDelay(true);
    raw.socket?.setTimeout(0);
    const client = new SseClient(raw, stream, (closed) => {
      if (this.#clients[stream].delete(closed)) this.#gauge?.set({ stream }, this.#clients[stream].size);
    });
    client.keyId = request.principal?.id;
    this.#clients[stream].add(client);
    this.#gauge?.set({ stream }, this.#clients[stream].size);
    raw.on('close', () => client.close());
    raw.on('error', () => client.close());
    raw.write(`retry: ${retryMs}\n: connected\n\n`);
    return client;
  }

  broadcast(stream: StreamName, text: string, revision?: number): void {
    for (const client of this.#clients[stream]) {
      if (revision !== undefined) {
        if (revision <= client.lastSent) continue;
        client.lastSent = revision;
      }
      client.write(text);
    }
  }

  /** Ends every stream opened with the key `keyId` (it was revoked). Returns how many. */
  closeKey(keyId: string): number {
    let closed = 0;
    for (const stream of ['sdk', 'ofrep'] as const)
      for (const client of [...this.#clients[stream]])
        if (client.keyId === keyId) {
          client.close(true);
          closed++;
        }
    return closed;
  }

  heartbeat(): void {
    for (const stream of ['sdk', 'ofrep'] as const) for (const client of this.#clients[stream]) client.write(': ping\n\n');
  }

  /** Ends every stream (graceful shutdown): clients reconnect elsewhere and resume. */
  closeAll(): void {
    this.#closing = true;
    clearInterval(this.#timer);
    for (const stream of ['sdk', 'ofrep'] as const) for (const client of [...this.#clients[stream]]) client.close(true);
  }
}
