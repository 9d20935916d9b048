import { useMemo } from 'preact/hooks';
import { compileQuery, type CompiledQuery } from '@vexil/core';
import { FieldErrors } from './basics.js';
import type { FieldProblem } from '../lib/problems.js';

/**
 * A targeting query with live validation by the core's own compiler: the error column is pointed at under the text,
 * exactly where `vexil lint` and the server would report it.
 */
export function QueryInput(props: {
  id: string;
  value: string;
  onChange: (text: string) => void;
  problems: FieldProblem[] | undefined;
  resolveSegment?: (name: string) => CompiledQuery | undefined;
}) {
  const result = useMemo(
    () => compileQuery(props.value, props.resolveSegment ? { resolveSegment: props.resolveSegment } : {}),
    [props.value, props.resolveSegment],
  );
  // The compiler's own messages are shown with the caret below; keep the others (e.g. from the server).
  const others = props.problems?.filter((problem) => !/^query (does not parse at column|column) \d+/.test(problem.message));
  const statusId = `${props.id}-status`;
  const errorsId = `${props.id}-errors`;
  const lines = props.value.split('\n').length;
  return (
    <div class="query-input">
      <label for={props.id}>Query</label>
      <textarea
        id={props.id}
        class="mono"
        rows={Math.min(6, Math.max(1, lines))}
        spellcheck={false}
        autoComplete="off"
        placeholder='e.g. country eq "NZ" and plan in ["pro", "team"]'
        value={props.value}
        aria-invalid={!result.ok || !!others?.some((p) => p.severity !== 'warning') ? true : undefined}
        aria-describedby={`${statusId}${others?.length ? ` ${errorsId}` : ''}`}
        onInput={(event) => props.onChange(event.currentTarget.value)}
      />
      <div id={statusId} class={result.ok ? 'query-status ok' : 'query-status error'} aria-live="polite">
        {result.ok ? (
          <>
            <span>
              {result.query.kind === 'match-all' ? 'Empty: matches every context' : `Valid ${result.query.kind === 'jsonlogic' ? 'JsonLogic' : 'query'}`}
            </span>
            {result.warnings.map((warning, index) => (
              <span key={index} class="warning">
                Column {warning.column}: {warning.message}
              </span>
            ))}
          </>
        ) : (
          <>
            {lines === 1 && (
              <pre class="caret" aria-hidden="true">
                {props.value}
                {'\n'}
                {' '.repeat(Math.max(0, result.error.column - 1))}^
              </pre>
            )}
            <span>
              Column {result.error.column}: {result.error.message}
            </span>
          </>
        )}
      </div>
      <FieldErrors id={errorsId} messages={others} />
    </div>
  );
}
