// The flag editor's simpler sections: variations, settings, metadata, scheduled steps, and the experiment and rollout
// plan (edited as JSON, validated like the rest).
import type { FlagDefinition } from '@vexil/core';
import { FieldErrors, Switch, variationColor } from './basics.js';
import { newId, parseValue, renameVariation, valueText, type MetaRow, type Model, type StepRow, type ValueType } from '../lib/editor-model.js';
import { fieldId, problemsUnder, type FieldProblem, type ProblemMap } from '../lib/problems.js';
import { fromLocalInput, toLocalInput } from '../lib/format.js';

export function VariationsEditor(props: { model: Model; problems: ProblemMap; onChange: (model: Model) => void }) {
  const { model } = props;
  const set = (id: string, text: string) => props.onChange({ ...model, variations: model.variations.map((row) => (row.id === id ? { ...row, text } : row)) });
  return (
    <div>
      <table class="variations">
        <thead>
          <tr>
            <th scope="col">Name</th>
            <th scope="col">Value ({model.type})</th>
            <th scope="col">
              <span class="sr-only">Remove</span>
            </th>
          </tr>
        </thead>
        <tbody>
          {model.variations.map((row, index) => {
            const path = `variations.${row.name}`;
            const id = fieldId(`variations-${index}`);
            const problems = row.name ? props.problems.get(path) : undefined;
            const describedBy = problems ? `${id}-errors` : undefined;
            return (
              <tr key={row.id}>
                <td>
                  <span class="dot" style={{ background: variationColor(index) }} aria-hidden="true" />
                  <input
                    id={`${id}-name`}
                    class="mono"
                    aria-label={`Name of variation ${index + 1}`}
                    value={row.name}
                    onInput={(event) => props.onChange(renameVariation(model, row.id, event.currentTarget.value))}
                  />
                </td>
                <td>
                  <ValueEditor id={`${id}-value`} type={model.type} text={row.text} label={`Value of ${row.name || `variation ${index + 1}`}`} describedBy={describedBy} onChange={(text) => set(row.id, text)} />
                  <FieldErrors id={`${id}-errors`} messages={problems} />
                </td>
                <td>
                  <button
                    type="button"
                    class="icon-button danger-text"
                    aria-label={`Remove variation ${row.name}`}
                    disabled={model.variations.length <= 1}
                    onClick={() => props.onChange({ ...model, variations: model.variations.filter((each) => each.id !== row.id) })}
                  >
                    ×
                  </button>
                </td>
              </tr>
            );
          })}
        </tbody>
      </table>
      <FieldErrors id="f-variations-errors" messages={props.problems.get('variations')} />
      <button
        type="button"
        onClick={() => {
          const names = new Set(model.variations.map((row) => row.name));
          let n = model.variations.length + 1;
          while (names.has(`variation-${n}`)) n += 1;
          const initial: Record<ValueType, string> = { boolean: 'false', number: '0', string: `variation-${n}`, json: '{}' };
          props.onChange({ ...model, variations: [...model.variations, { id: newId(), name: `variation-${n}`, text: initial[model.type] }] });
        }}
      >
        Add variation
      </button>
    </div>
  );
}

function ValueEditor(props: { id: string; type: ValueType; text: string; label: string; describedBy?: string; onChange: (text: string) => void }) {
  const parsed = parseValue(props.text, props.type);
  const invalid = !parsed.ok ? true : undefined;
  switch (props.type) {
    case 'boolean':
      return <Switch id={props.id} on={props.text === 'true'} label={props.label} onChange={(on) => props.onChange(String(on))} />;
    case 'number':
      return (
        <input id={props.id} type="text" inputMode="decimal" class="mono" aria-label={props.label} aria-invalid={invalid} aria-describedby={props.describedBy} value={props.text} onInput={(e) => props.onChange(e.currentTarget.value)} />
      );
    case 'string':
      return <input id={props.id} aria-label={props.label} aria-describedby={props.describedBy} value={props.text} onInput={(e) => props.onChange(e.currentTarget.value)} />;
    default:
      return (
        <textarea
          id={props.id}
          class="mono"
          rows={Math.min(8, props.text.split('\n').length)}
          spellcheck={false}
          aria-label={props.label}
          aria-invalid={invalid}
          aria-describedby={props.describedBy}
          value={props.text}
          onInput={(e) => props.onChange(e.currentTarget.value)}
        />
      );
  }
}

