import type { EvaluationContext, EvaluationDetail, Snapshot } from '@vexil/core';
import type { ServerContext } from '../context.js';
import { MAX_LABEL } from './normalise.js';

/**
 * Records an evaluation this server answered (OFREP single and bulk, the relay's `/v1/feature/{key}/eval` and
 * `/v1/allflags`) as an exposure, when the flag has `trackEvents` (GO Feature Flag's default: true), as GO Feature
 * Flag's relay does: browsers and apps without an SDK that sends events are counted too. Keys of no flag are not
 * recorded (clients could otherwise create series at will).
 */
export function recordServedEvaluation(ctx: ServerContext, snapshot: Snapshot, detail: EvaluationDetail, context: EvaluationContext, environment?: string): void {
  const events = ctx.events;
  if (!events || !detail.trackEvents || !snapshot.flags.has(detail.key)) return;
  const key = context.targetingKey;
  const unit = typeof key === 'string' && key !== '' && key.length <= MAX_LABEL && !key.includes('\u0000') ? key : undefined;
  events.recordEvaluation(detail.key, detail.variant ?? 'SdkDefault', unit, detail.errorCode, environment);
}
