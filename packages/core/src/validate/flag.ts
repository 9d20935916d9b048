import { FLAG_FIELDS, RULE_FIELDS, type FlagDefinition, type JsonValue, type Rule, type SegmentDefinition } from '../model/flag.js';
import type { Problem } from '../model/problem.js';
import { compileQuery } from '../query/index.js';
import { compileSegments, type SegmentResolver } from '../compile/segments.js';
import type { FieldPath, Locate } from '../parse/flag-file.js';
import { describeType } from '../model/describe.js';
import { applyScheduledStep, orderedSteps, parseDate } from '../rollout/scheduled.js';
import { MAX_FLAG_DEPTH, MAX_FLAG_JSON_CHARS, jsonDepth } from './limits.js';
import { checkRolloutFields } from './rollout.js';
import { checkExperimentFields } from './experiment.js';

export interface ValidateOptions {
  /** File name or origin, for messages. */
  source?: string;
  /** Segments the flag's queries may reference as `@name`. */
  segments?: Record<string, SegmentDefinition>;
  /** Already compiled segments (used by the loader, which compiles them once per file). */
  resolveSegment?: SegmentResolver;
  /** Positions in the source text. */
  locate?: Locate;
}

export interface CheckedFlag {
  problems: Problem[];
  /** The flag, normalised (e.g. a numeric `version` becomes a string); undefined when it has errors. */
  flag?: FlagDefinition;
}

/**
 * Validates one flag definition in GO Feature Flag's format, reporting every problem at once, each with the flag
 * key and the field path. A flag with any `error` problem must not be served or stored.
 */
export function validateFlagDefinition(key: string, flag: unknown, options: ValidateOptions = {}): Problem[] {
  return checkFlag(key, flag, options).problems;
}

export function checkFlag(key: string, raw: unknown, options: ValidateOptions = {}): CheckedFlag {
  const resolveSegment =
    options.resolveSegment ?? (options.segments ? compileSegments(options.segments, options.source).resolve : undefined);
  const checker = new FlagChecker(key, options, resolveSegment, 'flag');
  const flag = checker.check(raw);
  const errors = checker.problems.some((problem) => problem.severity === 'error');
  return errors ? { problems: checker.problems } : { problems: checker.problems, flag };
}

type VariationType = 'boolean' | 'string' | 'number' | 'array' | 'object';

export function jsonTypeOf(value: unknown): VariationType | 'null' | 'unsupported' {
  if (value === null || value === undefined) return 'null';
  if (Array.isArray(value)) return 'array';
  switch (typeof value) {
    case 'boolean':
      return 'boolean';
    case 'string':
      return 'string';
    case 'number':
      return Number.isFinite(value) ? 'number' : 'unsupported';
    case 'object':
      return 'object';
    default:
      return 'unsupported';
  }
}

/** Fields whose content is data, not flag structure: their nulls are kept (a null variation is an error of its own). */
const DATA_FIELDS = new Set(['variations', 'metadata', 'percentage', 'query']);

/**
 * The flag with every null-valued field removed, as GO Feature Flag's decoders read a null as "absent" (a `targeting:`
 * key whose rules are all commented out is no targeting at all). Returns the same object when there is no null.
 */
function withoutNullFields(value: unknown): unknown {
  if (Array.isArray(value)) {
    let out: unknown[] | undefined;
    value.forEach((item, index) => {
      const cleaned = withoutNullFields(item);
      if (cleaned !== item) (out ??= [...value])[index] = cleaned;
    });
    return out ?? value;
  }
  if (value === null || typeof value !== 'object') return value;
  let out: Record<string, unknown> | undefined;
  for (const [field, inner] of Object.entries(value)) {
    const cleaned = inner === null || DATA_FIELDS.has(field) ? inner : withoutNullFields(inner);
    if (inner === null) {
      out ??= { ...(value as Record<string, unknown>) };
      delete out[field];
    } else if (cleaned !== inner) {
      // defineProperty, not assignment: a field named "__proto__" stays a field.
      Object.defineProperty((out ??= { ...(value as Record<string, unknown>) }), field, { value: cleaned, enumerable: true, writable: true, configurable: true });
    }
  }
  return out ?? value;
}

