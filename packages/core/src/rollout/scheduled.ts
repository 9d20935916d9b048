import type { FlagDefinition, ProgressiveRollout, Rule, ScheduledStep } from '../model/flag.js';

/** Milliseconds since the epoch of an RFC 3339 date, or NaN. */
export function parseDate(value: unknown): number {
  if (typeof value !== 'string' || value.trim() === '') return Number.NaN;
  return Date.parse(value);
}

/**
 * The steps due at `now`, in the order GO Feature Flag applies them: by date ascending, declaration order breaking
 * ties (a stable sort), so the latest step wins. Steps without a valid date never apply.
 */
export function orderedSteps(steps: readonly ScheduledStep[] | undefined): Array<{ step: ScheduledStep; at: number; index: number }> {
  if (!steps) return [];
  return steps
    .map((step, index) => ({ step, at: parseDate(step?.date), index }))
    .filter((entry) => !Number.isNaN(entry.at))
    .sort((a, b) => a.at - b.at || a.index - b.index);
}

/**
 * Applies one scheduled step to a flag, with GO Feature Flag's merge rules: targeting rules merge by name (unnamed or
 * unknown rules are appended), rules merge field by field, percentage maps merge per key and a negative value removes
 * the key, variations merge per key, `disable`/`trackEvents`/`version` are overwritten, experimentation bounds are
 * overwritten one by one. `metadata` and `bucketingKey` are not applied, as in GO Feature Flag.
 */
export function applyScheduledStep(flag: FlagDefinition, step: ScheduledStep): FlagDefinition {
  const next: FlagDefinition = structuredCloneJson(flag);
  if (step.variations && typeof step.variations === 'object') {
    next.variations = { ...(next.variations ?? {}), ...structuredCloneJson(step.variations) };
  }
  if (Array.isArray(step.targeting)) {
    const rules = next.targeting ? [...next.targeting] : [];
    for (const patch of step.targeting) {
      const at = patch?.name ? rules.findIndex((rule) => rule?.name === patch.name) : -1;
      if (at >= 0) rules[at] = mergeRule(rules[at]!, patch);
      else rules.push(mergeRule({}, patch));
    }
    next.targeting = rules;
  }
  if (step.defaultRule && typeof step.defaultRule === 'object') {
    next.defaultRule = mergeRule(next.defaultRule ?? {}, step.defaultRule);
  }
  if (step.disable !== undefined) next.disable = step.disable;
  if (step.trackEvents !== undefined) next.trackEvents = step.trackEvents;
  if (step.version !== undefined) next.version = step.version;
  if (step.offVariation !== undefined) next.offVariation = step.offVariation;
  if (step.experimentation && typeof step.experimentation === 'object') {
    next.experimentation = { ...(next.experimentation ?? {}) };
    if (step.experimentation.start !== undefined) next.experimentation.start = step.experimentation.start;
    if (step.experimentation.end !== undefined) next.experimentation.end = step.experimentation.end;
  }
  return next;
}

function mergeRule(base: Rule, patch: Rule): Rule {
  const rule: Rule = { ...base };
  if (patch.name !== undefined) rule.name = patch.name;
  if (patch.query !== undefined) rule.query = patch.query;
  if (patch.variation !== undefined) rule.variation = patch.variation;
  if (patch.disable !== undefined) rule.disable = patch.disable;
  if (patch.percentage && typeof patch.percentage === 'object') {
    const merged: Record<string, number> = { ...(base.percentage ?? {}) };
    for (const [name, weight] of Object.entries(patch.percentage)) {
      if (typeof weight === 'number' && weight < 0) delete merged[name];
      else merged[name] = weight;
    }
    rule.percentage = merged;
  }
  if (patch.progressiveRollout && typeof patch.progressiveRollout === 'object') {
    const merged: ProgressiveRollout = { ...(base.progressiveRollout ?? {}) };
    for (const side of ['initial', 'end'] as const) {
      const part = patch.progressiveRollout[side];
      if (part && typeof part === 'object') merged[side] = { ...(merged[side] ?? {}), ...part };
    }
    rule.progressiveRollout = merged;
  }
  return rule;
}

/** Deep copy of JSON data (flag definitions are plain JSON). */
export function structuredCloneJson<T>(value: T): T {
  return value === undefined ? value : (JSON.parse(JSON.stringify(value)) as T);
}
