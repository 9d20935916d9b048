import { useEffect, useState } from 'preact/hooks';
import { api, ApiError, type ApiKey, type CreatedKey } from '../lib/api.js';
import { environmentsApi, type ProjectWithEnvironments } from '../lib/environments-api.js';
import { grantsText, useRights, type RoleGrant } from '../lib/rights.js';
import { currentScope } from '../lib/scope.js';
import { dateTime, timeAgo } from '../lib/format.js';
import { toast } from '../lib/toast.js';
import { Confirm, ErrorBox, FieldErrors, Loading } from '../components/basics.js';

const ROLES: Record<ApiKey['kind'], Array<ApiKey['role']>> = { sdk: ['reader'], admin: ['reader', 'editor', 'admin'] };

export function KeysPage() {
  const [keys, setKeys] = useState<ApiKey[]>();
  const [error, setError] = useState<unknown>();
  const [name, setName] = useState('');
  const [kind, setKind] = useState<ApiKey['kind']>('sdk');
  const [role, setRole] = useState<ApiKey['role']>('reader');
  const [formError, setFormError] = useState<string>();
  const [created, setCreated] = useState<CreatedKey>();
  const [revoking, setRevoking] = useState<ApiKey>();
  const [busy, setBusy] = useState(false);
  const [projects, setProjects] = useState<ProjectWithEnvironments[]>();
  // SDK keys serve one environment (the page's by default); admin keys may be limited with grants.
  const [sdkScope, setSdkScope] = useState(() => currentScope());
  const [grants, setGrants] = useState<RoleGrant[]>([]);
  const rights = useRights();

  const load = () => api.listKeys().then(setKeys, setError);
  useEffect(() => void load(), []);
  useEffect(() => void environmentsApi.projects().then(setProjects, () => undefined), []);
  const environmentsOf = (project: string) => projects?.find((each) => each.key === project)?.environments ?? [];

  async function create(event: Event) {
    event.preventDefault();
    if (!name.trim()) {
      setFormError('Give the key a name, e.g. the service or person that uses it.');
      return;
    }
    setBusy(true);
    setFormError(undefined);
    try {
      const scoped = kind === 'sdk' && projects ? { project: sdkScope.project, environment: sdkScope.environment } : {};
      const key = await api.createKey({ name: name.trim(), kind, role, ...scoped, ...(kind === 'admin' && grants.length > 0 ? { grants } : {}) });
      setCreated(key);
      setName('');
      setGrants([]);
      await load();
    } catch (failure) {
      setFormError(failure instanceof ApiError ? failure.message : String(failure));
    } finally {
      setBusy(false);
    }
  }

  async function revoke() {
    if (!revoking) return;
    setBusy(true);
    try {
      await api.revokeKey(revoking.id);
      toast(`Revoked ${revoking.name}`);
      setRevoking(undefined);
      await load();
    } catch (failure) {
      toast(`Could not revoke ${revoking.name}: ${failure instanceof Error ? failure.message : String(failure)}`, 'error');
    } finally {
      setBusy(false);
    }
  }

  return (
    <section aria-labelledby="keys-title">
      <div class="page-head">
        <h1 id="keys-title" tabIndex={-1}>
          Keys
        </h1>
      </div>
      <p class="help">SDK keys evaluate flags (OFREP, the relay API, the stream); admin keys manage them with a role: reader, editor or admin.</p>
      {rights.canAdminister && (
        <form class="card key-form" onSubmit={create} noValidate>
          <h2>Create a key</h2>
          <div class="row wrap">
            <div class="field grow">
              <label for="key-name">Name</label>
              <input
                id="key-name"
                value={name}
                placeholder="e.g. checkout-service"
                aria-invalid={formError ? true : undefined}
                aria-describedby={formError ? 'key-name-errors' : undefined}
                onInput={(event) => setName(event.currentTarget.value)}
              />
              <FieldErrors id="key-name-errors" messages={formError ? [{ message: formError }] : undefined} />
            </div>
            <div class="field">
              <label for="key-kind">Kind</label>
              <select
                id="key-kind"
                value={kind}
                onChange={(event) => {
                  const next = event.currentTarget.value as ApiKey['kind'];
                  setKind(next);
                  if (!ROLES[next].includes(role)) setRole(ROLES[next][0]!);
                }}
              >
                <option value="sdk">SDK</option>
                <option value="admin">Admin</option>
              </select>
            </div>
            <div class="field">
              <label for="key-role">Role</label>
              <select
                id="key-role"
                value={role}
                disabled={kind === 'sdk' || grants.length > 0}
                title={kind === 'sdk' ? 'SDK keys only evaluate flags' : grants.length > 0 ? 'A key with grants has the roles they give' : undefined} onChange={(event) => setRole(event.currentTarget.value as ApiKey['role'])}>
                {ROLES[kind].map((each) => (
                  <option key={each} value={each}>
                    {each}
                  </option>
                ))}
              </select>
            </div>
            {kind === 'sdk' && projects && (
              <>
                <div class="field">
                  <label for="key-project">Project</label>
                  <select
                    id="key-project"
                    value={sdkScope.project}
                    onChange={(event) => {
                      const project = event.currentTarget.value;
                      setSdkScope({ project, environment: environmentsOf(project)[0]?.key ?? 'default' });
                    }}
                  >
                    {projects.map((each) => (
                      <option key={each.key} value={each.key}>
                        {each.key}
                      </option>
                    ))}
                  </select>
                </div>
                <div class="field">
                  <label for="key-environment">Environment</label>
                  <select id="key-environment" value={sdkScope.environment} onChange={(event) => setSdkScope({ ...sdkScope, environment: event.currentTarget.value })}>
                    {environmentsOf(sdkScope.project).map((each) => (
                      <option key={each.key} value={each.key}>
                        {each.key}
                      </option>
                    ))}
                  </select>
                </div>
              </>
            )}
            <button type="submit" class="primary" disabled={busy}>
              Create key
            </button>
          </div>
          {kind === 'admin' && projects && <GrantsEditor grants={grants} projects={projects} onChange={setGrants} />}
        </form>
      )}
      {created && (
        <div class="secret card" role="alert">
          <h2>Copy the secret of {created.name} now</h2>
          <p>It is shown once: the server keeps only a hash of it.</p>
          <div class="row">
            <code class="secret-value grow" aria-label="Secret">
              {created.secret}
            </code>
            <button
              type="button"
              onClick={() =>
                navigator.clipboard?.writeText(created.secret).then(
                  () => toast('Copied'),
                  () => toast('Copy it by hand: the clipboard is not available', 'error'),
                )
              }
            >
              Copy
            </button>
            <button type="button" onClick={() => setCreated(undefined)}>
              Done
            </button>
          </div>
        </div>
      )}
      <ErrorBox error={error} title="Cannot load the keys" />
      {!keys && !error && <Loading what="keys" />}
      {keys && (
        <div class="table-wrap">
          <table class="keys">
            <thead>
              <tr>
                <th scope="col">Name</th>
                <th scope="col">Kind</th>
                <th scope="col">Role</th>
                <th scope="col">Scope</th>
                <th scope="col">Starts with</th>
                <th scope="col">Created</th>
                <th scope="col">Status</th>
              </tr>
            </thead>
            <tbody>
              {keys.map((key) => (
                <tr key={key.id} class={key.revokedAt ? 'off' : undefined}>
                  <th scope="row">{key.name}</th>
                  <td>{key.kind === 'sdk' ? 'SDK' : 'admin'}</td>
                  <td>{key.role}</td>
                  <td class="key-scope">{key.kind === 'sdk' ? `${key.project ?? 'default'}/${key.environment ?? 'default'}` : grantsText(key.role, key.grants)}</td>
                  <td>
                    <code>{key.prefix ? `${key.prefix}…` : '—'}</code>
                  </td>
                  <td>
                    <time title={dateTime(key.createdAt)}>{timeAgo(key.createdAt)}</time>
                    {key.createdBy && <span class="muted small"> by {key.createdBy}</span>}
                  </td>
                  <td>
                    {key.revokedAt ? (
                      <span class="muted">revoked {timeAgo(key.revokedAt)}</span>
                    ) : !rights.canAdminister ? (
                      <span class="muted small">active</span>
                    ) : key.source === 'config' ? (
                      <span class="muted small" title="Given on the command line or in the environment: remove it there">from the configuration</span>
                    ) : (
                      <button type="button" class="danger-text link-button" onClick={() => setRevoking(key)} aria-label={`Revoke ${key.name}`}>
                        Revoke
                      </button>
                    )}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
          {keys.length === 0 && <p class="empty">No keys yet.</p>}
        </div>
      )}
      <Confirm open={!!revoking} title={`Revoke ${revoking?.name ?? ''}?`} confirmLabel="Revoke" danger busy={busy} onCancel={() => setRevoking(undefined)} onConfirm={revoke}>
        <p>Requests with this key are refused from now on. This cannot be undone.</p>
      </Confirm>
    </section>
  );
}

/** Limits an admin key to some projects × environments (`*`: any); none: the key's role everywhere. */
function GrantsEditor(props: { grants: RoleGrant[]; projects: ProjectWithEnvironments[]; onChange: (grants: RoleGrant[]) => void }) {
  const update = (index: number, patch: Partial<RoleGrant>) => props.onChange(props.grants.map((grant, at) => (at === index ? { ...grant, ...patch } : grant)));
  return (
    <fieldset class="bare grants">
      <legend class="help">Grants: roles on some projects and environments only. Without grants the key has its role everywhere.</legend>
      {props.grants.map((grant, index) => {
        const environments = props.projects.find((each) => each.key === grant.project)?.environments ?? [];
        return (
          <div class="grant-row" key={index}>
            <label>
              <span class="label-inline">Project</span>
              <select aria-label={`Grant ${index + 1} project`} value={grant.project} onChange={(event) => update(index, { project: event.currentTarget.value, environment: '*' })}>
                <option value="*">any (*)</option>
                {props.projects.map((each) => (
                  <option key={each.key} value={each.key}>
                    {each.key}
                  </option>
                ))}
              </select>
            </label>
            <label>
              <span class="label-inline">Environment</span>
              <select aria-label={`Grant ${index + 1} environment`} value={grant.environment} onChange={(event) => update(index, { environment: event.currentTarget.value })}>
                <option value="*">any (*)</option>
                {environments.map((each) => (
                  <option key={each.key} value={each.key}>
                    {each.key}
                  </option>
                ))}
              </select>
            </label>
            <label>
              <span class="label-inline">Role</span>
              <select aria-label={`Grant ${index + 1} role`} value={grant.role} onChange={(event) => update(index, { role: event.currentTarget.value as RoleGrant['role'] })}>
                {ROLES.admin.map((role) => (
                  <option key={role} value={role}>
                    {role}
                  </option>
                ))}
              </select>
            </label>
            <button type="button" class="link-button" onClick={() => props.onChange(props.grants.filter((_, at) => at !== index))} aria-label={`Remove grant ${index + 1}`}>
              Remove
            </button>
          </div>
        );
      })}
      <div>
        <button type="button" onClick={() => props.onChange([...props.grants, { project: currentScope().project, environment: currentScope().environment, role: 'editor' }])}>
          Add grant
        </button>
      </div>
    </fieldset>
  );
}
