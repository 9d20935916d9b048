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

type Settings = postgres.Options<Record<string, postgres.PostgresType>>;

class PostgresDriver implements SqlDriver {
  readonly kind = 'postgres' as const;
  readonly #sql: postgres.Sql;
  readonly #listeners = new Set<() => Promise<void>>();

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
   * A dedicated connection for LISTEN. When it drops (server restart, `pg_terminate_backend`), it is re-established
   * with a growing delay, for as long as the subscription lives; `onReady` then tells the caller to catch up.
   */
  async listen(channel: string, handlers: ListenHandlers): Promise<() => Promise<void>> {
    let stopped = false;
    let timer: NodeJS.Timeout | undefined;
    let attempt = 0;
    let listening: Promise<void> | undefined;
    const client = postgres(this.url, {
      ...this.settings,
      max: 1,
      idle_timeout: null,
      max_lifetime: null,
      fetch_types: false,
      onnotify: (name: string, payload: string) => {
        if (name === channel) handlers.onNotify(payload);
      },
      onclose: () => schedule(),
    } as unknown as Settings);
    const subscribe = async () => {
      let ok = false;
      try {
        await client.unsafe(`LISTEN "${channel.replace(/"/g, '""')}"`);
        ok = true;
      } catch {
        // retried below
      }
      listening = undefined;
      if (stopped) return;
      if (ok) {
        attempt = 0;
        handlers.onReady();
      } else schedule();
    };
    const schedule = () => {
      if (stopped || timer || listening) return;
      timer = setTimeout(
        () => {
          timer = undefined;
          if (!stopped) listening = subscribe();
        },
        Math.min(20 * 2 ** attempt++, 1000),
      );
      timer.unref();
    };
    listening = subscribe();
    await listening;
    const stop = async () => {
      if (stopped) return;
      stopped = true;
      this.#listeners.delete(stop);
      if (timer) clearTimeout(timer);
      await client.end({ timeout: 1 }).catch(() => undefined);
    };
    this.#listeners.add(stop);
    return stop;
  }

  isUnavailable(error: unknown): boolean {
    return isUnavailable(error);
  }

  async close(): Promise<void> {
    for (const stop of [...this.#listeners]) await stop();
    await this.#sql.end({ timeout: 2 }).catch(() => undefined);
  }
}
