import { useEffect, useMemo, useState } from 'preact/hooks';
import { compileSegments, validateFlagDefinition, type FlagDefinition, type SegmentDefinition } from '@vexil/core';
import { api, ApiError, isSentForReview, type ApiProblem, type FlagRecord } from '../lib/api.js';
import { roleAtLeast, useRights } from '../lib/rights.js';
import { announceSentForReview } from '../lib/review.js';
import { currentScope, isDefaultScope, scopeText } from '../lib/scope.js';
import { blankFlag, fromDefinition, toDefinition, type Model, type ValueType } from '../lib/editor-model.js';
import { addProblem, fieldId, type FieldProblem, type ProblemMap } from '../lib/problems.js';
import { jsonEqual } from '../lib/json.js';
import { threeWayMerge } from '../lib/merge.js';
import { previewImpact, type Impact } from '../lib/impact.js';
import { dateTime, plural, timeAgo } from '../lib/format.js';
import { links, navigate } from '../lib/router.js';
import { toast } from '../lib/toast.js';
import { Confirm, Dialog, ErrorBox, FieldErrors, Loading } from '../components/basics.js';
import { DiffView } from '../components/DiffView.js';
import { RuleList } from '../components/RuleList.js';
import { ServeEditor } from '../components/ServeEditor.js';
import { MetadataEditor, PlansEditor, SettingsEditor, StepsEditor, VariationsEditor } from '../components/EditorSections.js';
import { Timeline, type TimelineRamp } from '../components/Timeline.js';
import { RolloutPanel } from '../components/RolloutPanel.js';

interface Loaded {
  /** The stored definition the edit started from; undefined for a new flag. */
  base: FlagDefinition | undefined;
  version: number | undefined;
  updatedAt?: string;
  updatedBy?: string;
}

interface Draft {
  baseVersion: number | undefined;
  base: FlagDefinition | undefined;
  flag: FlagDefinition;
}

/** Drafts are per environment: an edit started in staging is never offered in production. */
const draftKey = (key: string) => {
  const scope = currentScope();
  return isDefaultScope(scope) ? `vexil.draft:${key}` : `vexil.draft:${scopeText(scope)}:${key}`;
};

function readDraft(key: string): Draft | undefined {
  try {
    const text = sessionStorage.getItem(draftKey(key));
    return text ? (JSON.parse(text) as Draft) : undefined;
  } catch {
    return undefined;
  }
}

function keyProblems(key: string): string[] {
  if (key.length === 0) return ['a flag needs a key'];
  if (key.length > 256) return ['a flag key may have at most 256 characters'];
  if (/[\u0000-\u001f\u007f]/.test(key)) return ['a flag key may not contain control characters'];
  if (key.startsWith('$')) return ['a flag key may not start with "$"'];
  return [];
}