export function SettingsEditor(props: { model: Model; problems: ProblemMap; onChange: (model: Model) => void }) {
  const { other } = props.model;
  const names = props.model.variations.map((row) => row.name).filter(Boolean);
  const set = (patch: Partial<FlagDefinition>) => {
    const next: FlagDefinition = { ...other, ...patch };
    for (const [field, value] of Object.entries(patch)) if (value === undefined || value === '') delete (next as Record<string, unknown>)[field];
    props.onChange({ ...props.model, other: next });
  };
  const errs = (path: string) => props.problems.get(path);
  return (
    <div class="settings-grid">
      <div class="field">
        <label for="f-disable">Flag state</label>
        <Switch id="f-disable" on={other.disable !== true} label="Flag on" onChange={(on) => set({ disable: on ? undefined : true })} />
        <p class="help">Off: every evaluation serves the off variation below, or the caller's default.</p>
      </div>
      <div class="field">
        <label for="f-offVariation">Off variation</label>
        <select id="f-offVariation" value={other.offVariation ?? ''} onChange={(e) => set({ offVariation: e.currentTarget.value || undefined })}>
          <option value="">The caller's default value</option>
          {names.map((name) => (
            <option key={name} value={name}>
              {name}
            </option>
          ))}
        </select>
        <FieldErrors id="f-offVariation-errors" messages={errs('offVariation')} />
      </div>
      <div class="field">
        <label for="f-bucketingKey">Bucketing key</label>
        <input
          id="f-bucketingKey"
          class="mono"
          placeholder="targetingKey"
          value={other.bucketingKey ?? ''}
          aria-describedby="f-bucketingKey-help"
          onInput={(e) => set({ bucketingKey: e.currentTarget.value || undefined })}
        />
        <p class="help" id="f-bucketingKey-help">
          Context attribute (dot path, e.g. <code>company.id</code>) that splits are hashed on instead of the targeting key.
        </p>
        <FieldErrors id="f-bucketingKey-errors" messages={errs('bucketingKey')} />
      </div>
      <div class="field">
        <label class="checkbox">
          <input type="checkbox" checked={other.trackEvents !== false} onChange={(e) => set({ trackEvents: e.currentTarget.checked ? undefined : false })} />
          Track evaluation events
        </label>
      </div>
      <div class="field">
        <label for="f-experimentation-start">Experiment starts</label>
        <input
          id="f-experimentation-start"
          type="datetime-local"
          value={toLocalInput(other.experimentation?.start)}
          onChange={(e) => set({ experimentation: windowOf({ ...other.experimentation, start: fromLocalInput(e.currentTarget.value) }) })}
        />
      </div>
      <div class="field">
        <label for="f-experimentation-end">Experiment ends</label>
        <input
          id="f-experimentation-end"
          type="datetime-local"
          value={toLocalInput(other.experimentation?.end)}
          onChange={(e) => set({ experimentation: windowOf({ ...other.experimentation, end: fromLocalInput(e.currentTarget.value) }) })}
        />
        <FieldErrors id="f-experimentation-errors" messages={problemsUnder(props.problems, 'experimentation')} />
      </div>
      <div class="field">
        <label for="f-version">Version label</label>
        <input id="f-version" value={other.version ?? ''} placeholder="optional, e.g. 1.2" onInput={(e) => set({ version: e.currentTarget.value || undefined })} />
      </div>
    </div>
  );
}

function windowOf(window: { start?: string | undefined; end?: string | undefined }): FlagDefinition['experimentation'] {
  const out: { start?: string; end?: string } = {};
  if (window.start) out.start = window.start;
  if (window.end) out.end = window.end;
  return out.start || out.end ? out : undefined;
}

export function MetadataEditor(props: { rows: MetaRow[]; problems: ProblemMap; onChange: (rows: MetaRow[]) => void }) {
  const set = (id: string, patch: Partial<MetaRow>) => props.onChange(props.rows.map((row) => (row.id === id ? { ...row, ...patch } : row)));
  return (
    <div>
      <p class="help">
        <code>description</code> and <code>tags</code> (a list, or comma-separated text) show in the flags list. Every entry is returned to SDKs as flag metadata.
      </p>
      {props.rows.length > 0 && (
        <table class="metadata">
          <thead>
            <tr>
              <th scope="col">Name</th>
              <th scope="col">Value</th>
              <th scope="col">JSON</th>
              <th scope="col">
                <span class="sr-only">Remove</span>
              </th>
            </tr>
          </thead>
          <tbody>
            {props.rows.map((row, index) => {
              const id = `f-metadata-${index}`;
              const problems = row.key ? props.problems.get(`metadata.${row.key}`) : undefined;
              return (
                <tr key={row.id}>
                  <td>
                    <input class="mono" aria-label={`Metadata name ${index + 1}`} value={row.key} onInput={(e) => set(row.id, { key: e.currentTarget.value })} />
                  </td>
                  <td>
                    <input
                      aria-label={`Value of ${row.key || `metadata ${index + 1}`}`}
                      class={row.json ? 'mono' : undefined}
                      value={row.text}
                      aria-describedby={problems ? `${id}-errors` : undefined}
                      onInput={(e) => set(row.id, { text: e.currentTarget.value })}
                    />
                    <FieldErrors id={`${id}-errors`} messages={problems} />
                  </td>
                  <td>
                    <input type="checkbox" aria-label={`${row.key || 'entry'} is JSON`} checked={row.json} onChange={(e) => set(row.id, { json: e.currentTarget.checked })} />
                  </td>
                  <td>
                    <button type="button" class="icon-button danger-text" aria-label={`Remove metadata ${row.key}`} onClick={() => props.onChange(props.rows.filter((each) => each.id !== row.id))}>
                      ×
                    </button>
                  </td>
                </tr>
              );
            })}
          </tbody>
        </table>
      )}
      <FieldErrors id="f-metadata-errors" messages={props.problems.get('metadata')} />
      <button type="button" onClick={() => props.onChange([...props.rows, { id: newId(), key: '', text: '', json: false }])}>
        Add metadata
      </button>
    </div>
  );
}

