import type { IncomingHttpHeaders } from 'node:http';
import type { EvaluationContext, EvaluationDetail, Snapshot } from '@vexil/core';
import type { ServerContext } from '../context.js';
import { MAX_LABEL } from './normalise.js';

/**
 * Records an evaluation this server answered (OFREP single and bulk, the relay's `/v1/feature/{key}/eval` and
 * `/v1/allflags`) as an exposure, when the flag has `trackEvents` (GO Feature Flag's default: true), as GO Feature
 * Flag's relay does: browsers and apps without an SDK that sends events are counted too. Keys of no flag are not
 * recorded (clients could otherwise create series at will).
 *
 * A request with `X-Vexil-Exposure: none` is not an exposure: the provider sends it when it asks the server for a
 * unit's sticky assignment, and then counts the exposure itself when the variation is served. Counting both would add
 * one evaluation per unit each time the provider asks again.
 */
export function recordServedEvaluation(
  ctx: ServerContext,
  snapshot: Snapshot,
  detail: EvaluationDetail,
  context: EvaluationContext,
  environment: string | undefined,
  headers: IncomingHttpHeaders,
): void {
  const events = ctx.events;
  if (!events || !detail.trackEvents || !snapshot.flags.has(detail.key) || headers[EXPOSURE_HEADER] === 'none') return;
  const key = context.targetingKey;
  const unit = typeof key === 'string' && key !== '' && key.length <= MAX_LABEL && !key.includes('\u0000') ? key : undefined;
  events.recordEvaluation(detail.key, detail.variant ?? 'SdkDefault', unit, detail.errorCode, environment);
}

/** Sent as `none` by a client whose request is not an exposure (a sticky assignment lookup). */
export const EXPOSURE_HEADER = 'x-vexil-exposure';
