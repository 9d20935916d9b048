import type { EvaluationDetail, JsonValue } from '@vexil/core';

/** OFREP metadata holds primitives only (boolean, string, number): structured values are left out. */
export function ofrepMetadata(metadata: Readonly<Record<string, JsonValue>>, cacheable: boolean): Record<string, string | number | boolean> {
  const out: Record<string, string | number | boolean> = {};
  for (const key in metadata) {
    const value = metadata[key];
    if (typeof value === 'string' || typeof value === 'number' || typeof value === 'boolean') out[key] = value;
  }
  // What GO Feature Flag's relay adds, and its OpenFeature providers read to cache a result.
  if (cacheable) out.gofeatureflag_cacheable = true;
  return out;
}

export interface OfrepSuccess {
  key: string;
  value?: JsonValue;
  reason: string;
  variant?: string;
  metadata: Record<string, string | number | boolean>;
  cacheable?: boolean;
}

export interface OfrepFailure {
  key: string;
  errorCode: string;
  errorDetails?: string;
  metadata?: Record<string, string | number | boolean>;
}

/**
 * One evaluation in OFREP's shape. A disabled flag without an `offVariation` answers like an OpenFeature default:
 * reason `DISABLED`, no `value` and no `variant`, so the provider uses the code default (OFREP ADR-0006). A value of
 * `null` would make the OFREP providers report TYPE_MISMATCH instead.
 *
 * `single`: a single-flag answer, which carries `cacheable` and GO Feature Flag's `gofeatureflag_cacheable` metadata
 * marker (GO Feature Flag adds it to single-flag answers only). `errorDetails`: the text of an error (by default the
 * core's message).
 */
export function toOfrep(detail: EvaluationDetail, single: boolean, errorDetails?: string): OfrepSuccess | OfrepFailure {
  if (detail.errorCode !== undefined) {
    return { key: detail.key, errorCode: detail.errorCode, errorDetails: errorDetails ?? detail.errorMessage ?? detail.errorCode };
  }
  // Fields in the order the single-flag route's serialiser writes them (required first, then its schema's order), so
  // that JSON.stringify of this object is that route's answer byte for byte (ofrep/fast-lane.ts relies on it).
  const result = { key: detail.key, reason: detail.reason } as OfrepSuccess;
  if (detail.variant !== undefined) {
    result.value = detail.value;
    result.variant = detail.variant;
  }
  result.metadata = ofrepMetadata(detail.flagMetadata, single && detail.cacheable);
  if (single) result.cacheable = detail.cacheable;
  return result;
}
