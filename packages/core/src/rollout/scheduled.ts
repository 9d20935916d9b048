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
 * Applies one scheduled step to a flag, with GO Feature Flag's merge rules (`InternalFlag.applyScheduledRolloutSteps`,
 * `MergeSetOfRules`, `Rule.MergeRules`): targeting rules merge by name (see `mergeTargeting`), rules merge field by
 * field, percentage maps merge per key and a negative value removes the key, a progressive rollout merges its initial
 * and end steps field by field, variations merge per key, `disable`/`trackEvents`/`version` are overwritten,
 * experimentation bounds are overwritten one by one. `metadata` and `bucketingKey` are not applied, as in GO Feature
 * Flag; neither is a `scheduledRollout` nested in a step.
 */
export function applyScheduledStep(flag: FlagDefinition, step: ScheduledStep): FlagDefinition {
  const next: FlagDefinition = structuredCloneJson(flag);
  if (step.variations && typeof step.variations === 'object') {
    next.variations = { ...(next.variations ?? {}), ...structuredCloneJson(step.variations) };
  }
  if (Array.isArray(step.targeting)) next.targeting = mergeTargeting(next.targeting ?? [], step.targeting);
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

/**
 * GO Feature Flag's `MergeSetOfRules`: the step's rules are keyed by `name` (the last one wins when a step repeats a
 * name; a rule with `name: ""` is keyed too); each existing rule whose name (`""` when it has none) is a key is merged
 * field by field with that patch; every patch whose name merged nothing is appended as written.
 */
function mergeTargeting(rules: Rule[], patches: Rule[]): Rule[] {
  const byName = new Map<string, Rule>();
  for (const patch of patches) {
    if (isObject(patch) && typeof patch.name === 'string') byName.set(patch.name, patch);
  }
  const merged = new Set<string>();
  const out = rules.map((rule) => {
    const name = ruleName(rule);
    const patch = byName.get(name);
    if (patch === undefined) return rule;
    merged.add(name);
    return mergeRule(rule, patch);
  });
  for (const patch of patches) {
    if (!merged.has(ruleName(patch))) out.push(structuredCloneJson(patch));
  }
  return out;
}

function ruleName(rule: Rule | undefined): string {
  return isObject(rule) && typeof rule.name === 'string' ? rule.name : '';
}

/** A map (JSON object), as data read from a file may hold anything where a map is expected. */
function isObject<T>(value: T | null | undefined): value is T {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

function mergeRule(base: Rule, patch: Rule): Rule {
  const rule: Rule = { ...base };
  if (!isObject(patch)) return rule;
  if (patch.query !== undefined) rule.query = patch.query;
  if (patch.variation !== undefined) rule.variation = patch.variation;
  if (patch.disable !== undefined) rule.disable = patch.disable;
  if (isObject(patch.progressiveRollout)) {
    // GO Feature Flag starts from empty initial and end steps when the rule had no progressive rollout.
    const current: ProgressiveRollout = isObject(base.progressiveRollout) ? base.progressiveRollout : {};
    const merged: ProgressiveRollout = {};
    for (const side of ['initial', 'end'] as const) {
      const part = patch.progressiveRollout[side];
      const was = isObject(current[side]) ? current[side] : {};
      merged[side] = isObject(part) ? { ...was, ...definedFields(part) } : { ...was };
    }
    rule.progressiveRollout = merged;
  }
  if (isObject(patch.percentage)) {
    const merged: Record<string, number> = { ...(isObject(base.percentage) ? base.percentage : {}) };
    for (const [name, weight] of Object.entries(patch.percentage)) {
      if (typeof weight === 'number' && weight < 0) delete merged[name];
      else merged[name] = weight;
    }
    rule.percentage = merged;
  }
  return rule;
}

function definedFields<T extends object>(value: T): Partial<T> {
  const out: Partial<T> = {};
  for (const [key, field] of Object.entries(value)) if (field !== undefined && field !== null) (out as Record<string, unknown>)[key] = field;
  return out;
}

/** Deep copy of JSON data (flag definitions are plain JSON). */
export function structuredCloneJson<T>(value: T): T {
  return value === undefined ? value : (JSON.parse(JSON.stringify(value)) as T);
}
