// The flag editor's working copy: a flag definition split into rows the form can edit (with stable ids for
// reordering and the raw text of each value, so half-typed input is never lost), and back.
import type { FlagDefinition, JsonValue, Rule, ScheduledStep } from '@vexil/core';
import { clean, clone, isPlainObject } from './json.js';

export type ValueType = 'boolean' | 'number' | 'string' | 'json';

export interface VariationRow {
  id: string;
  name: string;
  text: string;
}
export interface RuleRow {
  id: string;
  rule: Rule;
}
export interface MetaRow {
  id: string;
  key: string;
  text: string;
  json: boolean;
}
export interface StepRow {
  id: string;
  date?: string;
  /** The step's fields other than `date`, as JSON text. */
  text: string;
}

export interface Model {
  type: ValueType;
  variations: VariationRow[];
  rules: RuleRow[];
  defaultRule: Rule;
  metadata: MetaRow[];
  steps: StepRow[];
  /** Every other field, kept as it was (bucketingKey, trackEvents, disable, version, offVariation, experimentation…). */
  other: FlagDefinition;
  /** Vexil's `experiment` and `rollout` blocks, edited as JSON text ('' when the flag has none). */
  plans: { experiment: string; rollout: string };
  /** Which optional lists the original had, so an empty one is written back as it was read. */
  had: { targeting: boolean; metadata: boolean; scheduledRollout: boolean };
}

let sequence = 0;
export function newId(): string {
  sequence += 1;
  return `i${sequence}`;
}

export function typeOfValue(value: unknown): ValueType {
  if (typeof value === 'boolean') return 'boolean';
  if (typeof value === 'number') return 'number';
  if (typeof value === 'string') return 'string';
  return 'json';
}

export function valueText(value: unknown, type: ValueType): string {
  if (type === 'string') return typeof value === 'string' ? value : JSON.stringify(value ?? '');
  if (type === 'json') return JSON.stringify(value ?? {}, null, 2);
  return value === undefined ? '' : String(value);
}

export type Parsed = { ok: true; value: JsonValue } | { ok: false; message: string };

export function parseValue(text: string, type: ValueType): Parsed {
  switch (type) {
    case 'boolean':
      return text === 'true' || text === 'false' ? { ok: true, value: text === 'true' } : { ok: false, message: 'a boolean variation is true or false' };
    case 'number': {
      if (text.trim() === '') return { ok: false, message: 'enter a number' };
      const value = Number(text);
      return Number.isFinite(value) ? { ok: true, value } : { ok: false, message: `"${text}" is not a number` };
    }
    case 'string':
      return { ok: true, value: text };
    default:
      try {
        const value = JSON.parse(text) as JsonValue;
        if (value === null) return { ok: false, message: 'a variation cannot be null' };
        return { ok: true, value };
      } catch (error) {
        return { ok: false, message: `invalid JSON: ${error instanceof Error ? error.message : String(error)}` };
      }
  }
}

export function fromDefinition(source: FlagDefinition): Model {
  const flag = clone(source);
  const { variations = {}, targeting, defaultRule, metadata, scheduledRollout, experiment, rollout, ...other } = flag;
  const type = typeOfValue(Object.values(variations)[0]);
  return {
    type,
    variations: Object.entries(variations).map(([name, value]) => ({ id: newId(), name, text: valueText(value, type) })),
    rules: (Array.isArray(targeting) ? targeting : []).map((rule) => ({ id: newId(), rule })),
    defaultRule: defaultRule ?? {},
    metadata: Object.entries(isPlainObject(metadata) ? metadata : {}).map(([key, value]) => ({
      id: newId(),
      key,
      json: typeof value !== 'string',
      text: typeof value === 'string' ? value : JSON.stringify(value),
    })),
    steps: (Array.isArray(scheduledRollout) ? scheduledRollout : []).map((step) => {
      const { date, ...rest } = step;
      return { id: newId(), ...(date !== undefined ? { date } : {}), text: JSON.stringify(rest, null, 2) };
    }),
    other,
    plans: {
      experiment: experiment === undefined ? '' : JSON.stringify(experiment, null, 2),
      rollout: rollout === undefined ? '' : JSON.stringify(rollout, null, 2),
    },
    had: { targeting: targeting !== undefined, metadata: metadata !== undefined, scheduledRollout: scheduledRollout !== undefined },
  };
}

export interface Built {
  flag: FlagDefinition;
  /** Problems only the form can see (text that does not parse), by field path. */
  local: Map<string, string[]>;
}

