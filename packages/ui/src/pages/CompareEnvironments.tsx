// One flag across the environments of its project: the fields that differ, side by side, and "promote from X to Y",
// which always shows what would change (a dry run) before it writes.
import { useEffect, useState } from 'preact/hooks';
import { isSentForReview } from '../lib/api.js';
import { environmentsApi, type Comparison, type Promotion } from '../lib/environments-api.js';
import { preview } from '../lib/json.js';
import { links } from '../lib/router.js';
import { announceSentForReview } from '../lib/review.js';
import { roleAtLeast, roleOn, useRights } from '../lib/rights.js';
import { useScope } from '../lib/scope.js';
import { toast } from '../lib/toast.js';
import { ErrorBox, Loading } from '../components/basics.js';
import { DiffView } from '../components/DiffView.js';

const ACTION_TEXT: Record<Promotion['changes'][number]['action'], string> = {
  create: 'will be created',
  update: 'will change',
  delete: 'will be deleted',
  unchanged: 'is already the same',
};

export function CompareEnvironmentsPage(props: { flagKey: string }) {
  const scope = useScope();
  const rights = useRights();
  const [comparison, setComparison] = useState<Comparison>();
  const [error, setError] = useState<unknown>();
  const [generation, setGeneration] = useState(0);
  const [from, setFrom] = useState('');
  const [to, setTo] = useState('');
  const [planned, setPlanned] = useState<Promotion>();
  const [promoteError, setPromoteError] = useState<unknown>();
  const [busy, setBusy] = useState(false);
  const [sentForReview, setSentForReview] = useState<string>();

  useEffect(() => {
    environmentsApi.compare(scope.project, props.flagKey).then((found) => {
      setComparison(found);
      setError(undefined);
      const keys = found.environments.map((each) => each.environment);
      // Defaults: from the page's environment (or the first) to the next one.
      setFrom((current) => current || (keys.includes(scope.environment) ? scope.environment : (keys[0] ?? '')));
      setTo((current) => current || keys.find((key) => key !== (keys.includes(scope.environment) ? scope.environment : keys[0])) || '');
    }, setError);
  }, [scope.project, props.flagKey, generation]);

  const environments = comparison?.environments ?? [];
  const canPromote = rights.me !== undefined && rights.storeWritable !== false && roleAtLeast(roleOn(rights.me, { project: scope.project, environment: to }), 'editor');

  async function dryRun(event: Event) {
    event.preventDefault();
    setPlanned(undefined);
    setPromoteError(undefined);
    setSentForReview(undefined);
    if (!from || !to || from === to) {
      setPromoteError(new Error('Choose two different environments.'));
      return;
    }
    setBusy(true);
    try {
      const result = await environmentsApi.promote(scope.project, { from, to, flags: [props.flagKey], dryRun: true });
      if (isSentForReview(result)) throw new Error('the server sent a dry run for review');
      setPlanned(result);
    } catch (failure) {
      setPromoteError(failure);
    } finally {
      setBusy(false);
    }
  }

  async function apply() {
    if (!planned) return;
    setBusy(true);
    setPromoteError(undefined);
    try {
      const result = await environmentsApi.promote(scope.project, { from: planned.from, to: planned.to, flags: [props.flagKey], dryRun: false });
      setPlanned(undefined);
      if (isSentForReview(result)) {
        announceSentForReview(`promote ${props.flagKey} from ${planned.from} to ${planned.to}`, result.changeRequest);
        setSentForReview(result.changeRequest.id);
      } else {
        toast(`Promoted ${props.flagKey} from ${result.from} to ${result.to}`);
      }
      setGeneration((value) => value + 1);
    } catch (failure) {
      setPromoteError(failure);
    } finally {
      setBusy(false);
    }
  }

  const changes = planned?.changes.filter((change) => change.action !== 'unchanged') ?? [];
  return (
    <section aria-labelledby="compare-title">
      <div class="page-head">
        <div>
          <p class="crumbs">
            <a href={links.flags()}>Flags</a> / <a href={links.flag(props.flagKey)}>{props.flagKey}</a> /
          </p>
          <h1 id="compare-title" tabIndex={-1}>
            Compare environments
          </h1>
          <p class="muted small">
            {props.flagKey} in the environments of project {scope.project}. Variations, description, tags and type are shared; the rest is each environment's own.
          </p>
        </div>
      </div>
      <ErrorBox error={error} title="Cannot compare" />
      {!comparison && !error && <Loading what="the environments" />}
      {comparison && (
        <>
          <div class="table-wrap">
            <table class="compare" aria-label={`Differences of ${props.flagKey} between environments`}>
              <thead>
                <tr>
                  <th scope="col">Field</th>
                  {environments.map((each) => (
                    <th scope="col" key={each.environment}>
                      {each.environment}
                      <div class="muted small">{each.flag ? `version ${each.version}` : 'not there'}</div>
                    </th>
                  ))}
                </tr>
              </thead>
              <tbody>
                {comparison.differences.map((difference) => (
                  <tr key={difference.path}>
                    <th scope="row" class="mono">
                      {difference.path || '(the flag)'}
                    </th>
                    {environments.map((each) => (
                      <td key={each.environment} class="mono compare-value">
                        {each.flag ? preview(difference.values[each.environment], 90) : <span class="muted">—</span>}
                      </td>
                    ))}
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
          {comparison.differences.length === 0 && <p class="empty">The same in every environment.</p>}

          {environments.length > 1 && (
            <form class="card promote" onSubmit={dryRun} aria-labelledby="promote-title">
              <h2 id="promote-title">Promote</h2>
              <p class="help">Copies this flag's configuration from one environment to another, as one audited change. You see what changes before anything is written.</p>
              <div class="row wrap">
                <EnvironmentChoice id="promote-from" label="From" value={from} names={environments.map((each) => each.environment)} onChange={(next) => (setFrom(next), setPlanned(undefined))} />
                <EnvironmentChoice id="promote-to" label="To" value={to} names={environments.map((each) => each.environment)} onChange={(next) => (setTo(next), setPlanned(undefined))} />
                <button type="submit" disabled={busy}>
                  Show changes
                </button>
              </div>
              <ErrorBox error={promoteError} title="Cannot promote" />
              {planned && (
                <div class="promote-preview" aria-label="What the promotion changes">
                  <h3>
                    From {planned.from} to {planned.to}
                  </h3>
                  {planned.changes.map((change) => (
                    <div key={change.key} class="promote-change">
                      <p>
                        <strong class="mono">{change.key}</strong> {ACTION_TEXT[change.action]} in {planned.to}
                      </p>
                      {change.action !== 'unchanged' && <DiffView before={change.before ?? {}} after={change.after ?? {}} label={`Changes to ${change.key} in ${planned.to}`} />}
                    </div>
                  ))}
                  {changes.length === 0 ? (
                    <p class="muted">Nothing to promote: {planned.to} already has this configuration.</p>
                  ) : canPromote ? (
                    <div class="actions start">
                      <button type="button" class="primary" disabled={busy} onClick={() => void apply()}>
                        Promote to {planned.to}
                      </button>
                      <button type="button" onClick={() => setPlanned(undefined)}>
                        Cancel
                      </button>
                    </div>
                  ) : (
                    <p class="muted">{rights.storeWritable === false ? 'The store is read-only.' : `Your role does not allow changes in ${planned.to}.`}</p>
                  )}
                </div>
              )}
              {sentForReview && (
                <p class="notice sent-for-review" role="status">
                  <strong>Sent for review.</strong> The promotion applies once another person approves it.{' '}
                  <a href={links.change(sentForReview)}>Open the change request</a>
                </p>
              )}
            </form>
          )}
        </>
      )}
    </section>
  );
}

/** One labelled choice of an environment (the promotion's source or target). */
function EnvironmentChoice(props: { id: string; label: string; value: string; names: string[]; onChange: (name: string) => void }) {
  return (
    <div class="field">
      <label for={props.id}>{props.label}</label>
      <select id={props.id} value={props.value} onChange={(event) => props.onChange(event.currentTarget.value)}>
        {props.names.map((name) => (
          <option key={name} value={name}>
            {name}
          </option>
        ))}
      </select>
    </div>
  );
}
