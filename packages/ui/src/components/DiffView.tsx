import { diffJson, type Change } from '../lib/diff.js';
import { isPlainObject, preview } from '../lib/json.js';

/** A rule reads as "name: if query → serves"; other values as compact JSON. */
function show(value: unknown): string {
  if (isPlainObject(value) && ('query' in value || 'variation' in value || 'percentage' in value || 'progressiveRollout' in value)) {
    const serves = isPlainObject(value.percentage)
      ? Object.entries(value.percentage)
          .map(([name, weight]) => `${name} ${String(weight)}%`)
          .join(' / ')
      : isPlainObject(value.progressiveRollout)
        ? `rollout ${String((value.progressiveRollout.initial as { variation?: string } | undefined)?.variation)} → ${String((value.progressiveRollout.end as { variation?: string } | undefined)?.variation)}`
        : String(value.variation ?? '?');
    const query = typeof value.query === 'string' && value.query.trim() ? `if ${value.query} ` : '';
    const name = typeof value.name === 'string' ? `${value.name}: ` : '';
    const text = `${name}${query}→ ${serves}${value.disable === true ? ' (inactive)' : ''}`;
    return text.length > 160 ? `${text.slice(0, 159)}…` : text;
  }
  return preview(value);
}

const VERB: Record<Change['kind'], string> = { added: 'added', removed: 'removed', changed: 'changed', moved: 'moved' };

/** One line per changed field: path, old value struck through, new value. */
export function DiffView(props: { before: unknown; after: unknown; empty?: string; label?: string }) {
  const changes = diffJson(props.before ?? undefined, props.after ?? undefined);
  if (changes.length === 0) return <p class="muted">{props.empty ?? 'No changes.'}</p>;
  return (
    <ul class="diff" aria-label={props.label ?? 'Changes'}>
      {changes.map((change, index) => (
        <li key={index} class={`diff-${change.kind}`}>
          <code class="diff-path">{change.path}</code>
          <span class="diff-kind">{VERB[change.kind]}</span>
          {change.kind === 'moved' ? (
            <span>
              from position {String(change.before)} to {String(change.after)}
            </span>
          ) : (
            <span class="diff-values">
              {change.before !== undefined && (
                <del>
                  <span class="sr-only">was </span>
                  {show(change.before)}
                </del>
              )}
              {change.before !== undefined && change.after !== undefined && <span aria-hidden="true"> → </span>}
              {change.after !== undefined && (
                <ins>
                  <span class="sr-only">now </span>
                  {show(change.after)}
                </ins>
              )}
            </span>
          )}
        </li>
      ))}
    </ul>
  );
}
