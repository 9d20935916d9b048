import { useEffect, useState } from 'preact/hooks';
import { api, ApiError, signInOptions } from '../lib/api.js';
import { storeKey } from '../lib/session.js';

export function SignIn(props: { onSignedIn: () => void; expired?: boolean }) {
  const [key, setKey] = useState('');
  const [error, setError] = useState<string>();
  const [busy, setBusy] = useState(false);
  const [loginUrl, setLoginUrl] = useState<string>();

  useEffect(() => {
    void signInOptions().then((options) => setLoginUrl(options.oidc ? options.loginUrl : undefined));
  }, []);

  async function submit(event: Event) {
    event.preventDefault();
    const secret = key.trim();
    if (!secret) {
      setError('Paste an admin key.');
      return;
    }
    setBusy(true);
    setError(undefined);
    try {
      const me = await api.whoami(secret);
      if (me.kind !== 'admin') {
        setError('This is an SDK key: it can only evaluate flags. Sign in with an admin key.');
        return;
      }
      storeKey(secret);
      props.onSignedIn();
    } catch (failure) {
      if (failure instanceof ApiError && failure.status === 401) setError('The server does not know this key.');
      else if (failure instanceof ApiError && failure.status === 403) setError('This key cannot read flags: use an admin key.');
      else setError(failure instanceof Error ? failure.message : String(failure));
    } finally {
      setBusy(false);
    }
  }

  return (
    <main class="signin" id="main">
      <form class="card signin-card" onSubmit={submit} noValidate>
        <h1>
          <svg viewBox="0 0 16 16" width="22" height="22" aria-hidden="true">
            <path d="M3 2v12M3 2h9l-2 3 2 3H3" stroke="currentColor" stroke-width="2" fill="none" />
          </svg>{' '}
          Vexil
        </h1>
        {loginUrl && (
          <>
            <a class="button primary block" href={`${loginUrl}?returnTo=${encodeURIComponent(`/${location.hash}`)}`}>
              Sign in with single sign-on
            </a>
            <p class="muted small">Your organisation's OpenID provider; your groups give your roles.</p>
            <p class="or">or</p>
          </>
        )}
        <p class="muted">Sign in with an admin key. It stays in this browser tab only (session storage) and is sent as a bearer token.</p>
        {props.expired && (
          <p class="error-box" role="alert">
            The server no longer accepts the key: sign in again.
          </p>
        )}
        <label for="admin-key">Admin key</label>
        <input
          id="admin-key"
          name="admin-key"
          type="password"
          autoComplete="off"
          spellcheck={false}
          value={key}
          aria-invalid={error ? true : undefined}
          aria-describedby={error ? 'admin-key-error' : undefined}
          onInput={(event) => (setKey(event.currentTarget.value), setError(undefined))}
          autoFocus
        />
        {error && (
          <p class="field-error" id="admin-key-error" role="alert">
            {error}
          </p>
        )}
        <button type="submit" class="primary" disabled={busy}>
          {busy ? 'Signing in…' : 'Sign in'}
        </button>
      </form>
    </main>
  );
}
