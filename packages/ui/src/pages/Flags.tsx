import { useEffect, useMemo, useState } from 'preact/hooks';
import { api, isSentForReview, type FlagRecord } from '../lib/api.js';
import { useRights } from '../lib/rights.js';
import { announceSentForReview } from '../lib/review.js';
import { flagType, serving, staleness, tagsOf, type Staleness } from '../lib/flag-info.js';
import { dateTime, plural, timeAgo } from '../lib/format.js';
import { links } from '../lib/router.js';
import { currentScope, isDefaultScope, scopeText } from '../lib/scope.js';
import { toast } from '../lib/toast.js';
import { Confirm, ErrorBox, Loading, SplitBar, Switch, VariationChip } from '../components/basics.js';

const PAGE_SIZE = 100;

interface Row {
  record: FlagRecord;
  tags: string[];
  stale: Staleness;
  search: string;
}

function toRow(record: FlagRecord, now: number): Row {
  const tags = tagsOf(record.flag);
  const description = typeof record.flag.metadata?.description === 'string' ? record.flag.metadata.description : '';
  return { record, tags, stale: staleness(record.flag, record.updatedAt, now), search: `${record.key} ${description} ${tags.join(' ')}`.toLowerCase() };
}

export function FlagsPage() {
  const [rows, setRows] = useState<Row[]>();
  const [error, setError] = useState<unknown>();
  const [search, setSearch] = useState('');
  const [tag, setTag] = useState('');
  const [state, setState] = useState<'all' | 'on' | 'off' | 'stale'>('all');
  const [page, setPage] = useState(0);
  const [pending, setPending] = useState<{ record: FlagRecord; on: boolean }>();
  const [reason, setReason] = useState('');
  const [busy, setBusy] = useState(false);
  const rights = useRights();

  useEffect(() => {
    api
      .listFlags()
      .then((list) => {
        const now = Date.now();
        setRows(list.flags.map((record) => toRow(record, now)).sort((a, b) => (a.record.key < b.record.key ? -1 : 1)));
        // When the rows are on screen (time since navigation start): what the end-to-end test reports.
        requestAnimationFrame(() => setTimeout(() => performance.mark('vexil:flags-ready'), 0));
      })
      .catch(setError);
  }, []);

  const allTags = useMemo(() => [...new Set(rows?.flatMap((row) => row.tags) ?? [])].sort(), [rows]);
  const filtered = useMemo(() => {
    const needle = search.trim().toLowerCase();
    return (rows ?? []).filter(
      (row) =>
        (!needle || row.search.includes(needle)) &&
        (!tag || row.tags.includes(tag)) &&
        (state === 'all' ||
          (state === 'on' && !row.record.flag.disable) ||
          (state === 'off' && row.record.flag.disable === true) ||
          (state === 'stale' && row.stale.stale)),
    );
  }, [rows, search, tag, state]);
  const pages = Math.max(1, Math.ceil(filtered.length / PAGE_SIZE));
  const currentPage = Math.min(page, pages - 1);
  const scope = currentScope();
  const where = isDefaultScope(scope) ? 'everywhere' : `in ${scopeText(scope)}`;
  const visible = filtered.slice(currentPage * PAGE_SIZE, (currentPage + 1) * PAGE_SIZE);

  async function toggle() {
    if (!pending) return;
    setBusy(true);
    try {
      const updated = await api.toggleFlag(pending.record.key, pending.on, reason.trim() || undefined);
      setPending(undefined);
      setReason('');
      if (isSentForReview(updated)) {
        announceSentForReview(`turn ${pending.record.key} ${pending.on ? 'on' : 'off'}`, updated.changeRequest);
        return;
      }
      setRows((current) =>
        current?.map((row) => (row.record.key === updated.key ? toRow({ ...row.record, ...updated }, Date.now()) : row)),
      );
      toast(`${pending.record.key} is now ${pending.on ? 'on' : 'off'}`);
    } catch (failure) {
      toast(`Could not switch ${pending.record.key}: ${failure instanceof Error ? failure.message : String(failure)}`, 'error');
    } finally {
      setBusy(false);
    }
  }

  return (
    <section aria-labelledby="flags-title">
      <div class="page-head">
        <h1 id="flags-title" tabIndex={-1}>
          Flags
        </h1>
        {rights.canEdit && (
          <a class="button primary" href={links.newFlag()}>
            New flag
          </a>
        )}
      </div>
      <div class="toolbar" role="search">
        <label class="grow">
          <span class="sr-only">Search flags</span>
          <input type="search" placeholder="Search by key, description or tag" value={search} onInput={(e) => (setSearch(e.currentTarget.value), setPage(0))} />
        </label>
        <label>
          <span class="label-inline">Tag</span>
          <select value={tag} onChange={(e) => (setTag(e.currentTarget.value), setPage(0))}>
            <option value="">Any</option>
            {allTags.map((each) => (
              <option key={each} value={each}>
                {each}
              </option>
            ))}
          </select>
        </label>
        <label>
          <span class="label-inline">State</span>
          <select value={state} onChange={(e) => (setState(e.currentTarget.value as typeof state), setPage(0))}>
            <option value="all">All</option>
            <option value="on">On</option>
            <option value="off">Off</option>
            <option value="stale">Looks stale</option>
          </select>
        </label>
      </div>
      <ErrorBox error={error} title="Cannot load the flags" />
      {!rows && !error && <Loading what="flags" />}
      {rows && (
        <>
          <p class="muted count" role="status">
            {filtered.length === rows.length ? plural(rows.length, 'flag') : `${plural(filtered.length, 'flag')} of ${rows.length.toLocaleString('en')}`}
          </p>
          <div class="table-wrap">
            <table class="flags">
              <thead>
                <tr>
                  <th scope="col">Flag</th>
                  <th scope="col" class="col-type">Type</th>
                  <th scope="col">Serves by default</th>
                  <th scope="col" class="col-tags">Tags</th>
                  <th scope="col" class="col-changed">Last change</th>
                  <th scope="col" class="col-on">On</th>
                </tr>
              </thead>
              <tbody>
                {visible.map((row) => (
                  <FlagRow key={row.record.key} row={row} canEdit={rights.canEdit} onToggle={(on) => setPending({ record: row.record, on })} />
                ))}
              </tbody>
            </table>
          </div>
          {filtered.length === 0 && <p class="empty">{rows.length === 0 ? 'No flags yet: create the first one.' : 'No flag matches these filters.'}</p>}
          {pages > 1 && (
            <nav class="pager" aria-label="Pages">
              <button type="button" disabled={currentPage === 0} onClick={() => setPage(currentPage - 1)}>
                Previous
              </button>
              <span>
                {(currentPage * PAGE_SIZE + 1).toLocaleString('en')}–{Math.min(filtered.length, (currentPage + 1) * PAGE_SIZE).toLocaleString('en')} of{' '}
                {filtered.length.toLocaleString('en')}
              </span>
              <button type="button" disabled={currentPage >= pages - 1} onClick={() => setPage(currentPage + 1)}>
                Next
              </button>
            </nav>
          )}
        </>
      )}
      <Confirm
        open={!!pending}
        title={pending ? `Turn ${pending.record.key} ${pending.on ? 'on' : 'off'}?` : ''}
        confirmLabel={pending?.on ? 'Turn on' : 'Turn off'}
        danger={pending ? !pending.on : false}
        busy={busy}
        onCancel={() => (setPending(undefined), setReason(''))}
        onConfirm={toggle}
      >
        <p>
          {pending?.on
            ? `The flag will be evaluated with its targeting rules again, ${where}, within a moment.`
            : `Every evaluation will serve ${pending?.record.flag.offVariation ? `the "${pending.record.flag.offVariation}" variation` : "the caller's default value"}, ${where}, within a moment.`}
          {rights.approvalRequired && ' This environment requires approval: the change is sent for review first.'}
        </p>
        <label for="toggle-reason">Reason (for the audit log)</label>
        <input id="toggle-reason" value={reason} onInput={(e) => setReason(e.currentTarget.value)} placeholder="e.g. incident 4312" />
      </Confirm>
    </section>
  );
}

