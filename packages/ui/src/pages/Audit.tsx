import { useEffect, useState } from 'preact/hooks';
import type { FlagDefinition } from '@vexil/core';
import { api, ApiError, isSentForReview, type AuditEntry, type FlagRecord } from '../lib/api.js';
import { diffJson } from '../lib/diff.js';
import { dateTime, timeAgo } from '../lib/format.js';
import { links, navigate } from '../lib/router.js';
import { toast } from '../lib/toast.js';
import { useRights } from '../lib/rights.js';
import { announceSentForReview } from '../lib/review.js';
import { DiffView } from '../components/DiffView.js';
import { Dialog, ErrorBox, Loading } from '../components/basics.js';

/** A restore waiting for its reason and confirmation: the entry, the version it recorded, and the flag now (null: deleted). */
interface PendingRestore {
  entry: AuditEntry;
  target: FlagDefinition;
  current: FlagRecord | null;
}

export function AuditPage(props: { flag?: string }) {
  const rights = useRights();
  const [filter, setFilter] = useState(props.flag ?? '');
  const [entries, setEntries] = useState<AuditEntry[]>();
  const [next, setNext] = useState<string>();
  const [error, setError] = useState<unknown>();
  const [loadingMore, setLoadingMore] = useState(false);
  const [restoring, setRestoring] = useState<string>();
  const [pending, setPending] = useState<PendingRestore>();
  const [reason, setReason] = useState('');
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

  /** Opens the restore dialog: what the flag is now, against what the entry recorded (after it, or before a deletion). */
  async function askRestore(entry: AuditEntry) {
    const target = entry.action === 'delete' ? entry.before : entry.after;
    if (!target) return;
    setRestoring(entry.id);
    try {
      let current: FlagRecord | null = null;
      try {
        current = await api.getFlag(entry.key);
      } catch (failure) {
        if (!(failure instanceof ApiError && failure.status === 404)) throw failure;
      }
      setReason('');
      setPending({ entry, target, current });
    } catch (failure) {
      toast(`Could not read ${entry.key}: ${failure instanceof Error ? failure.message : String(failure)}`, 'error');
    } finally {
      setRestoring(undefined);
    }
  }

  /** Writes the version back: a new, audited write, conditional on the version the diff was shown against. */
  async function confirmRestore() {
    if (!pending || reason.trim() === '') return;
    const { entry, current } = pending;
    setRestoring(entry.id);
    try {
      const result = await api.restoreFlag(entry.key, entry.id, reason.trim(), current?.version);
      if (isSentForReview(result)) announceSentForReview(`restore ${entry.key}`, result.changeRequest);
      else if (result.changed) toast(`Restored ${entry.key} as version ${result.version}`);
      else toast(result.message ?? `${entry.key} already is version ${entry.version}: nothing restored`);
      setPending(undefined);
      setGeneration((value) => value + 1);
    } catch (failure) {
      const changedMeanwhile = failure instanceof ApiError && failure.status === 409;
      toast(
        changedMeanwhile
          ? `${entry.key} changed since this diff was shown: review it again`
          : `Could not restore ${entry.key}: ${failure instanceof Error ? failure.message : String(failure)}`,
        'error',
      );
      if (changedMeanwhile) await askRestore(entry);
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
              ) : rights.canEdit && (entry.action === 'delete' ? entry.before : entry.after) && (
                <div class="actions start">
                  <button type="button" disabled={restoring !== undefined} onClick={() => askRestore(entry)} aria-label={`Restore ${entry.key} ${entry.action === 'delete' ? 'as it was before this deletion' : `to version ${entry.version}`}`}>
                    {restoring === entry.id && !pending ? 'Loading…' : entry.action === 'delete' ? 'Restore as before deletion' : `Restore version ${entry.version}`}
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
      <RestoreDialog
        pending={pending}
        reason={reason}
        busy={restoring !== undefined}
        onReason={setReason}
        onCancel={() => (setPending(undefined), setReason(''))}
        onConfirm={confirmRestore}
      />
    </section>
  );
}

/** Shows what a restore would change, asks why, and writes only on confirmation; an identical version is said so. */
function RestoreDialog(props: {
  pending: PendingRestore | undefined;
  reason: string;
  busy: boolean;
  onReason: (reason: string) => void;
  onCancel: () => void;
  onConfirm: () => void;
}) {
  const pending = props.pending;
  const entry = pending?.entry;
  const what = entry ? (entry.action === 'delete' ? `as it was before its deletion (version ${entry.version})` : `to version ${entry.version}`) : '';
  const identical = !!pending && pending.current !== null && diffJson(pending.current.flag, pending.target).length === 0;
  return (
    <Dialog open={!!pending} title={entry ? `Restore ${entry.key} ${what}?` : ''} onClose={props.onCancel} wide>
      {pending && entry && identical && (
        <div class="restore-identical">
          <p role="status">
            {entry.key} is already identical to version {entry.version} (it is version {pending.current!.version} now): nothing to restore, nothing will be
            written.
          </p>
          <div class="actions">
            <button type="button" class="primary" onClick={props.onCancel}>
              OK
            </button>
          </div>
        </div>
      )}
      {pending && entry && !identical && (
        <form
          onSubmit={(event) => {
            event.preventDefault();
            props.onConfirm();
          }}
        >
          <p>
            {pending.current
              ? `What restoring changes in ${entry.key}, now at version ${pending.current.version}:`
              : `${entry.key} does not exist now; restoring creates it as follows:`}
          </p>
          <DiffView before={pending.current?.flag ?? {}} after={pending.target} label={`What restoring ${entry.key} ${what} changes`} />
          <label for="restore-reason">Reason (for the audit log)</label>
          <input
            id="restore-reason"
            required
            value={props.reason}
            onInput={(event) => props.onReason(event.currentTarget.value)}
            placeholder="e.g. the new rule broke checkout"
          />
          <div class="actions">
            <button type="button" onClick={props.onCancel}>
              Cancel
            </button>
            <button type="submit" class="primary" disabled={props.busy || props.reason.trim() === ''}>
              {props.busy ? 'Restoring…' : 'Restore'}
            </button>
          </div>
        </form>
      )}
    </Dialog>
  );
}
