// Validation of Vexil's `experiment` block: every problem names the field, and the flag checker adds the file, line
// and flag key. Nothing here changes how the flag is evaluated.
import type { FlagDefinition } from '../model/flag.js';
import { EXPERIMENT_FIELDS, EXPERIMENT_METRIC_FIELDS } from '../model/experiment.js';
import type { FieldPath } from '../parse/flag-file.js';
import { describeType } from '../model/describe.js';
import { parseDuration } from '../rollout/progressive-delivery.js';
import { parseDate } from '../rollout/scheduled.js';
import type { RolloutProblemSink } from './rollout.js';

const METRIC_TYPES = ['binomial', 'mean', 'ratio'];
const ENGINES = ['frequentist', 'bayesian'];
const CORRECTIONS = ['holm-bonferroni', 'benjamini-hochberg', 'none'];

function isMap(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

export function checkExperimentFields(flag: FlagDefinition, variationNames: ReadonlySet<string>, sink: RolloutProblemSink): void {
  const path: FieldPath = ['experiment'];
  const raw = flag.experiment as unknown;
  if (!isMap(raw)) {
    sink.error(path, `experiment must be a map (control, metrics, attributionWindow…), not ${describeType(raw)}`);
    return;
  }
  sink.unknownFields(raw, path, EXPERIMENT_FIELDS, 'experiment');
  if (raw.control !== undefined) {
    if (typeof raw.control !== 'string') sink.error([...path, 'control'], `control is a variation name, not ${describeType(raw.control)}`);
    else if (variationNames.size > 0 && !variationNames.has(raw.control)) {
      sink.error([...path, 'control'], `unknown variation "${raw.control}" (the flag has ${[...variationNames].map((n) => `"${n}"`).join(', ')})`);
    }
  }
  if (variationNames.size > 0 && variationNames.size < 2) sink.warning(path, 'an experiment needs at least two variations to compare');

  const dates: Record<string, number> = {};
  for (const side of ['start', 'end'] as const) {
    const value = raw[side];
    if (value === undefined) continue;
    const at = parseDate(value);
    if (Number.isNaN(at)) sink.error([...path, side], `"${String(value)}" is not an RFC 3339 date`);
    else dates[side] = at;
  }
  if (dates.start !== undefined && dates.end !== undefined && dates.end <= dates.start) sink.error([...path, 'end'], 'the experiment must end after it starts');

  if (raw.attributionWindow !== undefined && Number.isNaN(parseDuration(raw.attributionWindow))) {
    sink.error([...path, 'attributionWindow'], `"${String(raw.attributionWindow)}" is not a duration (e.g. 24h, 72h, 7d)`);
  }
  if (raw.sequential !== undefined && typeof raw.sequential !== 'boolean') sink.error([...path, 'sequential'], `sequential is true or false, not ${describeType(raw.sequential)}`);
  if (raw.sticky !== undefined && typeof raw.sticky !== 'boolean' && Number.isNaN(parseDuration(raw.sticky))) {
    sink.error([...path, 'sticky'], `sticky is true, false or how long an assignment is kept (e.g. 30d), not ${typeof raw.sticky === 'string' ? JSON.stringify(raw.sticky) : describeType(raw.sticky)}`);
  }
  if (raw.stickyVersion !== undefined) {
    if (!(typeof raw.stickyVersion === 'number' && Number.isSafeInteger(raw.stickyVersion) && raw.stickyVersion >= 0)) {
      sink.error([...path, 'stickyVersion'], `stickyVersion is a whole number ≥ 0 (raise it to start the sticky assignments over), not ${typeof raw.stickyVersion === 'number' ? raw.stickyVersion : describeType(raw.stickyVersion)}`);
    } else if (raw.sticky === undefined || raw.sticky === false) {
      sink.warning([...path, 'stickyVersion'], 'stickyVersion has no effect: the experiment is not sticky (sticky: true)');
    }
  }
  if (raw.engine !== undefined && !ENGINES.includes(raw.engine as string)) sink.error([...path, 'engine'], `engine is frequentist or bayesian, not ${JSON.stringify(raw.engine)}`);
  if (raw.correction !== undefined && !CORRECTIONS.includes(raw.correction as string)) {
    sink.error([...path, 'correction'], `correction is one of ${CORRECTIONS.join(', ')}, not ${JSON.stringify(raw.correction)}`);
  }
  if (raw.alpha !== undefined && !(typeof raw.alpha === 'number' && raw.alpha > 0 && raw.alpha < 0.5)) {
    sink.error([...path, 'alpha'], `alpha is a number above 0 and below 0.5 (e.g. 0.05), not ${typeof raw.alpha === 'number' ? raw.alpha : describeType(raw.alpha)}`);
  }
  if (raw.sequential === true && raw.engine !== 'frequentist') sink.error([...path, 'sequential'], 'sequential testing needs engine: frequentist');
  if (raw.cuped !== undefined && typeof raw.cuped !== 'boolean' && !(parseDuration(raw.cuped) >= 86_400_000)) {
    sink.error([...path, 'cuped'], `cuped is true, false or how far to look back before the first exposure (whole days, e.g. 14d), not ${typeof raw.cuped === 'string' ? JSON.stringify(raw.cuped) : describeType(raw.cuped)}`);
  }
  if (raw.minUnits !== undefined && !(typeof raw.minUnits === 'number' && Number.isInteger(raw.minUnits) && raw.minUnits >= 1)) {
    sink.error([...path, 'minUnits'], 'minUnits is a whole number of units ≥ 1');
  }

  if (raw.metrics === undefined) {
    sink.error([...path, 'metrics'], 'missing: list the metrics to compare, e.g. [{event: purchase, type: binomial}]');
    return;
  }
  if (!Array.isArray(raw.metrics) || raw.metrics.length === 0) {
    sink.error([...path, 'metrics'], `metrics must be a non-empty list, not ${describeType(raw.metrics)}`);
    return;
  }
  const names = new Set<string>();
  raw.metrics.forEach((metric: unknown, index) => {
    const at: FieldPath = [...path, 'metrics', index];
    if (!isMap(metric)) {
      sink.error(at, `a metric is a map like {event: purchase, type: binomial}, not ${describeType(metric)}`);
      return;
    }
    sink.unknownFields(metric, at, EXPERIMENT_METRIC_FIELDS, 'experiment metric');
    if (typeof metric.event !== 'string' || metric.event === '') {
      sink.error([...at, 'event'], metric.event === undefined ? 'missing: the tracked event this metric reads' : `event is an event name, not ${describeType(metric.event)}`);
    }
    if (!METRIC_TYPES.includes(metric.type as string)) {
      sink.error([...at, 'type'], metric.type === undefined ? 'missing: binomial, mean or ratio' : `type is binomial, mean or ratio, not ${JSON.stringify(metric.type)}`);
    }
    if (metric.value !== undefined && metric.value !== 'sum' && metric.value !== 'count') sink.error([...at, 'value'], `value is sum or count, not ${JSON.stringify(metric.value)}`);
    if (metric.type === 'ratio') {
      if (typeof metric.denominator !== 'string' || metric.denominator === '') sink.error([...at, 'denominator'], 'missing: a ratio metric needs the denominator event');
    } else if (metric.denominator !== undefined) sink.error([...at, 'denominator'], `only a ratio metric has a denominator (this one is ${String(metric.type)})`);
    if (metric.name !== undefined && typeof metric.name !== 'string') sink.error([...at, 'name'], `name is a string, not ${describeType(metric.name)}`);
    for (const field of ['goal', 'guardrail', 'inverse'] as const) {
      if (metric[field] !== undefined && typeof metric[field] !== 'boolean') sink.error([...at, field], `${field} is true or false, not ${describeType(metric[field])}`);
    }
    if (metric.goal === true && metric.guardrail === true) sink.error([...at, 'guardrail'], 'a metric is a goal or a guardrail, not both');
    const name = typeof metric.name === 'string' ? metric.name : typeof metric.event === 'string' ? metric.event : undefined;
    if (name !== undefined) {
      if (names.has(name)) sink.error([...at, 'name'], `two metrics are named "${name}": give one a distinct name`);
      names.add(name);
    }
  });
}
