import { useEffect, useMemo, useRef, useState } from 'preact/hooks';
import { api, setCsrfToken, setUnauthorizedHandler, signOutSession } from './lib/api.js';
import { forgetKey, readKey } from './lib/session.js';
import { links, useRoute, type Route } from './lib/router.js';
import { scopeText, useScope } from './lib/scope.js';
import { RightsContext, rightsFor, type Me } from './lib/rights.js';
import type { ProjectWithEnvironments } from './lib/environments-api.js';
import { Toasts } from './components/basics.js';
import { HealthBanner } from './components/HealthBanner.js';
import { ScopeSwitcher } from './components/ScopeSwitcher.js';
import { SignIn } from './pages/SignIn.js';
import { FlagsPage } from './pages/Flags.js';
import { FlagEditorPage } from './pages/FlagEditor.js';
import { PlaygroundPage } from './pages/Playground.js';
import { AuditPage } from './pages/Audit.js';
import { KeysPage } from './pages/Keys.js';
import { EventsPage } from './pages/Events.js';
import { ExperimentPage } from './pages/Experiment.js';
import { CompareEnvironmentsPage } from './pages/CompareEnvironments.js';
import { PendingChangesPage } from './pages/PendingChanges.js';
import { ChangeRequestPage } from './pages/ChangeRequest.js';

const NAV: Array<{ page: Route['page']; label: string; href: () => string }> = [
  { page: 'flags', label: 'Flags', href: links.flags },
  { page: 'playground', label: 'Playground', href: links.playground },
  { page: 'events', label: 'Events', href: () => links.events() },
  { page: 'audit', label: 'Audit log', href: () => links.audit() },
  { page: 'changes', label: 'Changes', href: () => links.changes() },
  { page: 'keys', label: 'Keys', href: links.keys },
];

export function App() {
  const [signedIn, setSignedIn] = useState(() => readKey() !== undefined);
  const [expired, setExpired] = useState(false);
  const route = useRoute();
  const scope = useScope();
  const main = useRef<HTMLElement>(null);
  const [me, setMe] = useState<Me>();
  const [storeWritable, setStoreWritable] = useState<boolean>();
  const [projects, setProjects] = useState<ProjectWithEnvironments[]>();
  // Without a key, a signed-in session (OpenID Connect, an HTTP-only cookie) may still be there: ask once.
  const [checkingSession, setCheckingSession] = useState(() => readKey() === undefined);
  useEffect(() => {
    if (!checkingSession) return;
    api.me({ quiet: true }).then(
      (found) => {
        if (found.via === 'session') {
          setMe(found);
          setCsrfToken(found.csrfToken);
          setSignedIn(true);
        }
      },
      () => undefined,
    ).finally(() => setCheckingSession(false));
  }, []);

  // Who is signed in, and where they may write (the server checks again on every call).
  useEffect(() => {
    if (!signedIn) return;
    api.me().then(
      (found) => (setMe(found), setCsrfToken(found.csrfToken)),
      () => setMe(undefined),
    );
  }, [signedIn]);
  const rights = useMemo(() => {
    const environment = projects?.find((each) => each.key === scope.project)?.environments.find((each) => each.key === scope.environment);
    return rightsFor(me, scope, storeWritable, environment?.requireApproval === true);
  }, [me, scope, storeWritable, projects]);

  useEffect(() => {
    setUnauthorizedHandler(() => {
      forgetKey();
      setExpired(true);
      setSignedIn(false);
    });
  }, []);

  // Move focus to the page on navigation, so keyboard and screen reader users start at the new content.
  useEffect(() => {
    main.current?.querySelector<HTMLElement>('h1')?.focus({ preventScroll: true });
    const title =
      NAV.find((item) => item.page === route.page)?.label ??
      (route.page === 'flag' ? route.key : route.page === 'experiment' ? `Experiment ${route.key}` : route.page === 'compare' ? `Compare ${route.key}` : route.page === 'change' ? 'Change request' : 'New flag');
    document.title = `${title} · Vexil`;
  }, [route]);

  if (!signedIn && checkingSession) return null;
  if (!signedIn) {
    return (
      <>
        <SignIn
          expired={expired}
          onSignedIn={() => {
            setExpired(false);
            setSignedIn(true);
          }}
        />
        <Toasts />
      </>
    );
  }

  const current = route.page === 'flag' || route.page === 'new' || route.page === 'compare' ? 'flags' : route.page === 'change' ? 'changes' : route.page;
  return (
    <>
      <a class="skip" href="#main" onClick={(event) => (event.preventDefault(), main.current?.focus())}>
        Skip to content
      </a>
      <header class="topbar">
        <a class="brand" href={links.flags()}>
          <svg viewBox="0 0 16 16" width="18" height="18" aria-hidden="true">
            <path d="M3 2v12M3 2h9l-2 3 2 3H3" stroke="currentColor" stroke-width="2" fill="none" />
          </svg>
          Vexil
        </a>
        <nav aria-label="Main">
          <ul>
            {NAV.map((item) => (
              <li key={item.page}>
                <a href={item.href()} aria-current={current === item.page ? 'page' : undefined}>
                  {item.label}
                </a>
              </li>
            ))}
          </ul>
        </nav>
        <ScopeSwitcher scope={scope} onProjects={setProjects} />
        {me?.via === 'session' && <span class="signed-in-as" title="Signed in with single sign-on">{me.name}</span>}
        <button
          type="button"
          class="link-button signout"
          onClick={() => {
            if (me?.via === 'session') void signOutSession();
            forgetKey();
            setSignedIn(false);
            setMe(undefined);
          }}
        >
          Sign out
        </button>
      </header>
      <RightsContext.Provider value={rights}>
        <main id="main" ref={main} tabIndex={-1}>
          <HealthBanner onStore={(store) => setStoreWritable(store.writable)} />
          {/* Keyed by scope: switching environment loads every page afresh from the new one. */}
          <div key={scopeText(scope)}>
            {route.page === 'flags' && <FlagsPage />}
            {route.page === 'new' && <FlagEditorPage key="+new" />}
            {route.page === 'flag' && <FlagEditorPage key={route.key} flagKey={route.key} />}
            {route.page === 'playground' && <PlaygroundPage />}
            {route.page === 'audit' && <AuditPage flag={route.flag} />}
            {route.page === 'keys' && <KeysPage />}
            {route.page === 'events' && <EventsPage flag={route.flag} metric={route.metric} since={route.since} />}
            {route.page === 'experiment' && <ExperimentPage key={route.key} flagKey={route.key} />}
            {route.page === 'compare' && <CompareEnvironmentsPage key={route.key} flagKey={route.key} />}
            {route.page === 'changes' && <PendingChangesPage all={route.all === true} />}
            {route.page === 'change' && <ChangeRequestPage key={route.id} id={route.id} />}
          </div>
        </main>
      </RightsContext.Provider>
      <Toasts />
    </>
  );
}