function FlagRow(props: { row: Row; canEdit: boolean; onToggle: (on: boolean) => void }) {
  const { record, tags, stale } = props.row;
  const flag = record.flag;
  const order = Object.keys(flag.variations ?? {});
  const serves = serving(flag.defaultRule);
  const rules = (flag.targeting ?? []).filter((rule) => !rule.disable).length;
  const description = typeof flag.metadata?.description === 'string' ? flag.metadata.description : undefined;
  return (
    <tr class={flag.disable ? 'off' : undefined}>
      <th scope="row">
        <a href={links.flag(record.key)} class="flag-key">
          {record.key}
        </a>
        {stale.stale && (
          <span class="badge stale" title={`Looks stale: ${stale.why}`}>
            stale<span class="sr-only">: {stale.why}</span>
          </span>
        )}
        {description && <div class="muted small ellipsis">{description}</div>}
      </th>
      <td class="col-type">{flagType(flag)}</td>
      <td>
        <div class="serves">
          {serves.kind === 'variation' && <VariationChip name={serves.variation} order={order} />}
          {serves.kind === 'split' && (
            <>
              <SplitBar shares={serves.shares} order={order} compact />
              <span class="muted small split-text" aria-hidden="true">
                {serves.shares.map((share) => `${Math.round(share.percent * 10) / 10}%`).join(' / ')}
              </span>
            </>
          )}
          {serves.kind === 'progressive' && (
            <span class="chip" title={`progressive rollout ${serves.start ?? ''} → ${serves.end ?? ''}`}>
              {serves.from} → {serves.to}
            </span>
          )}
          {rules > 0 && <span class="muted small">+ {plural(rules, 'rule')}</span>}
        </div>
      </td>
      <td class="col-tags">
        {tags.map((each) => (
          <span key={each} class="tag">
            {each}
          </span>
        ))}
      </td>
      <td class="col-changed">
        <time dateTime={record.updatedAt} title={dateTime(record.updatedAt)}>
          {timeAgo(record.updatedAt)}
        </time>
        {record.updatedBy && <div class="muted small ellipsis">by {record.updatedBy}</div>}
      </td>
      <td class="col-on">
        {props.canEdit ? (
          <Switch on={!flag.disable} label={`${record.key} on`} showText={false} onChange={props.onToggle} />
        ) : (
          <span class={`badge ${flag.disable ? 'off' : 'on'}`}>{flag.disable ? 'off' : 'on'}</span>
        )}
      </td>
    </tr>
  );
}