export function FlagEditorPage(props: { flagKey?: string }) {
  const isNew = props.flagKey === undefined;
  const [key, setKey] = useState(props.flagKey ?? '');
  const [loaded, setLoaded] = useState<Loaded>();
  const [model, setModel] = useState<Model>();
  const [segments, setSegments] = useState<Record<string, SegmentDefinition>>({});
  const [loadError, setLoadError] = useState<unknown>();
  const [serverProblems, setServerProblems] = useState<ApiProblem[]>([]);
  const [saveError, setSaveError] = useState<string>();
  const [conflict, setConflict] = useState<{ theirs: FlagRecord | undefined }>();
  const [mergeConflicts, setMergeConflicts] = useState<string[]>();
  const [storedDraft, setStoredDraft] = useState<Draft>();
  const [reviewing, setReviewing] = useState(false);
  const [sentForReview, setSentForReview] = useState<string>();
  const [deleting, setDeleting] = useState(false);
  const [reason, setReason] = useState('');
  const [busy, setBusy] = useState(false);
  const rights = useRights();

  useEffect(() => {
    api.segments().then(setSegments, () => undefined);
    if (isNew) {
      setLoaded({ base: undefined, version: undefined });
      setModel(fromDefinition(blankFlag('boolean')));
      return;
    }
    api.getFlag(props.flagKey!).then(
      (record) => {
        setLoaded({ base: record.flag, version: record.version, updatedAt: record.updatedAt, updatedBy: record.updatedBy });
        setModel(fromDefinition(record.flag));
        const draft = readDraft(record.key);
        if (draft && !jsonEqual(draft.flag, record.flag)) setStoredDraft(draft);
      },
      setLoadError,
    );
  }, [props.flagKey]);

  const resolveSegment = useMemo(() => compileSegments(segments).resolve, [segments]);
  const built = useMemo(() => (model ? toDefinition(model) : undefined), [model]);
  const dirty = !!built && (loaded?.base === undefined || !jsonEqual(built.flag, loaded.base));

  // Keep the unsaved edit in this tab's session storage, so a reload or a failed save never loses it.
  useEffect(() => {
    if (!built || isNew || !loaded) return;
    const storageKey = draftKey(key);
    if (dirty) sessionStorage.setItem(storageKey, JSON.stringify({ baseVersion: loaded.version, base: loaded.base, flag: built.flag } satisfies Draft));
    else sessionStorage.removeItem(storageKey);
  }, [built, dirty]);

  // Leaving the page (reload, closing the tab) with unsaved changes asks first; the draft is in session storage anyway.
  useEffect(() => {
    if (!dirty) return;
    const warn = (event: BeforeUnloadEvent) => event.preventDefault();
    addEventListener('beforeunload', warn);
    return () => removeEventListener('beforeunload', warn);
  }, [dirty]);

  const problems = useMemo(() => {
    const map: ProblemMap = new Map();
    if (!built) return map;
    for (const [path, messages] of built.local) for (const message of messages) addProblem(map, path, { message, severity: 'error' });
    for (const problem of validateFlagDefinition(key || 'new-flag', built.flag, { segments })) {
      const path = problem.path ?? '';
      if (built.local.has(path)) continue;
      addProblem(map, path, { message: problem.message, severity: problem.severity });
    }
    for (const message of keyProblems(key)) addProblem(map, '$key', { message, severity: 'error' });
    for (const problem of serverProblems) addProblem(map, problem.path ?? '$key', { message: problem.message, severity: problem.severity ?? 'error' });
    return map;
  }, [built, key, segments, serverProblems]);

  const errorList = useMemo(() => {
    const out: Array<{ path: string } & FieldProblem> = [];
    for (const [path, list] of problems) for (const problem of list) if (problem.severity !== 'warning') out.push({ path, ...problem });
    return out;
  }, [problems]);

  if (loadError) {
    return (
      <section>
        <h1 tabIndex={-1}>{props.flagKey}</h1>
        <ErrorBox error={loadError} title="Cannot load the flag" />
        <a href={links.flags()}>Back to the flags</a>
      </section>
    );
  }
  if (!model || !loaded || !built) return <Loading what="the flag" />;

  const names = model.variations.map((row) => row.name).filter(Boolean);
  const change = (next: Model) => {
    setModel(next);
    if (serverProblems.length) setServerProblems([]);
  };

  async function save() {
    if (!built || !loaded) return;
    setBusy(true);
    setSaveError(undefined);
    try {
      const saved = await api.putFlag(key, built.flag, loaded.version, reason.trim() || undefined);
      setReviewing(false);
      setReason('');
      setServerProblems([]);
      setMergeConflicts(undefined);
      if (isSentForReview(saved)) {
        // Nothing changed yet: the edit stays on screen (and in the draft) until the request is approved.
        announceSentForReview(`${isNew ? 'create' : 'change'} ${key}`, saved.changeRequest);
        setSentForReview(saved.changeRequest.id);
        return;
      }
      sessionStorage.removeItem(draftKey(key));
      toast(`Saved ${key} (version ${saved.version})`);
      if (isNew) {
        navigate(links.flag(key));
        return;
      }
      setLoaded({ base: saved.flag ?? built.flag, version: saved.version, updatedAt: new Date().toISOString() });
      // Who and when, as the store recorded it.
      api.getFlag(key).then(
        (record) => record.version === saved.version && setLoaded((current) => (current?.version === saved.version ? { ...current, updatedAt: record.updatedAt, updatedBy: record.updatedBy } : current)),
        () => undefined,
      );
    } catch (failure) {
      setReviewing(false);
      if (failure instanceof ApiError && (failure.status === 409 || failure.status === 412) && !isNew) {
        const theirs = await api.getFlag(key).catch(() => undefined);
        setConflict({ theirs });
      } else if (failure instanceof ApiError && failure.status === 409 && isNew) {
        setServerProblems([{ path: '$key', message: `a flag "${key}" already exists: choose another key`, severity: 'error' }]);
        setSaveError('Not saved: the key is taken.');
      } else if (failure instanceof ApiError && failure.problems.length) {
        setServerProblems(failure.problems.map((problem) => (problem.path ? problem : { ...problem, path: '$key' })));
        setSaveError(`Not saved: ${failure.message}`);
      } else {
        setSaveError(`Not saved: ${failure instanceof Error ? failure.message : String(failure)}. Your changes are still here.`);
      }
    } finally {
      setBusy(false);
    }
  }

  function reapply() {
    if (!conflict || !built || !loaded) return;
    const theirs = conflict.theirs;
    if (!theirs) {
      // Deleted meanwhile: saving again recreates it.
      setLoaded({ base: undefined, version: undefined });
      setConflict(undefined);
      return;
    }
    const merged = threeWayMerge(loaded.base, built.flag, theirs.flag);
    setModel(fromDefinition(merged.merged ?? built.flag));
    setLoaded({ base: theirs.flag, version: theirs.version, updatedAt: theirs.updatedAt, updatedBy: theirs.updatedBy });
    setMergeConflicts(merged.conflicts);
    setConflict(undefined);
  }

  function takeTheirs() {
    if (!conflict?.theirs) return;
    const theirs = conflict.theirs;
    setModel(fromDefinition(theirs.flag));
    setLoaded({ base: theirs.flag, version: theirs.version, updatedAt: theirs.updatedAt, updatedBy: theirs.updatedBy });
    setConflict(undefined);
    setMergeConflicts(undefined);
  }

  async function remove() {
    if (!loaded?.version) return;
    setBusy(true);
    try {
      const review = await api.deleteFlag(key, loaded.version, reason.trim() || undefined);
      if (review) {
        setDeleting(false);
        announceSentForReview(`delete ${key}`, review.changeRequest);
        setSentForReview(review.changeRequest.id);
        return;
      }
      sessionStorage.removeItem(draftKey(key));
      toast(`Deleted ${key}`);
      navigate(links.flags());
    } catch (failure) {
      setDeleting(false);
      setSaveError(`Not deleted: ${failure instanceof Error ? failure.message : String(failure)}`);
    } finally {
      setBusy(false);
    }
  }

  const ramps: TimelineRamp[] = model.rules
    .map((row, index) => ({ rule: row.rule, label: row.rule.name || `rule ${index + 1}` }))
    .concat([{ rule: model.defaultRule, label: 'default rule' }])
    .filter(({ rule }) => rule.progressiveRollout)
    .map(({ rule, label }) => ({
      label,
      start: rule.progressiveRollout?.initial?.date,
      end: rule.progressiveRollout?.end?.date,
      from: rule.progressiveRollout?.initial?.percentage ?? 0,
      to: rule.progressiveRollout?.end?.percentage ?? 100,
    }));

  const keyErrors = problems.get('$key');
  return (
    <section class="editor" aria-labelledby="editor-title">
      <div class="page-head">
        <div>
          <p class="crumbs">
            <a href={links.flags()}>Flags</a> /
          </p>
          <h1 id="editor-title" tabIndex={-1}>
            {isNew ? 'New flag' : key}
            {!isNew && <span class={`badge ${model.other.disable ? 'off' : 'on'}`}>{model.other.disable ? 'off' : 'on'}</span>}
          </h1>
          {!isNew && (
            <p class="muted small">
              Version {loaded.version} · changed <time title={dateTime(loaded.updatedAt)}>{timeAgo(loaded.updatedAt)}</time>
              {loaded.updatedBy ? ` by ${loaded.updatedBy}` : ''} · <a href={links.audit(key)}>history</a>
              {loaded.base?.experiment !== undefined && (
                <>
                  {' · '}
                  <a href={links.experiment(key)}>experiment results</a>
                </>
              )}
            </p>
          )}
        </div>
        <div class="head-actions">
          {!isNew && (
            <a class="button" href={links.compare(key)}>
              Compare environments
            </a>
          )}
          {rights.canEdit && dirty && !isNew && (
            <button type="button" onClick={() => (setModel(fromDefinition(loaded.base!)), setMergeConflicts(undefined), setServerProblems([]))}>
              Discard changes
            </button>
          )}
          {rights.canEdit && (
            <button type="button" class="primary" disabled={!dirty || busy} onClick={() => (setSaveError(undefined), setReviewing(true))}>
              {rights.approvalRequired ? 'Review and propose…' : 'Review and save…'}
            </button>
          )}
        </div>
      </div>

      {!rights.canEdit && rights.me && rights.storeWritable !== false && (
        <p class="notice" role="status">
          You can read this flag: your role in {scopeText(currentScope())} is {rights.role ?? 'none'}, so changes cannot be saved here.
        </p>
      )}
      {sentForReview && (
        <div class="notice sent-for-review" role="status">
          <p>
            <strong>Sent for review.</strong> The change applies once another person approves it.{' '}
            <a href={links.change(sentForReview)}>Open the change request</a>
          </p>
        </div>
      )}

      {storedDraft && (
        <div class="notice" role="status">
          <p>
            This tab has unsaved changes to {key} from earlier (started from version {storedDraft.baseVersion ?? '—'}).
          </p>
          <div class="actions">
            <button
              type="button"
              class="primary"
              onClick={() => {
                setModel(fromDefinition(storedDraft.flag));
                if (storedDraft.baseVersion !== loaded.version) setLoaded({ ...loaded, base: storedDraft.base, version: storedDraft.baseVersion });
                setStoredDraft(undefined);
              }}
            >
              Restore them
            </button>
            <button type="button" onClick={() => (sessionStorage.removeItem(draftKey(key)), setStoredDraft(undefined))}>
              Discard them
            </button>
          </div>
        </div>
      )}

      {saveError && (
        <div class="error-box" role="alert">
          <p>{saveError}</p>
          {errorList.length > 0 && <ErrorSummary errors={errorList} />}
        </div>
      )}

      {conflict && (
        <section class="conflict" role="alert" aria-labelledby="conflict-title">
          <h2 id="conflict-title">Not saved: this flag changed while you were editing</h2>
          {conflict.theirs ? (
            <>
              <p>
                Version {conflict.theirs.version} was saved {conflict.theirs.updatedBy ? `by ${conflict.theirs.updatedBy} ` : ''}
                <time title={dateTime(conflict.theirs.updatedAt)}>{timeAgo(conflict.theirs.updatedAt)}</time>. Nothing you typed is lost.
              </p>
              <div class="conflict-columns">
                <div>
                  <h3>What changed meanwhile</h3>
                  <DiffView before={loaded.base} after={conflict.theirs.flag} label="Changes saved meanwhile" />
                </div>
                <div>
                  <h3>Your changes</h3>
                  <DiffView before={loaded.base} after={built.flag} label="Your changes" />
                </div>
              </div>
              <div class="actions">
                <button type="button" class="primary" onClick={reapply}>
                  Reapply my changes on version {conflict.theirs.version}
                </button>
                <button type="button" onClick={takeTheirs}>
                  Drop mine, load version {conflict.theirs.version}
                </button>
              </div>
            </>
          ) : (
            <>
              <p>The flag was deleted meanwhile. Saving again recreates it with your version.</p>
              <button type="button" class="primary" onClick={reapply}>
                Keep my version
              </button>
            </>
          )}
        </section>
      )}

      {mergeConflicts && (
        <div class="notice" role="status">
          {mergeConflicts.length === 0 ? (
            <p>Your changes were reapplied on the latest version. Review and save again.</p>
          ) : (
            <p>
              Reapplied. Both you and the other change touched {mergeConflicts.map((path) => <code key={path}>{path}</code>)}: your value was kept there. Review and save
              again.
            </p>
          )}
        </div>
      )}

      <form class="editor-form" onSubmit={(event) => event.preventDefault()} noValidate>
        {/* Readers see the flag with every control disabled; on a read-only store (files) the editor still checks what
            one types (to write in the files), without a save button. */}
        <fieldset class="bare" disabled={rights.me !== undefined && !roleAtLeast(rights.role, 'editor')}>
          {isNew && (
            <section class="card" aria-labelledby="s-key">
              <h2 id="s-key">Key and type</h2>
              <div class="row">
                <div class="field grow">
                  <label for="f-key">Key</label>
                  <input
                    id="f-key"
                    class="mono"
                    value={key}
                    placeholder="e.g. new-checkout"
                    autoComplete="off"
                    aria-invalid={keyErrors?.length ? true : undefined}
                    aria-describedby={keyErrors?.length ? 'f-key-errors' : undefined}
                    onInput={(event) => (setKey(event.currentTarget.value), setServerProblems([]))}
                  />
                  <FieldErrors id="f-key-errors" messages={keyErrors} />
                </div>
                <div class="field">
                  <label for="f-type">Type</label>
                  <select
                    id="f-type"
                    value={model.type}
                    onChange={(event) => {
                      const fresh = fromDefinition(blankFlag(event.currentTarget.value as ValueType));
                      change({ ...fresh, metadata: model.metadata });
                    }}
                  >
                    <option value="boolean">boolean</option>
                    <option value="string">string</option>
                    <option value="number">number</option>
                    <option value="json">JSON</option>
                  </select>
                </div>
              </div>
            </section>
          )}
          {!isNew && keyErrors && <FieldErrors id="f-key-errors" messages={keyErrors} />}

          <section class="card" aria-labelledby="s-variations">
            <h2 id="s-variations">Variations</h2>
            <VariationsEditor model={model} problems={problems} onChange={change} />
          </section>

          <section class="card" aria-labelledby="s-targeting">
            <h2 id="s-targeting">Targeting rules</h2>
            <p class="help">Evaluated in order; the first rule whose query matches decides. Drag a rule by its handle, or use its arrows.</p>
            <RuleList rules={model.rules} names={names} problems={problems} resolveSegment={resolveSegment} onChange={(rules) => change({ ...model, rules })} />
            <FieldErrors id="f-targeting-errors" messages={problems.get('targeting')} />
          </section>

          <section class="card" aria-labelledby="s-default">
            <h2 id="s-default">Default rule</h2>
            <p class="help">Serves everyone no targeting rule matched.</p>
            <ServeEditor path="defaultRule" rule={model.defaultRule} names={names} problems={problems} onChange={(defaultRule) => change({ ...model, defaultRule })} />
          </section>

          {!isNew && loaded?.base?.rollout ? (
            <section class="card" aria-labelledby="s-progressive">
              <h2 id="s-progressive">Progressive delivery</h2>
              <RolloutPanel flagKey={props.flagKey!} />
            </section>
          ) : null}

          <section class="card" aria-labelledby="s-rollout">
            <h2 id="s-rollout">Rollout timeline</h2>
            <Timeline
              events={model.steps.map((row, index) => ({ label: `step ${index + 1}`, date: row.date }))}
              ramps={ramps}
              window={model.other.experimentation}
            />
            <StepsEditor rows={model.steps} problems={problems} onChange={(steps) => change({ ...model, steps })} />
            <FieldErrors id="f-scheduledRollout-errors" messages={problems.get('scheduledRollout')} />
          </section>

          <section class="card" aria-labelledby="s-plans">
            <h2 id="s-plans">Experiment and rollout plan</h2>
            <PlansEditor model={model} problems={problems} onChange={change} />
          </section>

          <section class="card" aria-labelledby="s-settings">
            <h2 id="s-settings">Settings</h2>
            <SettingsEditor model={model} problems={problems} onChange={change} />
          </section>

          <section class="card" aria-labelledby="s-metadata">
            <h2 id="s-metadata">Metadata</h2>
            <MetadataEditor rows={model.metadata} problems={problems} onChange={(metadata) => change({ ...model, metadata })} />
          </section>

          {problems.get('') && <FieldErrors id="f-flag-errors" messages={problems.get('')} />}

          {!isNew && rights.canEdit && (
            <section class="card danger-zone" aria-labelledby="s-danger">
              <h2 id="s-danger">Delete</h2>
              <p class="help">Deleting is audited; the flag can be restored from the audit log.</p>
              <button type="button" class="danger" onClick={() => setDeleting(true)}>
                Delete {key}…
              </button>
            </section>
          )}
        </fieldset>
      </form>

      <Dialog open={reviewing} title={isNew ? `Create ${key || 'flag'}` : `Save ${key}`} onClose={() => setReviewing(false)} wide>
        <ReviewBody flagKey={key} base={loaded.base} after={built.flag} segments={segments} errors={errorList} />
        <form
          onSubmit={(event) => {
            event.preventDefault();
            void save();
          }}
        >
          <label for="save-reason">Reason (for the audit log)</label>
          <input id="save-reason" value={reason} onInput={(event) => setReason(event.currentTarget.value)} placeholder="What and why" />
          <div class="actions">
            <button type="button" onClick={() => setReviewing(false)}>
              Keep editing
            </button>
            <button type="submit" class="primary" disabled={busy || errorList.length > 0}>
              {busy ? 'Saving…' : rights.approvalRequired ? 'Send for review' : isNew ? 'Create flag' : 'Save'}
            </button>
          </div>
        </form>
      </Dialog>

      <Confirm open={deleting} title={`Delete ${key}?`} confirmLabel="Delete" danger busy={busy} onCancel={() => setDeleting(false)} onConfirm={remove}>
        <p>Evaluations of {key} will answer FLAG_NOT_FOUND and serve callers' defaults.</p>
        <label for="delete-reason">Reason (for the audit log)</label>
        <input id="delete-reason" value={reason} onInput={(event) => setReason(event.currentTarget.value)} />
      </Confirm>
    </section>
  );
}

