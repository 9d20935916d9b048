import { useRef, useState } from 'preact/hooks';
import type { CompiledQuery, Rule } from '@vexil/core';
import { FieldErrors } from './basics.js';
import { QueryInput } from './QueryInput.js';
import { ServeEditor } from './ServeEditor.js';
import { moveItem, newId, type RuleRow } from '../lib/editor-model.js';
import { fieldId, type ProblemMap } from '../lib/problems.js';

/**
 * Targeting rules in evaluation order. Reorder by dragging a rule's handle, or with its "Move up" / "Move down"
 * buttons from the keyboard (the move is announced, and focus stays on the moved rule).
 */
export function RuleList(props: {
  rules: RuleRow[];
  names: string[];
  problems: ProblemMap;
  resolveSegment?: (name: string) => CompiledQuery | undefined;
  onChange: (rules: RuleRow[]) => void;
}) {
  const [dragging, setDragging] = useState<number>();
  const [over, setOver] = useState<number>();
  const [announcement, setAnnouncement] = useState('');
  const list = useRef<HTMLOListElement>(null);
  const { rules } = props;

  function move(from: number, to: number, focusButton?: 'up' | 'down') {
    if (to < 0 || to >= rules.length || from === to) return;
    props.onChange(moveItem(rules, from, to));
    setAnnouncement(`Rule "${rules[from]!.rule.name || `#${from + 1}`}" moved to position ${to + 1} of ${rules.length}.`);
    if (focusButton) {
      const id = rules[from]!.id;
      requestAnimationFrame(() => {
        const card = list.current?.querySelector<HTMLElement>(`[data-rule="${id}"]`);
        // Stay on the same arrow; at the top or bottom, where it is disabled, the other arrow.
        const other = focusButton === 'up' ? 'down' : 'up';
        const button =
          card?.querySelector<HTMLButtonElement>(`button[data-move="${focusButton}"]:not([disabled])`) ??
          card?.querySelector<HTMLButtonElement>(`button[data-move="${other}"]:not([disabled])`) ??
          card?.querySelector<HTMLElement>('h3');
        button?.focus();
      });
    }
  }

  function update(index: number, rule: Rule) {
    props.onChange(rules.map((row, i) => (i === index ? { ...row, rule } : row)));
  }

  return (
    <div>
      <p class="sr-only" aria-live="polite">
        {announcement}
      </p>
      {rules.length === 0 && <p class="muted">No targeting rules: everyone gets the default rule.</p>}
      <ol class="rules" ref={list}>
        {rules.map((row, index) => {
          const path = `targeting[${index}]`;
          const id = fieldId(path);
          const rule = row.rule;
          const title = rule.name ? rule.name : `Rule ${index + 1}`;
          return (
            <li
              key={row.id}
              data-rule={row.id}
              class={`card rule-card${dragging === index ? ' dragging' : ''}${over === index && dragging !== undefined && dragging !== index ? (dragging < index ? ' drop-after' : ' drop-before') : ''}${rule.disable ? ' disabled' : ''}`}
              aria-labelledby={`${id}-title`}
              onDragOver={(event) => {
                if (dragging === undefined) return;
                event.preventDefault();
                if (event.dataTransfer) event.dataTransfer.dropEffect = 'move';
                setOver(index);
              }}
              onDrop={(event) => {
                event.preventDefault();
                if (dragging !== undefined) move(dragging, index);
                setDragging(undefined);
                setOver(undefined);
              }}
            >
              <div class="rule-head">
                <span
                  class="drag-handle"
                  draggable
                  title="Drag to reorder"
                  aria-hidden="true"
                  onDragStart={(event) => {
                    setDragging(index);
                    if (event.dataTransfer) {
                      event.dataTransfer.effectAllowed = 'move';
                      event.dataTransfer.setData('text/plain', String(index));
                      const card = (event.currentTarget as HTMLElement).closest('li');
                      if (card) event.dataTransfer.setDragImage(card, 20, 20);
                    }
                  }}
                  onDragEnd={() => {
                    setDragging(undefined);
                    setOver(undefined);
                  }}
                >
                  ⠿
                </span>
                <h3 id={`${id}-title`} tabIndex={-1}>
                  <span class="rule-number">{index + 1}</span> {title}
                </h3>
                <div class="rule-tools">
                  <button type="button" class="icon-button" data-move="up" aria-label={`Move ${title} up`} disabled={index === 0} onClick={() => move(index, index - 1, 'up')}>
                    ↑
                  </button>
                  <button
                    type="button"
                    class="icon-button"
                    data-move="down"
                    aria-label={`Move ${title} down`}
                    disabled={index === rules.length - 1}
                    onClick={() => move(index, index + 1, 'down')}
                  >
                    ↓
                  </button>
                  <button type="button" class="icon-button danger-text" aria-label={`Remove ${title}`} onClick={() => props.onChange(rules.filter((_, i) => i !== index))}>
                    ×
                  </button>
                </div>
              </div>
              <div class="rule-body">
                <div class="row">
                  <div class="field grow">
                    <label for={`${id}-name`}>Name</label>
                    <input
                      id={`${id}-name`}
                      value={rule.name ?? ''}
                      placeholder="e.g. beta-testers"
                      aria-describedby={props.problems.get(`${path}.name`) ? `${id}-name-errors` : undefined}
                      onInput={(event) => {
                        const name = event.currentTarget.value;
                        const next: Rule = { ...rule };
                        if (name) next.name = name;
                        else delete next.name;
                        update(index, next);
                      }}
                    />
                    <FieldErrors id={`${id}-name-errors`} messages={props.problems.get(`${path}.name`)} />
                  </div>
                  <label class="checkbox">
                    <input
                      type="checkbox"
                      checked={rule.disable !== true}
                      onChange={(event) => {
                        const next: Rule = { ...rule };
                        if (event.currentTarget.checked) delete next.disable;
                        else next.disable = true;
                        update(index, next);
                      }}
                    />
                    Active
                  </label>
                </div>
                <QueryInput
                  id={`${id}-query`}
                  value={typeof rule.query === 'string' ? rule.query : rule.query === undefined ? '' : JSON.stringify(rule.query)}
                  problems={props.problems.get(`${path}.query`)}
                  resolveSegment={props.resolveSegment}
                  onChange={(query) => update(index, { ...rule, query })}
                />
                <ServeEditor path={path} rule={rule} names={props.names} problems={props.problems} onChange={(next) => update(index, next)} />
              </div>
            </li>
          );
        })}
      </ol>
      <button
        type="button"
        onClick={() => {
          const taken = new Set(rules.map((row) => row.rule.name));
          let n = rules.length + 1;
          while (taken.has(`rule-${n}`)) n += 1;
          props.onChange([...rules, { id: newId(), rule: { name: `rule-${n}`, query: '', variation: props.names[0] ?? '' } }]);
          requestAnimationFrame(() => list.current?.querySelector<HTMLElement>('li:last-child textarea')?.focus());
        }}
      >
        Add rule
      </button>
    </div>
  );
}
