import type { FlagDefinition, SegmentDefinition } from '@vexil/core/json';
import type { FlagData } from '../snapshot-file.js';
import type { FlagChange } from '../state.js';
import type { AssignmentAsk } from './types.js';
import { Backoff, sleep } from './backoff.js';
import { SseParser, type SseEvent } from './sse.js';
import { toFlagChange, type FlagSync, type SyncTarget } from './types.js';

export interface HttpSyncOptions {
  /** The server's base URL, without a trailing slash. */
  url: string;
  headers: Record<string, string>;
  /** Use `GET /v1/stream`; false: poll only. */
  stream: boolean;
  /** Polling period when the stream is off or unsupported; 0 disables polling. */
  pollIntervalMs: number;
  initialDelayMs: number;
  maxDelayMs: number;
  /** No byte (not even a heartbeat) for this long: the stream is considered dead and reopened. */
  idleTimeoutMs: number;
  /** Time allowed for the response headers of a stream or poll request, and for a whole poll. */
  requestTimeoutMs: number;
  fetch: typeof fetch;
  debug: (message: string) => void;
}

type Attempt =
  | { kind: 'live' } // the stream was open and delivering, then ended
  | { kind: 'failed'; reason: string }
  | { kind: 'unsupported'; reason: string }
  | { kind: 'fatal'; error: Error }
  | { kind: 'closed' };

/** How long to wait before checking again whether a server that had no stream has one now. */
const STREAM_RECHECK_MS = 5 * 60_000;

/**
 * Keeps the provider in sync with a Vexil server: the SSE stream (`GET /v1/stream`, resumed with `Last-Event-ID`),
 * with `POST /v1/flag/configuration` polling as fallback. Reconnects with exponential backoff and jitter.
 *
 * "Lost" is reported only when the stream is down *and* a poll fails too (or polling is off), and not on the first
 * quick reconnect after a stream that was working ends (a server restart behind a load balancer, a proxy timeout).
 */
export class HttpSync implements FlagSync {
  private readonly abort = new AbortController();
  private running: Promise<void> | undefined;
  /** The last event id this process received on the stream: sent as `Last-Event-ID` on reconnect. */
  private lastEventId: string | undefined;
  private etag: string | undefined;
  private streamCheckedAt = 0;
  private streamSupported: boolean;

  constructor(private readonly options: HttpSyncOptions) {
    this.streamSupported = options.stream;
  }

  start(target: SyncTarget): void {
    this.running ??= this.run(target).catch((error: unknown) => {
      target.lost(`sync stopped: ${(error as Error).message}`);
    });
  }

  async close(): Promise<void> {
    this.abort.abort();
    await this.running;
  }

  private get closed(): boolean {
    return this.abort.signal.aborted;
  }

