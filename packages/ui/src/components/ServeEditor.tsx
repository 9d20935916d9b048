import type { ProgressiveRolloutStep, Rule } from '@vexil/core';
import { FieldErrors } from './basics.js';
import { SplitEditor } from './SplitEditor.js';
import { fromLocalInput, toLocalInput } from '../lib/format.js';
import { fieldId, problemsUnder, type ProblemMap } from '../lib/problems.js';
import { isPlainObject } from '../lib/json.js';

type Mode = 'variation' | 'split' | 'progressive';

export function modeOf(rule: Rule): Mode {
  if (rule.progressiveRollout) return 'progressive';
  if (isPlainObject(rule.percentage)) return 'split';
  return 'variation';
}

const OUTCOME_FIELDS = ['variation', 'percentage', 'progressiveRollout'] as const;

function withOutcome(rule: Rule, outcome: Partial<Rule>): Rule {
  const out: Rule = { ...rule };
  for (const field of OUTCOME_FIELDS) delete out[field];
  return { ...out, ...outcome };
}

/** What a rule serves: one variation, a percentage split, or a progressive rollout between two dates. */
export function ServeEditor(props: { path: string; rule: Rule; names: string[]; problems: ProblemMap; onChange: (rule: Rule) => void }) {
  const { path, rule, names } = props;
  const mode = modeOf(rule);
  const id = fieldId(path);
  const first = names[0] ?? '';
  const current = typeof rule.variation === 'string' ? rule.variation : first;

  function setMode(next: Mode) {
    if (next === mode) return;
    if (next === 'variation') props.onChange(withOutcome(rule, { variation: current }));
    if (next === 'split') {
      const even = Math.floor(100 / Math.max(1, names.length));
      const percentage = Object.fromEntries(names.map((name, index) => [name, index === 0 ? 100 - even * (names.length - 1) : even]));
      props.onChange(withOutcome(rule, { percentage }));
    }
    if (next === 'progressive') {
      const start = new Date();
      start.setMinutes(0, 0, 0);
      start.setHours(start.getHours() + 1);
      const end = new Date(start.getTime() + 7 * 86_400_000);
      const iso = (date: Date) => date.toISOString().replace('.000Z', 'Z');
      props.onChange(
        withOutcome(rule, {
          progressiveRollout: {
            initial: { variation: names[0] ?? '', percentage: 0, date: iso(start) },
            end: { variation: names[1] ?? names[0] ?? '', percentage: 100, date: iso(end) },
          },
        }),
      );
    }
  }

  const own = (suffix: string) => props.problems.get(`${path}.${suffix}`);
  return (
    <div class="serve-editor">
      <fieldset class="segmented">
        <legend>Serve</legend>
        {(['variation', 'split', 'progressive'] as const).map((each) => (
          <label key={each} class={mode === each ? 'selected' : undefined}>
            <input type="radio" name={`${id}-mode`} value={each} checked={mode === each} onChange={() => setMode(each)} />
            {each === 'variation' ? 'One variation' : each === 'split' ? 'Percentage split' : 'Progressive rollout'}
          </label>
        ))}
      </fieldset>
      {mode === 'variation' && (
        <div class="field">
          <label for={`${id}-variation`}>Variation</label>
          <select
            id={`${id}-variation`}
            value={current}
            aria-describedby={own('variation') ? `${id}-variation-errors` : undefined}
            onChange={(event) => props.onChange(withOutcome(rule, { variation: event.currentTarget.value }))}
          >
            {!names.includes(current) && <option value={current}>{current || '(none)'}</option>}
            {names.map((name) => (
              <option key={name} value={name}>
                {name}
              </option>
            ))}
          </select>
          <FieldErrors id={`${id}-variation-errors`} messages={own('variation')} />
        </div>
      )}
      {mode === 'split' && (
        <>
          <SplitEditor id={`${id}-split`} names={names} percentage={rule.percentage} onChange={(percentage) => props.onChange(withOutcome(rule, { percentage }))} />
          <FieldErrors id={`${id}-split-errors`} messages={problemsUnder(props.problems, `${path}.percentage`)} />
        </>
      )}
      {mode === 'progressive' && (
        <div class="progressive">
          {(['initial', 'end'] as const).map((side) => {
            const step: ProgressiveRolloutStep = rule.progressiveRollout?.[side] ?? {};
            const set = (patch: Partial<ProgressiveRolloutStep>) =>
              props.onChange({ ...rule, progressiveRollout: { ...rule.progressiveRollout, [side]: { ...step, ...patch } } });
            const sid = `${id}-${side}`;
            return (
              <fieldset key={side} class="progressive-step">
                <legend>{side === 'initial' ? 'From' : 'To'}</legend>
                <label for={`${sid}-variation`}>Variation</label>
                <select id={`${sid}-variation`} value={step.variation ?? ''} onChange={(event) => set({ variation: event.currentTarget.value })}>
                  {names.map((name) => (
                    <option key={name} value={name}>
                      {name}
                    </option>
                  ))}
                </select>
                <label for={`${sid}-percentage`}>Share of the end variation (%)</label>
                <input
                  id={`${sid}-percentage`}
                  type="number"
                  min={0}
                  max={100}
                  step={1}
                  value={step.percentage ?? (side === 'initial' ? 0 : 100)}
                  onChange={(event) => set({ percentage: Number(event.currentTarget.value) })}
                />
                <label for={`${sid}-date`}>Date</label>
                <input
                  id={`${sid}-date`}
                  type="datetime-local"
                  value={toLocalInput(step.date)}
                  onChange={(event) => set({ date: fromLocalInput(event.currentTarget.value) })}
                />
                <FieldErrors id={`${sid}-errors`} messages={problemsUnder(props.problems, `${path}.progressiveRollout.${side}`)} />
              </fieldset>
            );
          })}
          <FieldErrors id={`${id}-progressive-errors`} messages={props.problems.get(`${path}.progressiveRollout`)} />
        </div>
      )}
      <FieldErrors id={`${id}-errors`} messages={props.problems.get(path)} />
    </div>
  );
}
