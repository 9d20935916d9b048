import type { FastifyBaseLogger } from 'fastify';
import type { EvaluationContext, EvaluationDetail, Snapshot } from '@vexil/core';

/**
 * GO Feature Flag's words for evaluation errors, so that bodies compare equal with GO Feature Flag's (users migrating
 * keep their tests). Vexil's own, more detailed reason (`EvaluationDetail.errorMessage`) goes to the debug log
 * (`logEvaluationErrors`) and is shown by the admin playground.
 */

/**
 * The `errorDetails` GO Feature Flag's engine gives for an evaluation error on the relay API (`/v1/feature/{key}/eval`,
 * `/v1/allflags`), or undefined when it gives none (an unknown flag, no error). OFREP answers say more: the core's
 * messages (`flagNotFoundMessage`, `bucketingKeyMessage`).
 */
export function goffErrorDetails(snapshot: Snapshot, detail: EvaluationDetail, context: EvaluationContext): string | undefined {
  switch (detail.errorCode) {
    case undefined:
    case 'FLAG_NOT_FOUND':
      return undefined;
    case 'TARGETING_KEY_MISSING': {
      // Which of GO Feature Flag's bucketing-key errors this is: the flag's bucketingKey tells, read as the core did.
      const flag = snapshot.flags.get(detail.key);
      if (!flag?.bucketingPath) return 'Error: Empty targeting key';
      const value = readPath(context, flag.bucketingPath);
      if (value === undefined) return `impossible to find bucketingKey in context: Error: nested key not found: ${flag.definition.bucketingKey ?? ''}`;
      if (typeof value !== 'string') return 'invalid bucketing key';
      return 'Error: Empty bucketing key';
    }
    case 'GENERAL':
      return detail.errorMessage?.startsWith('impossible to find the variation') ? 'impossible to find the variation' : detail.errorMessage;
    default:
      return detail.errorMessage;
  }
}

/** `gofeatureflag.flagList` of a context (GO Feature Flag's way to evaluate only some flags), when non-empty. */
export function flagListOf(context: EvaluationContext): string[] | undefined {
  const goff = context.gofeatureflag as { flagList?: unknown } | undefined;
  if (!goff || typeof goff !== 'object' || !Array.isArray(goff.flagList)) return undefined;
  const keys = goff.flagList.filter((key): key is string => typeof key === 'string');
  return keys.length > 0 ? [...new Set(keys)] : undefined;
}

const DEBUG = 20;
const LEVELS: Record<string, number> = { trace: 10, debug: 20, info: 30, warn: 40, error: 50, fatal: 60, silent: Infinity };

/** Logs Vexil's reasons for failed evaluations at debug level (one line per request), when debug is on. */
export function logEvaluationErrors(log: FastifyBaseLogger, details: Iterable<EvaluationDetail>): void {
  if ((LEVELS[log.level] ?? 30) > DEBUG) return;
  const errors: { flag: string; errorCode: string; reason: string | undefined }[] = [];
  for (const detail of details) {
    if (detail.errorCode !== undefined) errors.push({ flag: detail.key, errorCode: detail.errorCode, reason: detail.errorMessage });
  }
  if (errors.length > 0) log.debug({ evaluationErrors: errors }, 'evaluation errors');
}

function readPath(context: EvaluationContext, path: readonly string[]): unknown {
  let current: unknown = context;
  for (const segment of path) {
    if (current === null || typeof current !== 'object') return undefined;
    current = (current as Record<string, unknown>)[segment];
  }
  return current;
}