  private async run(target: SyncTarget): Promise<void> {
    const backoff = new Backoff(this.options.initialDelayMs, this.options.maxDelayMs);
    while (!this.closed) {
      if (!this.streamSupported && this.options.stream && Date.now() - this.streamCheckedAt > STREAM_RECHECK_MS) {
        this.streamSupported = true;
      }
      if (this.streamSupported) {
        const attempt = await this.streamOnce(target);
        if (attempt.kind === 'closed' || this.closed) return;
        if (attempt.kind === 'fatal') return target.fatal(attempt.error);
        if (attempt.kind === 'live') {
          // It worked, then ended: reconnect at once (with a little jitter); "lost" is reported only if that fails.
          backoff.reset();
          await sleep(Math.random() * 100, this.abort.signal);
          continue;
        }
        if (attempt.kind === 'unsupported') {
          this.options.debug(`the server has no usable stream (${attempt.reason}): polling instead`);
          this.streamSupported = false;
          this.streamCheckedAt = Date.now();
          if (this.options.pollIntervalMs <= 0) {
            target.lost(`${attempt.reason}, and polling is disabled`);
            await sleep(backoff.next(), this.abort.signal);
          }
          continue;
        }
        // The stream failed: a poll may still get flags (a proxy that blocks streaming, for instance).
        const poll = this.options.pollIntervalMs > 0 ? await this.pollOnce(target) : { kind: 'failed' as const, reason: attempt.reason };
        if (this.closed) return;
        if (poll.kind === 'fatal') return target.fatal(poll.error);
        if (poll.kind !== 'ok') target.lost(attempt.reason);
        await sleep(backoff.next(), this.abort.signal);
        continue;
      }
      // Polling only. With `pollIntervalMs` 0 (never poll), the flags are fetched once, then never again.
      const poll = await this.pollOnce(target);
      if (this.closed) return;
      if (poll.kind === 'fatal') return target.fatal(poll.error);
      if (poll.kind === 'ok') {
        backoff.reset();
        if (this.options.pollIntervalMs > 0) await sleep(this.options.pollIntervalMs, this.abort.signal);
        else if (!this.options.stream) return;
        // No polling, and a server without a stream: nothing to do until it is time to look for a stream again.
        else await sleep(Math.max(1_000, STREAM_RECHECK_MS - (Date.now() - this.streamCheckedAt)), this.abort.signal);
      } else {
        target.lost(poll.reason);
        const delay = backoff.next();
        await sleep(this.options.pollIntervalMs > 0 ? Math.min(delay, this.options.pollIntervalMs) : delay, this.abort.signal);
      }
    }
  }

  /** Opens the stream and follows it until it ends. */
  private async streamOnce(target: SyncTarget): Promise<Attempt> {
    const controller = new AbortController();
    const onClose = () => controller.abort();
    this.abort.signal.addEventListener('abort', onClose, { once: true });
    let idleTimer: NodeJS.Timeout | undefined;
    let idle = false;
    const armIdle = (ms: number) => {
      clearTimeout(idleTimer);
      idleTimer = setTimeout(() => {
        idle = true;
        controller.abort();
      }, ms);
      idleTimer.unref();
    };
    try {
      const headers: Record<string, string> = { accept: 'text/event-stream', 'cache-control': 'no-cache', ...this.options.headers };
      const resumeFrom = this.lastEventId;
      if (resumeFrom !== undefined) headers['last-event-id'] = resumeFrom;
      armIdle(this.options.requestTimeoutMs);
      let response: Response;
      try {
        response = await this.options.fetch(`${this.options.url}/v1/stream`, { headers, signal: controller.signal });
      } catch (error) {
        if (this.closed) return { kind: 'closed' };
        return { kind: 'failed', reason: idle ? `no answer from ${this.options.url} within ${this.options.requestTimeoutMs} ms` : describe(error, this.options.url) };
      }
      if (response.status === 401 || response.status === 403) {
        await response.body?.cancel().catch(() => undefined);
        return { kind: 'fatal', error: new Error(`the server refused the SDK key (HTTP ${response.status} on /v1/stream)`) };
      }
      if (response.status === 404 || response.status === 405 || response.status === 501) {
        await response.body?.cancel().catch(() => undefined);
        return { kind: 'unsupported', reason: `HTTP ${response.status} on /v1/stream` };
      }
      if (!response.ok || !response.body) {
        await response.body?.cancel().catch(() => undefined);
        return { kind: 'failed', reason: `HTTP ${response.status} on /v1/stream` };
      }
      if (!(response.headers.get('content-type') ?? '').includes('text/event-stream')) {
        await response.body.cancel().catch(() => undefined);
        return { kind: 'unsupported', reason: `/v1/stream answered ${response.headers.get('content-type') ?? 'no content type'}` };
      }
      // A resumed stream replays only what was missed: what we hold is current from now on.
      if (resumeFrom !== undefined) target.resumed();
      armIdle(this.options.idleTimeoutMs);
      const parser = new SseParser(resumeFrom ?? '');
      const decoder = new TextDecoder();
      let delivered = resumeFrom !== undefined;
      const reader = response.body.getReader();
      try {
        for (;;) {
          const { done, value } = await reader.read();
          if (done) break;
          armIdle(this.options.idleTimeoutMs);
          const events = parser.push(decoder.decode(value, { stream: true }));
          if (events.length > 0 && this.handle(events, target)) delivered = true;
        }
      } catch (error) {
        if (this.closed) return { kind: 'closed' };
        const reason = idle ? `the stream was silent for ${this.options.idleTimeoutMs} ms` : `the stream broke (${describe(error, this.options.url)})`;
        return delivered ? { kind: 'live' } : { kind: 'failed', reason };
      }
      if (this.closed) return { kind: 'closed' };
      return delivered ? { kind: 'live' } : { kind: 'failed', reason: 'the stream ended before sending flags' };
    } finally {
      clearTimeout(idleTimer);
      this.abort.signal.removeEventListener('abort', onClose);
    }
  }