export function toDefinition(model: Model): Built {
  const local = new Map<string, string[]>();
  const note = (path: string, message: string) => local.set(path, [...(local.get(path) ?? []), message]);

  const variations: Record<string, JsonValue> = {};
  model.variations.forEach((row) => {
    if (row.name === '') {
      note(`variations`, 'every variation needs a name');
      return;
    }
    if (row.name in variations) note(`variations.${row.name}`, `two variations are named "${row.name}"`);
    const parsed = parseValue(row.text, model.type);
    if (parsed.ok) variations[row.name] = parsed.value;
    else {
      note(`variations.${row.name}`, parsed.message);
      variations[row.name] = model.type === 'number' ? 0 : model.type === 'boolean' ? false : {};
    }
  });

  const metadata: Record<string, JsonValue> = {};
  for (const row of model.metadata) {
    if (row.key === '') {
      if (row.text !== '') note('metadata', 'a metadata entry needs a name');
      continue;
    }
    if (row.key in metadata) note(`metadata.${row.key}`, `"${row.key}" appears twice`);
    if (!row.json) metadata[row.key] = row.text;
    else {
      try {
        metadata[row.key] = JSON.parse(row.text) as JsonValue;
      } catch {
        note(`metadata.${row.key}`, 'not valid JSON (switch the entry to text, or fix it)');
      }
    }
  }

  const steps: ScheduledStep[] = model.steps.map((row, index) => {
    let rest: Record<string, unknown> = {};
    try {
      const parsed = JSON.parse(row.text || '{}') as unknown;
      if (isPlainObject(parsed)) rest = parsed;
      else note(`scheduledRollout[${index}]`, 'the changes of a step must be a JSON object');
    } catch (error) {
      note(`scheduledRollout[${index}]`, `invalid JSON: ${error instanceof Error ? error.message : String(error)}`);
    }
    return { ...(row.date !== undefined ? { date: row.date } : {}), ...(rest as ScheduledStep) };
  });

  const flag: FlagDefinition = { variations };
  if (model.rules.length > 0 || model.had.targeting) flag.targeting = model.rules.map((row) => row.rule);
  flag.defaultRule = model.defaultRule;
  Object.assign(flag, model.other);
  for (const field of ['experiment', 'rollout'] as const) {
    const text = model.plans[field].trim();
    if (text === '') continue;
    try {
      const parsed = JSON.parse(text) as unknown;
      if (isPlainObject(parsed)) (flag as Record<string, unknown>)[field] = parsed;
      else note(field, `${field} must be a JSON object`);
    } catch (error) {
      note(field, `invalid JSON: ${error instanceof Error ? error.message : String(error)}`);
    }
  }
  if (model.metadata.some((row) => row.key !== '') || model.had.metadata) flag.metadata = metadata;
  if (steps.length > 0 || model.had.scheduledRollout) flag.scheduledRollout = steps;
  return { flag: clean(flag), local };
}

/** Renames a variation and every reference to it (rules, splits, rollouts, offVariation). */
export function renameVariation(model: Model, id: string, name: string): Model {
  const row = model.variations.find((each) => each.id === id);
  if (!row) return model;
  const old = row.name;
  const taken = model.variations.some((each) => each.id !== id && each.name === name);
  const variations = model.variations.map((each) => (each.id === id ? { ...each, name } : each));
  if (taken || name === '' || old === '') return { ...model, variations };
  const fix = (rule: Rule): Rule => renameInRule(rule, old, name);
  return {
    ...model,
    variations,
    rules: model.rules.map((each) => ({ ...each, rule: fix(each.rule) })),
    defaultRule: fix(model.defaultRule),
    other: model.other.offVariation === old ? { ...model.other, offVariation: name } : model.other,
  };
}

function renameInRule(rule: Rule, old: string, name: string): Rule {
  const out: Rule = { ...rule };
  if (out.variation === old) out.variation = name;
  if (isPlainObject(out.percentage) && old in out.percentage) {
    out.percentage = Object.fromEntries(Object.entries(out.percentage).map(([key, weight]) => [key === old ? name : key, weight]));
  }
  if (out.progressiveRollout) {
    const { initial, end } = out.progressiveRollout;
    out.progressiveRollout = {
      ...(initial ? { initial: initial.variation === old ? { ...initial, variation: name } : initial } : {}),
      ...(end ? { end: end.variation === old ? { ...end, variation: name } : end } : {}),
    };
  }
  return out;
}

export function moveItem<T>(items: T[], from: number, to: number): T[] {
  if (from === to || from < 0 || to < 0 || from >= items.length || to >= items.length) return items;
  const out = items.slice();
  const [item] = out.splice(from, 1);
  out.splice(to, 0, item!);
  return out;
}

/** A fresh flag of one type, ready to edit. */
export function blankFlag(type: ValueType): FlagDefinition {
  switch (type) {
    case 'boolean':
      return { variations: { on: true, off: false }, defaultRule: { variation: 'off' } };
    case 'number':
      return { variations: { low: 1, high: 10 }, defaultRule: { variation: 'low' } };
    case 'string':
      return { variations: { control: 'control', treatment: 'treatment' }, defaultRule: { variation: 'control' } };
    default:
      return { variations: { default: { enabled: false }, variant: { enabled: true } }, defaultRule: { variation: 'default' } };
  }
}