export function StepsEditor(props: { rows: StepRow[]; problems: ProblemMap; onChange: (rows: StepRow[]) => void }) {
  const set = (id: string, patch: Partial<StepRow>) => props.onChange(props.rows.map((row) => (row.id === id ? { ...row, ...patch } : row)));
  return (
    <div>
      <p class="help">
        From its date on, a step changes the fields it lists (GO Feature Flag's scheduled rollout), e.g. <code>{'{"defaultRule": {"variation": "on"}}'}</code>.
      </p>
      <ol class="steps">
        {props.rows.map((row, index) => {
          const path = `scheduledRollout[${index}]`;
          const id = fieldId(path);
          const problems = problemsUnder(props.problems, path);
          return (
            <li key={row.id} class="card step">
              <div class="row">
                <div class="field">
                  <label for={`${id}-date`}>Step {index + 1} date</label>
                  <input id={`${id}-date`} type="datetime-local" value={toLocalInput(row.date)} onChange={(e) => set(row.id, { date: fromLocalInput(e.currentTarget.value) })} />
                </div>
                <button type="button" class="icon-button danger-text" aria-label={`Remove step ${index + 1}`} onClick={() => props.onChange(props.rows.filter((each) => each.id !== row.id))}>
                  ×
                </button>
              </div>
              <label for={`${id}-changes`}>Changes (JSON)</label>
              <textarea
                id={`${id}-changes`}
                class="mono"
                rows={Math.min(10, row.text.split('\n').length + 1)}
                spellcheck={false}
                value={row.text}
                aria-describedby={problems.length ? `${id}-errors` : undefined}
                onInput={(e) => set(row.id, { text: e.currentTarget.value })}
              />
              <FieldErrors id={`${id}-errors`} messages={problems} />
            </li>
          );
        })}
      </ol>
      <button
        type="button"
        onClick={() => {
          const date = new Date(Date.now() + 86_400_000);
          date.setMinutes(0, 0, 0);
          props.onChange([...props.rows, { id: newId(), date: date.toISOString().replace('.000Z', 'Z'), text: '{\n  "defaultRule": {}\n}' }]);
        }}
      >
        Add scheduled step
      </button>
    </div>
  );
}

const PLAN_EXAMPLES = {
  experiment: '{ "control": "control", "sticky": true, "metrics": [{ "event": "purchase", "type": "binomial", "goal": true }] }',
  rollout: '{ "variation": "on", "steps": [1, 5, 25, 50], "interval": "10m", "gates": [{ "metric": "checkout-error", "compare": "control", "maxIncrease": "10%" }] }',
};

/** Vexil's `experiment` and `rollout` blocks as JSON, with the validator's messages under each. */
export function PlansEditor(props: { model: Model; problems: ProblemMap; onChange: (model: Model) => void }) {
  const field = (name: 'experiment' | 'rollout', label: string, help: string) => {
    const id = `f-plan-${name}`;
    // Each message names the field inside the block it is about (`metrics[0].event: …`).
    const messages: FieldProblem[] = [];
    for (const [path, list] of props.problems) {
      if (path !== name && !path.startsWith(`${name}.`) && !path.startsWith(`${name}[`)) continue;
      const inner = path.slice(name.length).replace(/^\./, '');
      for (const problem of list) messages.push(inner ? { ...problem, message: `${inner}: ${problem.message}` } : problem);
    }
    return (
      <div class="field">
        <label for={id}>{label}</label>
        <p class="help">{help}</p>
        <textarea
          id={id}
          class="mono"
          rows={Math.min(16, Math.max(3, props.model.plans[name].split('\n').length))}
          placeholder={PLAN_EXAMPLES[name]}
          value={props.model.plans[name]}
          aria-invalid={messages.length > 0}
          aria-describedby={messages.length > 0 ? `${id}-errors` : undefined}
          onInput={(e) => props.onChange({ ...props.model, plans: { ...props.model.plans, [name]: e.currentTarget.value } })}
        />
        <FieldErrors id={`${id}-errors`} messages={messages.length > 0 ? messages : undefined} />
      </div>
    );
  };
  return (
    <div>
      {field('experiment', 'Experiment (JSON)', 'Control, metrics, attribution window, engine, sticky assignment (true or how long, e.g. "30d"). Empty: no experiment.')}
      {field('rollout', 'Progressive rollout plan (JSON)', 'Variation released, steps or stepWeight, interval, approval steps, gates, failureLimit, minSampleSize. Empty: no plan.')}
    </div>
  );
}