  /** Applies a batch of stream events; true when one of them carried flags. */
  private handle(events: SseEvent[], target: SyncTarget): boolean {
    let delivered = false;
    let batch: FlagChange[] = [];
    const flushBatch = () => {
      if (batch.length > 0) target.changes(batch);
      batch = [];
    };
    for (const event of events) {
      if (event.event === 'snapshot') {
        const data = parseJson(event.data);
        const full = toFlagData(data, event.id);
        if (!full) {
          this.options.debug('ignored a malformed snapshot event');
          continue;
        }
        flushBatch();
        target.full(full);
        delivered = true;
        if (event.id !== '') this.lastEventId = event.id;
      } else if (event.event === 'put' || event.event === 'delete' || event.event === 'segments') {
        const change = toFlagChange(event.event, parseJson(event.data), event.id);
        if (!change) {
          this.options.debug(`ignored a malformed ${event.event} event`);
          continue;
        }
        batch.push(change);
        delivered = true;
        if (event.id !== '') this.lastEventId = event.id;
      }
      // Other events (heartbeats, events of later versions) are ignored.
    }
    flushBatch();
    return delivered;
  }

  /**
   * Sticky assignments from the server: its OFREP answer for the unit's context, which it serves from the assignments
   * kept in its store. Undefined when one of them fails (this process then serves its own result, uncached).
   */
  async assign(asks: readonly AssignmentAsk[], context: Record<string, unknown>): Promise<string[] | undefined> {
    // Not an exposure: this process counts the exposure itself when it serves the variation.
    const headers: Record<string, string> = { 'content-type': 'application/json', accept: 'application/json', 'x-vexil-exposure': 'none', ...this.options.headers };
    const body = JSON.stringify({ context });
    try {
      return await Promise.all(
        asks.map(async (ask) => {
          const response = await this.options.fetch(`${this.options.url}/ofrep/v1/evaluate/flags/${encodeURIComponent(ask.flag)}`, {
            method: 'POST',
            headers,
            body,
            signal: AbortSignal.any([AbortSignal.timeout(this.options.requestTimeoutMs), this.abort.signal]),
          });
          const answer = (await response.json()) as { variant?: unknown };
          if (!response.ok || typeof answer.variant !== 'string') throw new Error(`HTTP ${response.status}`);
          return answer.variant;
        }),
      );
    } catch (error) {
      this.options.debug(`sticky assignment from the server failed: ${(error as Error).message}`);
      return undefined;
    }
  }

