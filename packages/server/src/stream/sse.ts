import type { ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { Counter, Gauge } from 'prom-client';
import { HttpError } from '../http/errors.js';
import { readKernelSendQueues } from './kernel-send-queues.js';

export type StreamName = 'sdk' | 'ofrep';

/** The environment a stream follows (`project/environment`): a change in one environment reaches only its streams. */
export const DEFAULT_STREAM_SCOPE = 'default/default';

/** A client whose unsent output passes this many times the backlog bound is dropped at once, without waiting. */
const HARD_BACKLOG_FACTOR = 4;

/** One connected server-sent-events client. */
export class SseClient {
  readonly raw: ServerResponse;
  readonly stream: StreamName;
  /** The environment this client follows (`project/environment`). */
  readonly scope: string;
  /** The last revision this client was sent (or told it has): later events only. */
  lastSent = 0;
  /** The id of the API key that opened the stream: revoking the key ends it. */
  keyId: string | undefined;
  closed = false;
  /** When the client's unsent output went over the backlog bound (ms), or undefined while it is under. */
  overSince: number | undefined;
  readonly #onClose: (client: SseClient) => void;
  readonly #hardLimit: number;

  constructor(raw: ServerResponse, stream: StreamName, onClose: (client: SseClient) => void, backlogBytes = 1024 * 1024, scope = DEFAULT_STREAM_SCOPE) {
    this.raw = raw;
    this.stream = stream;
    this.scope = scope;
    this.#onClose = onClose;
    this.#hardLimit = backlogBytes * HARD_BACKLOG_FACTOR;
  }

  write(text: string): void {
    if (this.closed) return;
    if (this.raw.writableLength > this.#hardLimit) {
      this.drop();
      return;
    }
    this.raw.write(text);
  }

  /**
   * Disconnects a client that does not read: the connection is reset rather than ended, so the output it left unread
   * is freed now (ending would keep it until it was read). The client reconnects and resumes with Last-Event-ID.
   */
  drop(): void {
    if (this.closed) return;
    this.closed = true;
    this.#onClose(this);
    // A reset discards what the kernel still holds for the connection; a plain close would keep it queued (behind
    // the unread data, for as long as the kernel keeps trying to deliver it).
    const socket = this.raw.socket as (Socket & { resetAndDestroy?: () => void }) | null;
    if (socket && typeof socket.resetAndDestroy === 'function' && !socket.destroyed) socket.resetAndDestroy();
    else this.raw.destroy();
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

export interface SseHubOptions {
  heartbeatMs: number;
  gauge?: Gauge<'stream'>;
  /** Counts refused and dropped streams, by stream and reason (`key`, `address`, `slow`). */
  refusals?: Counter<'stream' | 'reason'>;
  /** Open streams (both kinds together) per API key; more get 429. Default unlimited. */
  perKey?: number;
  /** Open streams per client address; more get 429. Default unlimited. */
  perAddress?: number;
  /** Unsent output a client may have before the drain timeout starts (bytes). Default 1 MiB. */
  backlogBytes?: number;
  /** How long a client may stay over the backlog bound before it is dropped (ms). Default 10,000. */
  drainTimeoutMs?: number;
  /** What the kernel holds per connection (`<local port>:<remote port>` → bytes). Default: Linux's /proc/net/tcp; false: none. */
  kernelQueues?: (() => Promise<Map<string, number> | undefined>) | false;
}

/** Every open event stream of the server: heartbeats, broadcast, caps, dropping slow clients, closing at shutdown. */
export class SseHub {
  /** Every client, by stream kind (for caps, sweeps and the gauge). */
  readonly #clients: Record<StreamName, Set<SseClient>> = { sdk: new Set(), ofrep: new Set() };
  /** The same clients by kind and environment: a broadcast touches only the changed environment's clients. */
  readonly #byScope: Record<StreamName, Map<string, Set<SseClient>>> = { sdk: new Map(), ofrep: new Map() };
  readonly #gauge: Gauge<'stream'> | undefined;
  readonly #refusals: Counter<'stream' | 'reason'> | undefined;
  readonly #perKey: number;
  readonly #perAddress: number;
  readonly #backlogBytes: number;
  readonly #drainTimeoutMs: number;
  readonly #byKey = new Map<string, number>();
  readonly #byAddress = new Map<string, number>();
  #timer: NodeJS.Timeout | undefined;
  #sweepTimer: NodeJS.Timeout | undefined;
  #sweeping = false;
  readonly #kernelQueues: (() => Promise<Map<string, number> | undefined>) | undefined;
  #closing = false;

  constructor(options: SseHubOptions) {
    this.#gauge = options.gauge;
    this.#refusals = options.refusals;
    this.#perKey = options.perKey ?? Infinity;
    this.#perAddress = options.perAddress ?? Infinity;
    this.#backlogBytes = options.backlogBytes ?? 1024 * 1024;
    this.#drainTimeoutMs = options.drainTimeoutMs ?? 10_000;
    if (options.heartbeatMs > 0) {
      this.#timer = setInterval(() => this.heartbeat(), options.heartbeatMs);
      this.#timer.unref();
    }
    this.#kernelQueues = options.kernelQueues === false ? undefined : (options.kernelQueues ?? (process.platform === 'linux' ? readKernelSendQueues : undefined));
    this.#sweepTimer = setInterval(() => void this.sweep(), Math.max(10, Math.min(1000, Math.floor(this.#drainTimeoutMs / 4))));
    this.#sweepTimer.unref();
  }

  /**
   * Drops the clients whose unsent output (what Node holds, plus what the kernel holds for the connection, on Linux)
   * stayed over the backlog bound for longer than the drain timeout: they do not read, and each would otherwise pin
   * its backlog, a whole snapshot, in memory.
   */
  async sweep(now = Date.now()): Promise<void> {
    if (this.#sweeping || (this.#clients.sdk.size === 0 && this.#clients.ofrep.size === 0)) return;
    this.#sweeping = true;
    try {
      const kernel = this.#kernelQueues ? await this.#kernelQueues().catch(() => undefined) : undefined;
      for (const stream of ['sdk', 'ofrep'] as const) {
        for (const client of [...this.#clients[stream]]) {
          const socket = client.raw.socket;
          const inKernel = kernel && socket ? (kernel.get(`${socket.localPort}:${socket.remotePort}`) ?? 0) : 0;
          if (client.raw.writableLength + inKernel <= this.#backlogBytes) {
            client.overSince = undefined;
            continue;
          }
          client.overSince ??= now;
          if (now - client.overSince >= this.#drainTimeoutMs) {
            this.#refusals?.inc({ stream, reason: 'slow' });
            client.drop();
          }
        }
      }
    } finally {
      this.#sweeping = false;
    }
  }

  /** Open streams of a kind: of one environment when `scope` is given, else of all. */
  count(stream: StreamName, scope?: string): number {
    return scope === undefined ? this.#clients[stream].size : (this.#byScope[stream].get(scope)?.size ?? 0);
  }

  clients(stream: StreamName, scope?: string): ReadonlySet<SseClient> {
    return scope === undefined ? this.#clients[stream] : (this.#byScope[stream].get(scope) ?? NO_CLIENTS);
  }

  /**
   * Takes over the response: writes the event-stream headers (keeping those already set on the reply, e.g. CORS)
   * and registers the client until the connection closes.
   */
  open(request: FastifyRequest, reply: FastifyReply, stream: StreamName, retryMs = 1000, scope = DEFAULT_STREAM_SCOPE): SseClient {
    if (this.#closing) throw Object.assign(new Error('the server is shutting down'), { statusCode: 503 });
    const key = request.principal?.id ?? '';
    const address = request.ip;
    if ((this.#byKey.get(key) ?? 0) >= this.#perKey) {
      this.#refusals?.inc({ stream, reason: 'key' });
      throw new HttpError(429, 'too_many_streams', `this API key has ${this.#perKey} open event streams, the most allowed (streamsPerKey): close one first`, undefined, { 'retry-after': '5' });
    }
    if ((this.#byAddress.get(address) ?? 0) >= this.#perAddress) {
      this.#refusals?.inc({ stream, reason: 'address' });
      throw new HttpError(429, 'too_many_streams', `this address has ${this.#perAddress} open event streams, the most allowed (streamsPerAddress): close one first`, undefined, { 'retry-after': '5' });
    }
    this.#byKey.set(key, (this.#byKey.get(key) ?? 0) + 1);
    this.#byAddress.set(address, (this.#byAddress.get(address) ?? 0) + 1);
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
    const client = new SseClient(
      raw,
      stream,
      (closed) => {
        if (this.#clients[stream].delete(closed)) this.#gauge?.set({ stream }, this.#clients[stream].size);
        const inScope = this.#byScope[stream].get(scope);
        if (inScope?.delete(closed) && inScope.size === 0) this.#byScope[stream].delete(scope);
        release(this.#byKey, key);
        release(this.#byAddress, address);
      },
      this.#backlogBytes,
      scope,
    );
    client.keyId = request.principal?.id;
    this.#clients[stream].add(client);
    let inScope = this.#byScope[stream].get(scope);
    if (!inScope) this.#byScope[stream].set(scope, (inScope = new Set()));
    inScope.add(client);
    this.#gauge?.set({ stream }, this.#clients[stream].size);
    raw.on('close', () => client.close());
    raw.on('error', () => client.close());
    raw.write(`retry: ${retryMs}\n: connected\n\n`);
    return client;
  }

  /** Sends to the streams of one environment (default/default unless `scope` is given). */
  broadcast(stream: StreamName, text: string, revision?: number, scope = DEFAULT_STREAM_SCOPE): void {
    const clients = this.#byScope[stream].get(scope);
    if (!clients) return;
    for (const client of clients) {
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
    clearInterval(this.#sweepTimer);
    for (const stream of ['sdk', 'ofrep'] as const) for (const client of [...this.#clients[stream]]) client.close(true);
  }
}

const NO_CLIENTS: ReadonlySet<SseClient> = new Set();

function release(counts: Map<string, number>, name: string): void {
  const left = (counts.get(name) ?? 0) - 1;
  if (left > 0) counts.set(name, left);
  else counts.delete(name);
}
