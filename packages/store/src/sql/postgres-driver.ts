import postgres from 'postgres';
import type { ListenHandlers, Row, SqlDriver, SqlQueryable, TransactionOptions } from './driver.js';

export interface PostgresDriverOptions {
  /** Seconds to wait for a connection before failing (default 5): a server that is down fails writes quickly. */
  connectTimeoutSeconds?: number;
  /** Pool size (default 10). */
  maxConnections?: number;
  /** `application_name` of the connections, visible in `pg_stat_activity` (default `vexil`). */
  applicationName?: string;
}

/** Network-level failures of `postgres` and PostgreSQL's own "connection" and "operator intervention" classes. */
const UNAVAILABLE_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EPIPE',
  'CONNECT_TIMEOUT',
  'CONNECTION_CLOSED',
  'CONNECTION_ENDED',
  'CONNECTION_DESTROYED',
]);

function isUnavailable(error: unknown): boolean {
  if (!(error instanceof Error)) return false;
  const code = (error as { code?: unknown }).code;
  if (typeof code !== 'string') return false;
  return UNAVAILABLE_CODES.has(code) || code.startsWith('08') || code.startsWith('57P');
}

/** Reconnection delay in seconds after a failed attempt: short at first, never more than a second. */
const backoff = (attempt: number) => Math.min(0.05 * 2 ** attempt, 1);

export function openPostgresDriver(url: string, options: PostgresDriverOptions = {}): SqlDriver {
  const settings = {
    max: options.maxConnections ?? 10,
    connect_timeout: options.connectTimeoutSeconds ?? 5,
    idle_timeout: 60,
    backoff,
    // The client fetches array types on every new connection without handling a failure of that query: a connection
    // lost at that moment would surface as an unhandled rejection. The store uses no array types.
    fetch_types: false,
    onnotice: () => undefined,
    connection: { application_name: options.applicationName ?? 'vexil' },
  };
  return new PostgresDriver(url, settings);
}

interface SharedListener {
  subscribers: Map<string, Set<ListenHandlers>>;
  subscribe(channels: string[]): Promise<boolean>;
  unsubscribe(channel: string): Promise<void>;
  end(): Promise<void>;
}

type Settings = postgres.Options<Record<string, postgres.PostgresType>>;

class PostgresDriver implements SqlDriver {
  readonly kind = 'postgres' as const;
  readonly #sql: postgres.Sql;
  /** The unsubscribe functions handed out by `listen`, all run on close. */
  readonly #stops = new Set<() => Promise<void>>();
  #listener: SharedListener | undefined;

  constructor(
    private readonly url: string,
    private readonly settings: Settings,
  ) {
    this.#sql = postgres(url, settings);
  }

  async query<T extends Row = Row>(text: string, params: unknown[] = []): Promise<T[]> {
    return (await this.#sql.unsafe(text, params as postgres.ParameterOrJSON<never>[])) as unknown as T[];
  }

  async transaction<T>(fn: (tx: SqlQueryable) => Promise<T>, options: TransactionOptions = {}): Promise<T> {
    const mode = options.readOnly ? 'isolation level repeatable read read only' : '';
    const result = await this.#sql.begin(mode, (tx) =>
      fn({
        query: async <R extends Row = Row>(text: string, params: unknown[] = []) =>
          (await tx.unsafe(text, params as postgres.ParameterOrJSON<never>[])) as unknown as R[],
      }),
    );
    return result as T;
  }

  /**
   * One dedicated connection carries every LISTEN of this driver, whatever the number of channels (a store and each of
   * its environments listen on their own channel: 100 environments must not hold 100 connections). When it drops
   * (server restart, `pg_terminate_backend`), it is re-established with a growing delay and every channel is listened
   * to again; each subscriber's `onReady` then tells it to catch up.
   */
  async listen(channel: string, handlers: ListenHandlers): Promise<() => Promise<void>> {
    const listener = (this.#listener ??= this.#openListener());
    const added = listener.subscribers.get(channel);
    if (added) added.add(handlers);
    else listener.subscribers.set(channel, new Set([handlers]));
    // A new channel is LISTENed to now; a channel already listened to needs nothing but this subscriber's catch-up.
    if (!added && (await listener.subscribe([channel]))) handlers.onReady();
    else if (added) handlers.onReady();
    let stopped = false;
    const stop = async () => {
      if (stopped) return;
      stopped = true;
      this.#stops.delete(stop);
      const set = listener.subscribers.get(channel);
      set?.delete(handlers);
      if (set && set.size === 0) {
        listener.subscribers.delete(channel);
        await listener.unsubscribe(channel);
      }
      if (listener.subscribers.size === 0 && this.#listener === listener) {
        this.#listener = undefined;
        await listener.end();
      }
    };
    this.#stops.add(stop);
    return stop;
  }

  #openListener(): SharedListener {
    const subscribers = new Map<string, Set<ListenHandlers>>();
    let ended = false;
    let timer: NodeJS.Timeout | undefined;
    let attempt = 0;
    let resubscribing = false;
    const quote = (name: string) => `"${name.replace(/"/g, '""')}"`;
    const client = postgres(this.url, {
      ...this.settings,
      max: 1,
      idle_timeout: null,
      max_lifetime: null,
      fetch_types: false,
      onnotify: (name: string, payload: string) => {
        for (const handlers of subscribers.get(name) ?? []) handlers.onNotify(payload);
      },
      onclose: () => schedule(),
    } as unknown as Settings);
    /** LISTENs to `channels`; false (and a reconnection scheduled) when the server did not answer. */
    const subscribe = async (channels: string[]): Promise<boolean> => {
      try {
        for (const name of channels) await client.unsafe(`LISTEN ${quote(name)}`);
        return true;
      } catch {
        schedule();
        return false;
      }
    };
    const schedule = () => {
      if (ended || timer || resubscribing) return;
      timer = setTimeout(
        async () => {
          timer = undefined;
          if (ended) return;
          resubscribing = true;
          let ok = false;
          try {
            for (const name of subscribers.keys()) await client.unsafe(`LISTEN ${quote(name)}`);
            ok = true;
          } catch {
            // tried again below
          }
          resubscribing = false;
          if (ended) return;
          if (!ok) return schedule();
          attempt = 0;
          for (const set of [...subscribers.values()]) for (const handlers of [...set]) handlers.onReady();
        },
        Math.min(20 * 2 ** attempt++, 1000),
      );
      timer.unref();
    };
    return {
      subscribers,
      subscribe,
      async unsubscribe(name) {
        await client.unsafe(`UNLISTEN ${quote(name)}`).catch(() => undefined);
      },
      async end() {
        ended = true;
        if (timer) clearTimeout(timer);
        await client.end({ timeout: 1 }).catch(() => undefined);
      },
    };
  }

  isUnavailable(error: unknown): boolean {
    return isUnavailable(error);
  }

  async close(): Promise<void> {
    for (const stop of [...this.#stops]) await stop();
    await this.#sql.end({ timeout: 2 }).catch(() => undefined);
  }
}