/**
 * What the checker is looking at, which decides how each kind of problem is reported:
 * - `flag`: a flag as written. Shape errors (a value GO Feature Flag cannot even decode) and what GO Feature Flag's
 *   `IsValid` rejects are errors; what it accepts but serves oddly is a warning.
 * - `step`: a scheduled step as written (a partial flag). Only shape problems count: GO Feature Flag never validates
 *   steps, and a patch need not be a whole flag.
 * - `after-step`: the flag as a scheduled step leaves it. GO Feature Flag does not validate it either and keeps serving
 *   the flag, so what `IsValid` would reject there is only a warning (the affected rule answers an error).
 */
type CheckMode = 'flag' | 'step' | 'after-step';

class FlagChecker {
  readonly problems: Problem[] = [];
  private variationNames = new Set<string>();

  constructor(
    private readonly key: string,
    private readonly options: ValidateOptions,
    private readonly resolveSegment: SegmentResolver | undefined,
    private readonly mode: CheckMode,
  ) {}

  private push(path: FieldPath, message: string, severity: 'error' | 'warning'): void {
    const position = this.options.locate?.([this.key, ...path]);
    this.problems.push({
      severity,
      source: this.options.source,
      ...(position ? { line: position.line, column: position.column } : {}),
      flagKey: this.key,
      ...(path.length ? { path: formatPath(path) } : {}),
      message,
    });
  }

  /** A shape problem (wrong type, unreadable date) or a lint remark: not looked at after a step (checked on the step itself). */
  private report(path: FieldPath, message: string, severity: 'error' | 'warning' = 'error'): void {
    if (this.mode !== 'after-step') this.push(path, message, severity);
  }

  /** What GO Feature Flag's `IsValid` rejects: the flag is not served. */
  private invalid(path: FieldPath, message: string): void {
    if (this.mode === 'flag') this.push(path, message, 'error');
    else if (this.mode === 'after-step') this.push(path, message, 'warning');
  }

  /** What GO Feature Flag accepts but serves oddly (an error when the rule is reached, a flag never enabled): a warning. */
  private advise(path: FieldPath, message: string): void {
    if (this.mode !== 'step') this.push(path, message, 'warning');
  }

