import type { ExposureRecord, TrackRecord } from '@vexil/store';

/**
 * Turns the events of one `POST /v1/data/collector` body into events-store records, refusing each bad event on its
 * own with a reason (the batch's valid events are kept). The shapes are GO Feature Flag's `FeatureEvent` and
 * `TrackingEvent`, plus Vexil's `count` fold on feature events and, on tracking events,
 * `trackingEventDetails: { value: <finite number>, error: <boolean> }` (what `track('request', ctx, { value, error })`
 * sends).
 *
 * Timestamps (`creationDate`, seconds, or milliseconds when above 9,999,999,999, as GO Feature Flag reads them):
 * up to `maxFutureMs` ahead (default 1 hour: clock skew) are clamped to now; further ahead refused
 * (`timestamp_in_future`); older than `maxAgeMs` (default 7 days) refused (`timestamp_too_old`); absent means now.
 */
export type RefusalReason =
  | 'not_an_object'
  | 'too_large'
  | 'invalid_key'
  | 'invalid_user_key'
  | 'invalid_variation'
  | 'invalid_count'
  | 'invalid_value'
  | 'invalid_error'
  | 'invalid_timestamp'
  | 'timestamp_in_future'
  | 'timestamp_too_old';

export interface Refusal {
  index: number;
  reason: RefusalReason;
}

export interface NormaliseOptions {
  now?: number;
  maxFutureMs?: number;
  maxAgeMs?: number;
  /** Largest event (its JSON) in bytes. Default 8 KiB. */
  maxEventBytes?: number;
}

export interface NormalisedEvents {
  exposures: ExposureRecord[];
  tracks: TrackRecord[];
  refused: Refusal[];
  /** Approximate memory the records take while buffered. */
  bytes: number;
}

export const MAX_LABEL = 256;
const MAX_COUNT = 1_000_000_000;
export const DEFAULT_MAX_FUTURE_MS = 3_600_000;
export const DEFAULT_MAX_AGE_MS = 7 * 86_400_000;
export const DEFAULT_MAX_EVENT_BYTES = 8_192;

// PostgreSQL text cannot hold NUL; labels are single-line and bounded.
const label = (value: unknown): value is string => typeof value === 'string' && value !== '' && value.length <= MAX_LABEL && !value.includes('\u0000');

function isObject(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

export function normaliseCollectorEvents(events: unknown[], options: NormaliseOptions = {}): NormalisedEvents {
  const now = options.now ?? Date.now();
  const maxFuture = options.maxFutureMs ?? DEFAULT_MAX_FUTURE_MS;
  const maxAge = options.maxAgeMs ?? DEFAULT_MAX_AGE_MS;
  const maxBytes = options.maxEventBytes ?? DEFAULT_MAX_EVENT_BYTES;
  const out: NormalisedEvents = { exposures: [], tracks: [], refused: [], bytes: 0 };
  events.forEach((raw, index) => {
    const refuse = (reason: RefusalReason) => void out.refused.push({ index, reason });
    if (!isObject(raw)) return refuse('not_an_object');
    let size: number;
    try {
      size = JSON.stringify(raw).length;
    } catch {
      return refuse('not_an_object');
    }
    if (size > maxBytes) return refuse('too_large');
    if (!label(raw.key)) return refuse('invalid_key');
    let at: number;
    if (raw.creationDate === undefined || raw.creationDate === null) at = now;
    else if (typeof raw.creationDate !== 'number' || !Number.isFinite(raw.creationDate) || raw.creationDate < 0) return refuse('invalid_timestamp');
    else {
      let seconds = Math.trunc(raw.creationDate);
      if (seconds > 9_999_999_999) seconds = Number(String(seconds).slice(0, 10));
      // Milliseconds when the event gave them (more precise), seconds otherwise.
      at = raw.creationDate > 9_999_999_999 && raw.creationDate < 1e13 ? Math.trunc(raw.creationDate) : seconds * 1000;
    }
    if (at > now + maxFuture) return refuse('timestamp_in_future');
    if (at > now) at = now;
    if (at < now - maxAge) return refuse('timestamp_too_old');
    const context = isObject(raw.evaluationContext) ? raw.evaluationContext : undefined;
    const unitSource = raw.userKey ?? context?.targetingKey;
    if (unitSource !== undefined && unitSource !== null && unitSource !== '' && !label(unitSource)) return refuse('invalid_user_key');
    const unit = label(unitSource) ? unitSource : undefined;
    if (raw.kind === 'tracking') {
      const details = isObject(raw.trackingEventDetails) ? raw.trackingEventDetails : {};
      const value = details.value;
      if (value !== undefined && value !== null && !(typeof value === 'number' && Number.isFinite(value))) return refuse('invalid_value');
      const error = details.error;
      if (error !== undefined && error !== null && typeof error !== 'boolean') return refuse('invalid_error');
      out.tracks.push({
        metric: raw.key,
        ...(unit !== undefined ? { unit } : {}),
        at,
        ...(typeof value === 'number' ? { value } : {}),
        ...(error === true ? { error: true } : {}),
      });
      out.bytes += 96 + raw.key.length + (unit?.length ?? 0);
      return;
    }
    if (raw.count !== undefined && !(Number.isSafeInteger(raw.count) && (raw.count as number) >= 1 && (raw.count as number) <= MAX_COUNT)) return refuse('invalid_count');
    if (raw.variation !== undefined && raw.variation !== null && !label(raw.variation)) return refuse('invalid_variation');
    const variation = label(raw.variation) ? raw.variation : 'SdkDefault';
    const errorCode = typeof raw.errorCode === 'string' && /^[A-Z_]{1,64}$/.test(raw.errorCode) ? raw.errorCode : undefined;
    out.exposures.push({
      flag: raw.key,
      variation,
      ...(unit !== undefined ? { unit } : {}),
      at,
      ...(raw.count !== undefined ? { count: raw.count as number } : {}),
      ...(errorCode ? { errorCode } : {}),
    });
    out.bytes += 112 + raw.key.length + variation.length + (unit?.length ?? 0);
  });
  return out;
}
