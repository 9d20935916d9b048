/**
 * The little a SQL store needs from a database client. Two drivers implement it over the same SQL: PGlite
 * (PostgreSQL compiled to WebAssembly, in this process) and a real PostgreSQL server through the `postgres` client.
 * Queries use `$1`-style parameters and return plain row objects.
 */
export type Row = Record<string, unknown>;

export interface SqlQueryable {
  query<T extends Row = Row>(text: string, params?: unknown[]): Promise<T[]>;
}

export interface TransactionOptions {
  /** A read-only transaction that sees one consistent snapshot of the database. */
  readOnly?: boolean;
}

export interface ListenHandlers {
  onNotify(payload: string): void;
  /** Called each time the subscription is (re)established: changes may have been missed before it, so catch up. */
  onReady(): void;
}

export interface SqlDriver extends SqlQueryable {
  readonly kind: 'pglite' | 'postgres';
  /** Runs `fn` in a transaction: committed when it resolves, rolled back when it throws. */
  transaction<T>(fn: (tx: SqlQueryable) => Promise<T>, options?: TransactionOptions): Promise<T>;
  /** Subscribes to a NOTIFY channel and keeps the subscription alive across reconnections until unsubscribed. */
  listen(channel: string, handlers: ListenHandlers): Promise<() => Promise<void>>;
  /** True for errors that mean "the database did not answer" rather than "the query was wrong". */
  isUnavailable(error: unknown): boolean;
  /** Embedded (PGlite) only: records in the folder's owner lock where this process serves. */
  advertise?(details: { url?: string; command?: string }): Promise<void>;
  close(): Promise<void>;
}
