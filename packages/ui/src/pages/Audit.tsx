import { useEffect, useState } from 'preact/hooks';
import { api, ApiError, type AuditEntry } from '../lib/api.js';
import { dateTime, timeAgo } from '../lib/format.js';
import { links, navigate } from '../lib/router.js';
import { toast } from '../lib/toast.js';
import { DiffView } from '../components/DiffView.js';
import { ErrorBox, Loading } from '../components/basics.js';

export function AuditPage(props: { flag?: string }) {
  const [filter, setFilter] = useState(props.flag ?? '');
  const [entries, setEntries] = useState<AuditEntry[]>();
  const [next, setNext] = useState<string>();
  const [error, setError] = useState<unknown>();
  const [loadingMore, setLoadingMore] = useState(false);
  const [restoring, setRestoring] = useState<string>();
  const [generation, setGeneration] = useState(0);

  useEffect(() => setFilter(props.flag ?? ''), [props.flag]);

  useEffect(() => {
    let live = true;
    setEntries(undefined);
    setError(undefined);
    api.audit({ key: props.flag }).then(
      (page) => {
        if (!live) return;
        setEntries(page.entries);
        setNext(page.next);
      },
      (failure) => live && setError(failure),
    );
    return () => {
      live = false;
    };
  }, [props.flag, generation]);

  async function more() {
    if (!next) return;
    setLoadingMore(true);
    try {
      const page = await api.audit({ key: props.flag, cursor: next });
      setEntries((current) => [...(current ?? []), ...page.entries]);
      setNext(page.next);
    } catch (failure) {
      setError(failure);
    } finally {
      setLoadingMore(false);
    }
  }

  /** Writes the flag back as it was after this entry (or before it, for a deletion): a new, audited write. */
  async function restore(entry: AuditEntry) {
    const target = entry.action === 'delete' ? entry.before : entry.after;
    if (!target) return;
    setRestoring(entry.id);
    try {
      let version: number | undefined;
      try {
        version = (await api.getFlag(entry.key)).version;
      } catch (failure) {
        if (!(failure instanceof ApiError && failure.status === 404)) throw failure;
      }
      const saved = await api.putFlag(entry.key, target, version, `restore version ${entry.version} (audit entry ${entry.id})`);
      toast(`Restored ${entry.key} as version ${saved.version}`);
      setGeneration((value) => value + 1);
    } catch (failure) {
      toast(`Could not restore ${entry.key}: ${failure instanceof Error ? failure.message : String(failure)}`, 'error');
    } finally {
      setRestoring(undefined);
    }
  }

  // The newest entry of each flag on the first page is what the flag is now: nothing to restore there.
  const current = new Set<string>();
  const seen = new Set<string>();
  for (const entry of entries ?? []) {
    if (seen.has(entry.key)) continue;
    seen.add(entry.key);
    if (entry.action !== 'delete') current.add(entry.id);
  }

  return (
    <section aria-labelledby="audit-title">
      <div class="page-head">
        <h1 id="audit-title" tabIndex={-1}>
          Audit log
        </h1>
      </div>
      <form
        class="toolbar"
        role="search"
        onSubmit={(event) => {
          event.preventDefault();
          navigate(links.audit(filter.trim() || undefined));
        }}
      >
        <label class="grow">
          <span class="sr-only">Flag key</span>
          <input type="search" class="mono" placeholder="Filter by flag key" value={filter} onInput={(event) => setFilter(event.currentTarget.value)} />
        </label>
        <button type="submit">Filter</button>
        {props.flag && (
          <a class="button" href={links.audit()}>
            All flags
          </a>
        )}
      </form>
      <ErrorBox error={error} title="Cannot load the audit log" />
      {!entries && !error && <Loading what="the audit log" />}
      {entries && entries.length === 0 && <p class="empty">No changes recorded{props.flag ? ` for ${props.flag}` : ''}.</p>}
      {entries && (
        <ol class="audit">
          {entries.map((entry) => (
            <li key={entry.id} class="card audit-entry">
              <div class="audit-head">
                <span class={`badge action-${entry.action}`}>{entry.action}</span>
                <a class="flag-key" href={links.flag(entry.key)}>
                  {entry.key}
                </a>
                <span class="muted">v{entry.version}</span>
                <span class="grow" />
                <span>
                  <span class="actor">{entry.actor}</span> ·{' '}
                  <time dateTime={entry.at} title={dateTime(entry.at)}>
                    {timeAgo(entry.at)}
                  </time>
                </span>
              </div>
              {entry.reason && <p class="reason">“{entry.reason}”</p>}
              <DiffView before={entry.before ?? {}} after={entry.after ?? {}} label={`Changes in version ${entry.version} of ${entry.key}`} />
              {current.has(entry.id) ? (
                <p class="muted small current-note">This is the current version.</p>
              ) : (entry.action === 'delete' ? entry.before : entry.after) && (
                <div class="actions start">
                  <button type="button" disabled={restoring !== undefined} onClick={() => restore(entry)} aria-label={`Restore ${entry.key} ${entry.action === 'delete' ? 'as it was before this deletion' : `to version ${entry.version}`}`}>
                    {restoring === entry.id ? 'Restoring…' : entry.action === 'delete' ? 'Restore as before deletion' : `Restore version ${entry.version}`}
                  </button>
                </div>
              )}
            </li>
          ))}
        </ol>
      )}
      {next && (
        <button type="button" onClick={more} disabled={loadingMore}>
          {loadingMore ? 'Loading…' : 'Load older changes'}
        </button>
      )}
    </section>
  );
}
