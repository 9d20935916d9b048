import type { FlagChange } from '../state.js';
import type { FlagData } from '../snapshot-file.js';

/** What a flag source reports to the provider. */
export interface SyncTarget {
  /**
   * A whole flag set (the stream's `snapshot`, a poll, a store read). `forwardOnly`: ignore it when it is older than
   * what is held (a store re-read racing the change feed); otherwise it replaces everything, whatever its revision
   * (a server restarted on a fresh store starts its revisions again).
   */
  full(data: FlagData, forwardOnly?: boolean): void;
  /** Changes in revision order (one stream chunk, one feed event). */
  changes(changes: FlagChange[]): void;
  /** A stream resumed from the last event this process saw: what is held is current again. */
  resumed(): void;
  /** The source stopped answering. */
  lost(reason: string): void;
  /** The source refused us for good (bad key): no retry will help. */
  fatal(error: Error): void;
}

/** One unit's sticky assignment to ask for (`experiment.sticky`); see `@vexil/store`'s `AssignmentStore`. */
export interface AssignmentAsk {
  flag: string;
  unit: string;
  /** What this process evaluated: kept when the unit has no assignment yet. */
  variation: string;
  ttlMs: number;
  replace?: boolean;
}

export interface FlagSync {
  start(target: SyncTarget): void;
  close(): Promise<void>;
  /**
   * The variation kept for each unit (sticky experiments), from the store (daemon mode) or the server (which keeps
   * them in its store). Absent, or resolving undefined, when the source cannot keep assignments.
   */
  assign?(asks: readonly AssignmentAsk[], context: Record<string, unknown>): Promise<string[] | undefined>;
}

/** Reads a change event as the server's stream and the store's feed send it. Undefined when it is not one. */
export function toFlagChange(type: string, data: unknown, id?: string): FlagChange | undefined {
  if (data === null || typeof data !== 'object') return undefined;
  const event = data as Record<string, unknown>;
  const kind = typeof event.type === 'string' ? event.type : type;
  const revision = Number.isSafeInteger(event.revision) ? (event.revision as number) : id !== undefined && /^\d+$/.test(id) ? Number(id) : undefined;
  if (revision === undefined) return undefined;
  if (kind === 'put' && typeof event.key === 'string' && event.flag !== null && typeof event.flag === 'object') {
    const change: FlagChange = { type: 'put', key: event.key, flag: event.flag as never, revision };
    if (Number.isSafeInteger(event.version)) change.version = event.version as number;
    return change;
  }
  if (kind === 'delete' && typeof event.key === 'string') return { type: 'delete', key: event.key, revision };
  if (kind === 'segments' && event.segments !== null && typeof event.segments === 'object') {
    return { type: 'segments', segments: event.segments as never, revision };
  }
  return undefined;
}