  private async pollOnce(target: SyncTarget): Promise<{ kind: 'ok' } | { kind: 'failed'; reason: string } | { kind: 'fatal'; error: Error }> {
    const headers: Record<string, string> = { 'content-type': 'application/json', accept: 'application/json', ...this.options.headers };
    if (this.etag) headers['if-none-match'] = this.etag;
    const controller = new AbortController();
    const onClose = () => controller.abort();
    this.abort.signal.addEventListener('abort', onClose, { once: true });
    const timer = setTimeout(() => controller.abort(), this.options.requestTimeoutMs);
    timer.unref();
    const signal = controller.signal;
    try {
      const response = await this.options.fetch(`${this.options.url}/v1/flag/configuration`, { method: 'POST', headers, body: '{}', signal });
      if (response.status === 304) {
        await response.body?.cancel().catch(() => undefined);
        target.resumed();
        return { kind: 'ok' };
      }
      if (response.status === 401 || response.status === 403) {
        await response.body?.cancel().catch(() => undefined);
        return { kind: 'fatal', error: new Error(`the server refused the SDK key (HTTP ${response.status} on /v1/flag/configuration)`) };
      }
      if (!response.ok) {
        await response.body?.cancel().catch(() => undefined);
        return { kind: 'failed', reason: `HTTP ${response.status} on /v1/flag/configuration` };
      }
      const data = toFlagData(await response.json(), response.headers.get('x-vexil-revision') ?? '');
      if (!data) return { kind: 'failed', reason: '/v1/flag/configuration answered something that is not a flag set' };
      this.etag = response.headers.get('etag') ?? undefined;
      target.full(data);
      return { kind: 'ok' };
    } catch (error) {
      return { kind: 'failed', reason: describe(error, this.options.url) };
    } finally {
      clearTimeout(timer);
      this.abort.signal.removeEventListener('abort', onClose);
    }
  }
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

/** `{revision?, flags: {key: definition | {flag, version}}, segments?}` → FlagData. */
export function toFlagData(data: unknown, id: string): FlagData | undefined {
  if (data === null || typeof data !== 'object') return undefined;
  const body = data as Record<string, unknown>;
  const isMap = (value: unknown) => value !== null && typeof value === 'object' && !Array.isArray(value);
  // /v1/flag/configuration serves GO Feature Flag's form in `flags` and Vexil's own definitions (segment references,
  // offVariation) in `vexilFlags`; older servers and the stream have only `flags`.
  const source = isMap(body.vexilFlags) ? body.vexilFlags : body.flags;
  if (!isMap(source)) return undefined;
  const flags: Record<string, FlagDefinition> = {};
  const versions: Record<string, number> = {};
  for (const [key, value] of Object.entries(source as Record<string, unknown>)) {
    if (value === null || typeof value !== 'object') continue;
    const entry = value as Record<string, unknown>;
    // Either a plain definition or { flag, version } as in snapshot documents.
    if (entry.flag !== null && typeof entry.flag === 'object' && Number.isSafeInteger(entry.version) && Object.keys(entry).length <= 3) {
      flags[key] = entry.flag as FlagDefinition;
      versions[key] = entry.version as number;
    } else flags[key] = entry as FlagDefinition;
  }
  if (body.versions !== null && typeof body.versions === 'object') {
    for (const [key, version] of Object.entries(body.versions as Record<string, unknown>)) {
      if (Number.isSafeInteger(version) && key in flags) versions[key] = version as number;
    }
  }
  const segments = body.segments !== null && typeof body.segments === 'object' && !Array.isArray(body.segments) ? (body.segments as Record<string, SegmentDefinition>) : {};
  const numericId = /^(?:[^:]*:)?(\d+)$/.exec(id)?.[1];
  const revision = Number.isSafeInteger(body.revision) ? (body.revision as number) : numericId !== undefined ? Number(numericId) : -1;
  return { flags, segments, revision, versions };
}

/** A short, key-free description of a network failure. */
function describe(error: unknown, url: string): string {
  const cause = (error as { cause?: { code?: string; message?: string } }).cause;
  const code = cause?.code ?? cause?.message ?? (error as Error)?.message ?? String(error);
  return `cannot reach ${safeUrl(url)} (${code})`;
}

/** The URL without credentials or query (which may carry a key). */
export function safeUrl(url: string): string {
  try {
    const parsed = new URL(url);
    return `${parsed.protocol}//${parsed.host}${parsed.pathname === '/' ? '' : parsed.pathname}`;
  } catch {
    return 'the server';
  }
}
