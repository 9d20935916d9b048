// Sticky assignment (`experiment.sticky`): the first variation a unit is served while the experiment runs is kept in
// a store and served again, even after the split or the rules change. This module holds the pure part: which
// evaluations take part, and how a kept variation replaces an evaluated one. Reading and writing the assignments is
// the server's and the provider's job (they own the I/O).
import type { CompiledFlag } from '../compile/snapshot.js';
import type { EvaluationContext, EvaluationDetail } from '../model/evaluation.js';
import { parseDuration } from '../rollout/progressive-delivery.js';
import { parseDate } from '../rollout/scheduled.js';
import { bucketingUnitOf, variationValueAt } from '../evaluate/evaluate.js';

/** How long a kept assignment lives when `sticky: true` gives no duration: 90 days. */
export const DEFAULT_STICKY_TTL_MS = 90 * 86_400_000;

export interface StickyPolicy {
  /** How long an assignment is kept after it is made. */
  ttlMs: number;
  /** Epoch ms; assignments are made and served from here (unbounded when undefined). */
  start?: number;
  /** Epoch ms; after it the experiment is over and the flag's own result is served again. */
  end?: number;
  /** `experiment.stickyVersion` when above 0: which set of assignments is read and written. */
  version?: number;
}

/**
 * Between a unit and the set of assignments it is kept in (`stickyVersion` above 0). The unit's text is part of the
 * store's key, so another version is another key: no store needs to know about versions, and the earlier set, no
 * longer read, expires by itself. A control character: no targeting key of an application carries one.
 */
export const STICKY_VERSION_SEPARATOR = '\u001f';

const policies = new WeakMap<CompiledFlag, StickyPolicy | null>();

/** The flag's sticky policy, or undefined when its experiment is not sticky. Computed once per compiled flag. */
export function stickyPolicyOf(flag: CompiledFlag): StickyPolicy | undefined {
  let policy = policies.get(flag);
  if (policy === undefined) {
    policy = readPolicy(flag);
    policies.set(flag, policy);
  }
  return policy ?? undefined;
}

function readPolicy(flag: CompiledFlag): StickyPolicy | null {
  const experiment = flag.definition.experiment;
  const sticky = experiment?.sticky;
  if (sticky === undefined || sticky === false) return null;
  const ttlMs = typeof sticky === 'string' ? parseDuration(sticky) : DEFAULT_STICKY_TTL_MS;
  if (!(ttlMs > 0)) return null; // validation refuses it; an unreadable duration never makes a flag sticky by surprise
  const date = (value: string | undefined) => {
    if (value === undefined) return undefined;
    const at = parseDate(value);
    return Number.isNaN(at) ? undefined : at;
  };
  const policy: StickyPolicy = { ttlMs };
  const start = date(experiment?.start ?? flag.definition.experimentation?.start);
  const end = date(experiment?.end ?? flag.definition.experimentation?.end);
  const version = experiment?.stickyVersion;
  if (typeof version === 'number' && Number.isSafeInteger(version) && version > 0) policy.version = version;
  if (start !== undefined) policy.start = start;
  if (end !== undefined) policy.end = end;
  return policy;
}

/** Where one evaluation's assignment is kept: the flag and the unit it splits on. */
export interface StickyRequest {
  flag: string;
  /** The unit the flag splits on, followed by the assignments' version when above 0 (STICKY_VERSION_SEPARATOR). */
  unit: string;
  /** The variation the flag's rules gave: kept when the unit has no assignment yet. */
  variation: string;
  ttlMs: number;
}

/**
 * Whether this evaluation takes part in sticky assignment, and under which key: the flag's experiment is sticky and
 * running at `now`, the evaluation served a variation (not an error, not a disabled flag: a kill switch always wins),
 * and the context has the unit the flag splits on. Undefined otherwise.
 */
export function stickyRequestFor(flag: CompiledFlag, detail: EvaluationDetail<unknown>, context: EvaluationContext, now: number): StickyRequest | undefined {
  const policy = stickyPolicyOf(flag);
  if (!policy) return undefined;
  if (detail.errorCode !== undefined || detail.variant === undefined || detail.reason === 'DISABLED') return undefined;
  if ((policy.start !== undefined && now < policy.start) || (policy.end !== undefined && now >= policy.end)) return undefined;
  const unit = bucketingUnitOf(flag, context);
  if (unit === undefined) return undefined;
  const kept = policy.version === undefined ? unit : `${unit}${STICKY_VERSION_SEPARATOR}${policy.version}`;
  return { flag: flag.key, unit: kept, variation: detail.variant, ttlMs: policy.ttlMs };
}

/**
 * The evaluation with the kept variation served instead of the evaluated one (same reason, `flagMetadata.sticky`
 * true). Undefined when the kept variation no longer exists (the flag changed its variations): the caller then keeps
 * the new one instead. A kept variation whose value is not of the type asked for is not served either.
 */
export function withKeptVariation<T>(
  flag: CompiledFlag,
  detail: EvaluationDetail<T>,
  kept: string,
  now: number,
  hasExpectedType: (value: unknown) => boolean = () => true,
): EvaluationDetail<T> | undefined {
  if (kept === detail.variant) return { ...detail, flagMetadata: { ...detail.flagMetadata, sticky: true }, cacheable: false };
  const value = variationValueAt(flag, kept, now);
  if (value === undefined || !hasExpectedType(value)) return undefined;
  return { ...detail, value: value as T, variant: kept, flagMetadata: { ...detail.flagMetadata, sticky: true }, cacheable: false };
}
