import { useEffect, useState } from 'preact/hooks';
import { api, ApiError, type ApiKey, type CreatedKey } from '../lib/api.js';
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

  const load = () => api.listKeys().then(setKeys, setError);
  useEffect(() => void load(), []);

  async function create(event: Event) {
    event.preventDefault();
    if (!name.trim()) {
      setFormError('Give the key a name, e.g. the service or person that uses it.');
      return;
    }
    setBusy(true);
    setFormError(undefined);
    try {
      const key = await api.createKey({ name: name.trim(), kind, role });
      setCreated(key);
      setName('');
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
            <select id="key-role" value={role} disabled={kind === 'sdk'} title={kind === 'sdk' ? 'SDK keys only evaluate flags' : undefined} onChange={(event) => setRole(event.currentTarget.value as ApiKey['role'])}>
              {ROLES[kind].map((each) => (
                <option key={each} value={each}>
                  {each}
                </option>
              ))}
            </select>
          </div>
          <button type="submit" class="primary" disabled={busy}>
            Create key
          </button>
        </div>
      </form>
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
