import { useState } from 'preact/hooks';
import { api, type PlaygroundResult } from '../lib/api.js';
import { formatValue, plural } from '../lib/format.js';
import { links } from '../lib/router.js';
import { isPlainObject } from '../lib/json.js';
import { ErrorBox, FieldErrors } from '../components/basics.js';

const EXAMPLE = JSON.stringify({ targetingKey: 'user-42', email: 'ada@example.com', country: 'NZ', plan: 'pro' }, null, 2);

export function PlaygroundPage() {
  const [text, setText] = useState(() => sessionStorage.getItem('vexil.playground') ?? EXAMPLE);
  const [only, setOnly] = useState('');
  const [contextError, setContextError] = useState<string>();
  const [error, setError] = useState<unknown>();
  const [results, setResults] = useState<PlaygroundResult[]>();
  const [busy, setBusy] = useState(false);
  const [filter, setFilter] = useState('');

  async function run(event?: Event) {
    event?.preventDefault();
    let context: unknown;
    try {
      context = JSON.parse(text);
    } catch (failure) {
      setContextError(`Not valid JSON: ${failure instanceof Error ? failure.message : String(failure)}`);
      return;
    }
    if (!isPlainObject(context)) {
      setContextError('The context must be a JSON object, e.g. {"targetingKey": "user-1"}.');
      return;
    }
    setContextError(undefined);
    sessionStorage.setItem('vexil.playground', text);
    setBusy(true);
    setError(undefined);
    try {
      setResults(await api.evaluate(context, only.trim() || undefined));
    } catch (failure) {
      setError(failure);
    } finally {
      setBusy(false);
    }
  }

  const shown = results?.filter((result) => !filter || result.key.toLowerCase().includes(filter.toLowerCase()));
  return (
    <section aria-labelledby="playground-title">
      <div class="page-head">
        <h1 id="playground-title" tabIndex={-1}>
          Playground
        </h1>
      </div>
      <p class="help">Evaluate flags for a context exactly as the server would, with the reasoning behind each result.</p>
      <form class="card playground-form" onSubmit={run}>
        <label for="pg-context">Evaluation context (JSON)</label>
        <textarea
          id="pg-context"
          class="mono"
          rows={8}
          spellcheck={false}
          value={text}
          aria-invalid={contextError ? true : undefined}
          aria-describedby={contextError ? 'pg-context-errors' : 'pg-context-help'}
          onInput={(event) => setText(event.currentTarget.value)}
          onKeyDown={(event) => {
            if (event.key === 'Enter' && (event.ctrlKey || event.metaKey)) void run();
          }}
        />
        <p class="help" id="pg-context-help">
          <code>targetingKey</code> is what splits hash on. Ctrl+Enter evaluates.
        </p>
        <FieldErrors id="pg-context-errors" messages={contextError ? [{ message: contextError }] : undefined} />
        <div class="row">
          <div class="field grow">
            <label for="pg-flags">Only this flag (optional)</label>
            <input id="pg-flags" class="mono" value={only} onInput={(event) => setOnly(event.currentTarget.value)} />
          </div>
          <button type="submit" class="primary" disabled={busy}>
            {busy ? 'Evaluating…' : 'Evaluate'}
          </button>
        </div>
      </form>
      <ErrorBox error={error} title="Cannot evaluate" />
      {results && (
        <section aria-labelledby="pg-results" class="results">
          <div class="row">
            <h2 id="pg-results" class="grow">
              Results <span class="muted small">({results.length})</span>
            </h2>
            <label>
              <span class="sr-only">Filter results</span>
              <input type="search" placeholder="Filter by key" value={filter} onInput={(event) => setFilter(event.currentTarget.value)} />
            </label>
          </div>
          <ul class="result-list">
            {shown?.map((result) => (
              <li key={result.key} class="card result">
                <div class="result-head">
                  <a class="flag-key" href={links.flag(result.key)}>
                    {result.key}
                  </a>
                  <code class="value">{formatValue(result.value)}</code>
                  {result.variant && <span class="chip">{result.variant}</span>}
                  <span class={`badge reason ${result.errorCode ? 'error' : ''}`}>{result.reason}</span>
                </div>
                {result.errorCode && (
                  <p class="field-error">
                    {result.errorCode}
                    {result.errorMessage ? `: ${result.errorMessage}` : ''}
                  </p>
                )}
                {result.explain && result.explain.length > 0 && (
                  <details>
                    <summary>Why ({plural(result.explain.length, 'step')})</summary>
                    <ol class="explain">
                      {result.explain.map((step, index) => (
                        <li key={index} class={step.matched === true ? 'matched' : step.matched === false ? 'skipped' : undefined}>
                          <strong>{step.step}</strong>
                          {step.rule ? <> · rule <code>{step.rule}</code></> : null}: {step.detail}
                          {step.bucket !== undefined && (
                            <span class="muted small">
                              {' '}
                              (bucket {step.bucket}
                              {step.range ? ` in [${step.range[0]}, ${step.range[1]})` : ''})
                            </span>
                          )}
                        </li>
                      ))}
                    </ol>
                  </details>
                )}
              </li>
            ))}
          </ul>
        </section>
      )}
    </section>
  );
}