  check(raw: unknown): FlagDefinition | undefined {
    if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) {
      this.report([], `a flag must be a map of fields, not ${describeType(raw)}`);
      return undefined;
    }
    if (this.mode === 'flag' && !this.withinLimits(raw)) return undefined;
    const flag = { ...(withoutNullFields(raw) as Record<string, unknown>) } as FlagDefinition & Record<string, unknown>;
    this.unknownFields(flag, [], FLAG_FIELDS, 'flag');
    if (typeof flag.version === 'number') flag.version = String(flag.version);
    if (Array.isArray(flag.scheduledRollout)) {
      flag.scheduledRollout = flag.scheduledRollout.map((step) =>
        step !== null && typeof step === 'object' && typeof step.version === 'number' ? { ...step, version: String(step.version) } : step,
      );
    }
    this.checkBody(flag, []);
    this.checkScheduledRollout(flag);
    this.checkProgressiveDelivery(flag);
    return flag;
  }

  /** The depth and size limits (limits.ts), checked before anything walks the flag recursively. */
  private withinLimits(raw: object): boolean {
    const depth = jsonDepth(raw, MAX_FLAG_DEPTH);
    if (depth > MAX_FLAG_DEPTH) {
      this.push([], `the flag nests deeper than ${MAX_FLAG_DEPTH} levels (the limit on flag depth)`, 'error');
      return false;
    }
    const size = JSON.stringify(raw).length;
    if (size > MAX_FLAG_JSON_CHARS) {
      this.push([], `the flag is ${size} characters of JSON, more than the limit of ${MAX_FLAG_JSON_CHARS} (256 KiB)`, 'error');
      return false;
    }
    return true;
  }

  /** Checks everything a flag (or a flag patched by scheduled steps) must satisfy. */
  private checkBody(flag: FlagDefinition, at: FieldPath): void {
    this.checkVariations(flag.variations, [...at, 'variations']);
    if (flag.targeting !== undefined) {
      if (!Array.isArray(flag.targeting)) this.report([...at, 'targeting'], `targeting must be a list of rules, not ${describeType(flag.targeting)}`);
      else {
        const names = new Map<string, number>();
        flag.targeting.forEach((rule, index) => {
          const path = [...at, 'targeting', index];
          this.checkRule(rule, path, false);
          const name = (rule as Rule | null)?.name;
          if (typeof name === 'string' && name !== '') {
            if (names.has(name)) this.invalid([...path, 'name'], `duplicate rule name "${name}" (also targeting[${names.get(name)}]); names must be unique so scheduled steps can patch them`);
            else names.set(name, index);
          }
        });
      }
    }
    if (flag.defaultRule === undefined) this.invalid([...at, 'defaultRule'], 'missing defaultRule: every flag needs a default rule');
    else this.checkRule(flag.defaultRule, [...at, 'defaultRule'], true);
    this.optionalType(flag.bucketingKey, [...at, 'bucketingKey'], 'string');
    this.optionalType(flag.trackEvents, [...at, 'trackEvents'], 'boolean');
    this.optionalType(flag.disable, [...at, 'disable'], 'boolean');
    this.optionalType(flag.version, [...at, 'version'], 'string');
    this.optionalType(flag.converter, [...at, 'converter'], 'string');
    if (flag.metadata !== undefined && (typeof flag.metadata !== 'object' || Array.isArray(flag.metadata))) {
      this.report([...at, 'metadata'], `metadata must be a map, not ${describeType(flag.metadata)}`);
    }
    if (flag.offVariation !== undefined) this.checkVariationReference(flag.offVariation, [...at, 'offVariation']);
    if (flag.experimentation !== undefined) this.checkExperimentation(flag.experimentation, [...at, 'experimentation']);
  }

  private checkVariations(variations: unknown, path: FieldPath): void {
    this.variationNames = new Set();
    if (variations === undefined) {
      this.invalid(path, 'missing variations: a flag needs at least one');
      return;
    }
    if (typeof variations !== 'object' || Array.isArray(variations)) {
      this.report(path, `variations must be a map of names to values, not ${describeType(variations)}`);
      return;
    }
    const entries = Object.entries(variations as Record<string, JsonValue>);
    if (entries.length === 0) {
      this.invalid(path, 'a flag needs at least one variation');
      return;
    }
    let firstType: { type: string; name: string } | undefined;
    for (const [name, value] of entries) {
      this.variationNames.add(name);
      const type = jsonTypeOf(value);
      if (type === 'null') {
        this.invalid([...path, name], `variation "${name}" is null: variations must have a value`);
        continue;
      }
      if (type === 'unsupported') {
        this.report([...path, name], `variation "${name}" is not a JSON value`);
        continue;
      }
      if (!firstType) firstType = { type, name };
      else if (firstType.type !== type) {
        this.invalid([...path, name], `variation "${name}" is ${article(type)} but "${firstType.name}" is ${article(firstType.type)}: all variations must have one type`);
      }
    }
  }

  private checkRule(raw: unknown, path: FieldPath, isDefault: boolean): void {
    if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) {
      this.report(path, `a rule must be a map, not ${describeType(raw)}`);
      return;
    }
    const rule = raw as Rule & Record<string, unknown>;
    this.unknownFields(rule, path, RULE_FIELDS, 'rule');
    this.optionalType(rule.name, [...path, 'name'], 'string');
    this.optionalType(rule.disable, [...path, 'disable'], 'boolean');
    // GO Feature Flag neither evaluates nor validates a disabled targeting rule.
    if (!isDefault && rule.disable === true) return;
    if (!isDefault) this.checkQuery(rule.query, [...path, 'query']);
    if (rule.variation === undefined && rule.percentage === undefined && rule.progressiveRollout === undefined) {
      this.invalid(path, 'the rule serves nothing: give it a variation, a percentage or a progressiveRollout');
      return;
    }
    if (rule.percentage !== undefined) this.checkPercentage(rule.percentage, [...path, 'percentage']);
    if (rule.progressiveRollout !== undefined) this.checkProgressiveRollout(rule.progressiveRollout, [...path, 'progressiveRollout']);
    if (rule.variation !== undefined) {
      // GO Feature Flag checks `variation` only when it is what the rule serves (no percentage, no progressiveRollout).
      if (rule.percentage === undefined && rule.progressiveRollout === undefined) this.checkVariationReference(rule.variation, [...path, 'variation']);
      else if (typeof rule.variation !== 'string') this.report([...path, 'variation'], `a variation name must be a string, not ${describeType(rule.variation)}`);
    }
  }

  private checkQuery(query: unknown, path: FieldPath): void {
    if (query === undefined) {
      this.invalid(path, 'a targeting rule needs a query');
      return;
    }
    const text = typeof query === 'string' ? query : typeof query === 'object' ? JSON.stringify(query) : undefined;
    if (text === undefined) {
      this.report(path, `query must be a string, not ${describeType(query)}`);
      return;
    }
    const result = compileQuery(text, this.resolveSegment ? { resolveSegment: this.resolveSegment } : {});
    if (!result.ok) {
      this.invalid(path, `query does not parse at column ${result.error.column}: ${result.error.message}`);
      return;
    }
    for (const warning of result.warnings) this.report(path, `query column ${warning.column}: ${warning.message}`, 'warning');
  }

  private checkVariationReference(name: unknown, path: FieldPath): void {
    if (typeof name !== 'string') {
      this.report(path, `a variation name must be a string, not ${describeType(name)}`);
      return;
    }
    if (this.variationNames.size > 0 && !this.variationNames.has(name)) {
      this.invalid(path, `unknown variation "${name}" (the flag has ${[...this.variationNames].map((n) => `"${n}"`).join(', ')})`);
    }
  }

  private checkPercentage(raw: unknown, path: FieldPath): void {
    if (typeof raw !== 'object' || Array.isArray(raw)) {
      this.report(path, `percentage must be a map of variation names to weights, not ${describeType(raw)}`);
      return;
    }
    const entries = Object.entries(raw as Record<string, unknown>);
    if (entries.length === 0) {
      this.invalid(path, 'percentage is empty');
      return;
    }
    let sum = 0;
    let numbers = true;
    for (const [name, weight] of entries) {
      this.checkVariationReference(name, [...path, name]);
      if (typeof weight !== 'number' || !Number.isFinite(weight)) {
        this.report([...path, name], `the weight of "${name}" must be a number, not ${describeType(weight)}`);
        numbers = false;
        continue;
      }
      // In a step a negative weight removes the variation from the split (advise() says nothing there); in a flag GO
      // Feature Flag accepts it, but what it serves then depends on the platform it runs on.
      if (weight < 0) this.advise([...path, name], `the weight of "${name}" is negative: the split is undefined`);
      sum += weight;
    }
    if (numbers && sum === 0) this.invalid(path, 'the percentages sum to 0: no variation can be served');
  }

  private checkProgressiveRollout(raw: unknown, path: FieldPath): void {
    if (typeof raw !== 'object' || Array.isArray(raw)) {
      this.report(path, `progressiveRollout must be a map with initial and end, not ${describeType(raw)}`);
      return;
    }
    const rollout = raw as Record<string, unknown>;
    this.unknownFields(rollout, path, ['initial', 'end'], 'progressiveRollout');
    const dates: number[] = [];
    const percentages: number[] = [];
    for (const side of ['initial', 'end'] as const) {
      const step = rollout[side] as Record<string, unknown> | undefined;
      const at = [...path, side];
      if (step === undefined) {
        this.invalid(at, `progressiveRollout.${side} is missing (it needs a variation and a date)`);
        continue;
      }
      if (typeof step !== 'object' || Array.isArray(step)) {
        this.report(at, `progressiveRollout.${side} must be a map with variation, percentage and date, not ${describeType(step)}`);
        continue;
      }
      this.unknownFields(step, at, ['variation', 'percentage', 'date'], `progressiveRollout.${side}`);
      if (step.variation === undefined) this.invalid(at, `progressiveRollout.${side} needs a variation`);
      else this.checkVariationReference(step.variation, [...at, 'variation']);
      if (step.date === undefined) {
        this.advise(at, `progressiveRollout.${side} has no date: the rule answers an error whenever it is reached`);
      } else {
        const date = parseDate(step.date);
        if (Number.isNaN(date)) this.report([...at, 'date'], `"${String(step.date)}" is not an RFC 3339 date`);
        else dates.push(date);
      }
      // GO Feature Flag reads a missing percentage as 0 (and serves an end percentage of 0 as 100).
      if (step.percentage === undefined) percentages.push(0);
      else if (typeof step.percentage !== 'number' || !Number.isFinite(step.percentage)) {
        this.report([...at, 'percentage'], `the percentage must be a number, not ${describeType(step.percentage)}`);
      } else {
        if (step.percentage < 0 || step.percentage > 100) this.advise([...at, 'percentage'], 'the percentage should be a number from 0 to 100');
        percentages.push(step.percentage);
      }
    }
    if (dates.length === 2 && dates[1]! <= dates[0]!) {
      this.advise([...path, 'end', 'date'], 'the end date is not after the initial date: the rule answers an error whenever it is reached');
    }
    if (percentages.length === 2 && percentages[0]! > percentages[1]!) {
      this.invalid([...path, 'initial', 'percentage'], `the initial percentage (${percentages[0]}) must not be above the end percentage (${percentages[1]})`);
    }
  }

  private checkExperimentation(raw: unknown, path: FieldPath): void {
    if (typeof raw !== 'object' || Array.isArray(raw)) {
      this.report(path, `experimentation must be a map with start and end, not ${describeType(raw)}`);
      return;
    }
    const window = raw as Record<string, unknown>;
    this.unknownFields(window, path, ['start', 'end'], 'experimentation');
    const start = window.start === undefined ? undefined : parseDate(window.start);
    const end = window.end === undefined ? undefined : parseDate(window.end);
    if (start !== undefined && Number.isNaN(start)) this.report([...path, 'start'], `"${String(window.start)}" is not an RFC 3339 date`);
    if (end !== undefined && Number.isNaN(end)) this.report([...path, 'end'], `"${String(window.end)}" is not an RFC 3339 date`);
    if (start !== undefined && end !== undefined && start > end) this.advise([...path, 'end'], 'the experiment ends before it starts: the flag is always disabled');
  }

  private checkScheduledRollout(flag: FlagDefinition): void {
    const steps = flag.scheduledRollout as unknown;
    if (steps === undefined) return;
    if (!Array.isArray(steps)) {
      this.report(['scheduledRollout'], `scheduledRollout must be a list of dated steps, not ${describeType(steps)}`);
      return;
    }
    const stepFields = [...FLAG_FIELDS, 'date'];
    steps.forEach((step: unknown, index) => {
      const path = ['scheduledRollout', index];
      if (step === null) {
        this.report(path, 'an empty scheduled step has no date: it is skipped', 'warning');
        return;
      }
      if (typeof step !== 'object' || Array.isArray(step)) {
        this.report(path, `a scheduled step must be a map, not ${describeType(step)}`);
        return;
      }
      const fields = step as Record<string, unknown>;
      this.unknownFields(fields, path, stepFields, 'scheduled step');
      if (fields.date === undefined) this.report(path, 'a scheduled step without a date is never applied (skipped, as in GO Feature Flag)', 'warning');
      else if (Number.isNaN(parseDate(fields.date))) this.report([...path, 'date'], `"${String(fields.date)}" is not an RFC 3339 date`);
      if (fields.metadata !== undefined || fields.bucketingKey !== undefined || fields.scheduledRollout !== undefined) {
        this.report(path, 'metadata, bucketingKey and scheduledRollout are not applied by scheduled steps (as in GO Feature Flag)', 'warning');
      }
      // The step itself: only what GO Feature Flag could not even read is an error.
      const shape = new FlagChecker(this.key, this.options, this.resolveSegment, 'step');
      shape.checkBody(fields as FlagDefinition, path);
      this.problems.push(...shape.problems);
    });
    if (this.problems.some((p) => p.severity === 'error')) return;
    // The flag as each step leaves it, in date order. GO Feature Flag never validates it and keeps serving the flag,
    // so what it would reject is reported as a warning, once.
    const seen = new Set(this.problems.map((p) => `${p.path ?? ''}|${p.message}`));
    let current: FlagDefinition = flag;
    for (const { step, index } of orderedSteps(flag.scheduledRollout)) {
      current = applyScheduledStep(current, step);
      const after = new FlagChecker(this.key, { ...this.options, locate: undefined }, this.resolveSegment, 'after-step');
      after.checkBody(current, []);
      for (const problem of after.problems) {
        const id = `${problem.path ?? ''}|${problem.message}`;
        if (seen.has(id)) continue;
        seen.add(id);
        this.push(['scheduledRollout', index], `after the step of ${String(step.date)}: ${problem.path ? `${problem.path}: ` : ''}${problem.message}`, 'warning');
      }
    }
  }

  /** Vexil's `rollout`, `killSwitch` and `rolloutState` (validate/rollout.ts). */
  private checkProgressiveDelivery(flag: FlagDefinition): void {
    const names = new Set(flag.variations && typeof flag.variations === 'object' ? Object.keys(flag.variations) : []);
    const sink = {
      error: (path: FieldPath, message: string) => this.push(path, message, 'error'),
      warning: (path: FieldPath, message: string) => this.push(path, message, 'warning'),
      unknownFields: (object: Record<string, unknown>, path: FieldPath, known: readonly string[], what: string) => this.unknownFields(object, path, known, what),
    };
    checkRolloutFields(flag, names, sink);
    if (flag.experiment !== undefined) checkExperimentFields(flag, names, sink);
  }

  private optionalType(value: unknown, path: FieldPath, type: 'string' | 'boolean'): void {
    if (value !== undefined && typeof value !== type) this.report(path, `${formatPath(path.slice(-1))} must be ${article(type)}, not ${describeType(value)}`);
  }

  private unknownFields(object: Record<string, unknown>, path: FieldPath, known: readonly string[], what: string): void {
    for (const field of Object.keys(object)) {
      if (!known.includes(field)) {
        const hint = known.find((candidate) => candidate.toLowerCase() === field.toLowerCase() || editDistance(candidate, field) <= 2);
        // GO Feature Flag's decoders ignore fields they do not know: so does Vexil, with a warning.
        this.report([...path, field], `unknown ${what} field "${field}" is ignored${hint ? ` (did you mean "${hint}"?)` : ''}`, 'warning');
      }
    }
  }
}

export function formatPath(path: FieldPath): string {
  let out = '';
  for (const segment of path) {
    if (typeof segment === 'number') out += `[${segment}]`;
    else out += out === '' ? segment : `.${segment}`;
  }
  return out;
}

function article(type: string): string {
  return /^[aeiou]/.test(type) ? `an ${type}` : `a ${type}`;
}

function editDistance(a: string, b: string): number {
  if (Math.abs(a.length - b.length) > 2) return 3;
  const row = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    let previous = row[0]!;
    row[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const saved = row[j]!;
      row[j] = Math.min(row[j]! + 1, row[j - 1]! + 1, previous + (a[i - 1] === b[j - 1] ? 0 : 1));
      previous = saved;
    }
  }
  return row[b.length]!;
}