function ErrorSummary(props: { errors: Array<{ path: string; message: string }> }) {
  return (
    <ul class="error-summary">
      {props.errors.map((error, index) => (
        <li key={index}>
          <a
            href={`#${fieldId(error.path)}`}
            onClick={(event) => {
              event.preventDefault();
              const target = document.getElementById(fieldId(error.path)) ?? document.querySelector<HTMLElement>(`[id^="${fieldId(error.path)}"]`);
              target?.focus();
              target?.scrollIntoView({ block: 'center' });
            }}
          >
            {error.path === '$key' ? 'key' : error.path || 'flag'}
          </a>
          : {error.message}
        </li>
      ))}
    </ul>
  );
}

function ReviewBody(props: {
  flagKey: string;
  base: FlagDefinition | undefined;
  after: FlagDefinition;
  segments: Record<string, SegmentDefinition>;
  errors: Array<{ path: string; message: string }>;
}) {
  const [impact, setImpact] = useState<Impact | 'none' | 'loading' | 'error'>('loading');
  useEffect(() => {
    if (!props.base || props.errors.length) {
      setImpact('none');
      return;
    }
    let live = true;
    api.contextSample(props.flagKey).then(
      (contexts) => {
        if (!live) return;
        if (!contexts || contexts.length === 0) setImpact('none');
        else setImpact(previewImpact(props.flagKey, props.base!, props.after, contexts, props.segments));
      },
      () => live && setImpact('error'),
    );
    return () => {
      live = false;
    };
  }, []);

  return (
    <div class="review">
      {props.errors.length > 0 && (
        <div class="error-box" role="alert">
          <p>Fix these first:</p>
          <ErrorSummary errors={props.errors} />
        </div>
      )}
      <h3>Changes</h3>
      <DiffView before={props.base ?? {}} after={props.after} />
      {props.base && (
        <>
          <h3>Impact</h3>
          <div class="impact" role="status">
            {impact === 'loading' && <p class="muted">Replaying recently evaluated contexts…</p>}
            {impact === 'none' && <p class="muted">No sample of recently evaluated contexts for this flag yet.</p>}
            {impact === 'error' && <p class="muted">The sample of evaluated contexts is not available.</p>}
            {typeof impact === 'object' && (
              <>
                <p>
                  <strong>{plural(impact.changed, 'context')}</strong> of the last {impact.sampled.toLocaleString('en')} evaluated would get another variation.
                </p>
                {impact.moves.length > 0 && (
                  <ul class="moves">
                    {impact.moves.slice(0, 8).map((move) => (
                      <li key={`${move.from}-${move.to}`}>
                        <code>{move.from}</code> → <code>{move.to}</code>: {move.count.toLocaleString('en')}
                      </li>
                    ))}
                  </ul>
                )}
              </>
            )}
          </div>
        </>
      )}
    </div>
  );
}
