// Routes (all under /console): / sign-in; /{tenant}/conversations[/{contactId}], /{tenant}/numbers,
// /{tenant}/flows[/{team}/{name}], /{tenant}/events[/{endpointId}]. No key: back to sign-in, remembering where.
import { useQuery, useQueryClient } from '@tanstack/react-query';
import { lazy, Suspense, useEffect, useRef, type ReactNode } from 'react';
import { Link, Redirect, Route, Router, Switch, useLocation, useParams } from 'wouter';
import { api, isNotFound, onUnauthorized, session, unwrap, errorText } from './api';
import { SignIn } from './pages/SignIn';
import { Conversations } from './pages/Conversations';

const Numbers = lazy(() => import('./pages/Numbers'));
const Flows = lazy(() => import('./pages/Flows'));
const Events = lazy(() => import('./pages/Events'));

export function App() {
  return (
    <Router base="/console">
      <SessionGuard />
      <Switch>
        <Route path="/" component={SignIn} />
        <Route path="/:tenant" nest>
          <Shell />
        </Route>
      </Switch>
    </Router>
  );
}

/** A 401 anywhere (or signing out in another part of the page) returns to sign-in, dropping every cached answer. */
function SessionGuard() {
  const [location, navigate] = useLocation();
  const queryClient = useQueryClient();
  const where = useRef(location);
  where.current = location;
  useEffect(
    () =>
      onUnauthorized(() => {
        queryClient.clear();
        // Several requests may be refused at once: the first one takes the page to sign-in, remembering where it was.
        if (where.current === '/') return;
        navigate(`/?next=${encodeURIComponent(where.current)}`, { replace: true });
        where.current = '/';
      }),
    [navigate, queryClient],
  );
  return null;
}

/** The signed-in page of one tenant: navigation, then the section. A tenant the key may not see is "not found". */
function Shell() {
  const { tenant } = useParams<{ tenant: string }>();
  const [location] = useLocation();
  const key = session.key();
  const t = useQuery({
    queryKey: ['tenant', tenant],
    queryFn: async () => unwrap(await api.GET('/v1/tenants/{tenant}', { params: { path: { tenant } } })),
    enabled: !!key,
  });
  useEffect(() => {
    if (t.data) session.setTenant(tenant);
  }, [t.data, tenant]);
  const main = useRef<HTMLElement>(null);
  // Moving to another section puts the focus on its content, as a page load would for a screen reader.
  const section = location.split('/')[1];
  useEffect(() => {
    main.current?.focus({ preventScroll: true });
  }, [section]);

  if (!key)
    return (
      <Redirect
        to={`~/console/?next=${encodeURIComponent(`/${tenant}${location === '/' ? '' : location}`)}`}
        replace
      />
    );

  let content: ReactNode;
  if (t.isPending) content = <p className="muted">Loading…</p>;
  else if (t.isError)
    content = isNotFound(t.error) ? (
      <NotFound what={`Tenant “${tenant}”`} />
    ) : (
      <p role="alert">{errorText(t.error)}</p>
    );
  else
    content = (
      <Suspense fallback={<p className="muted">Loading…</p>}>
        <Switch>
          <Route path="/conversations" component={Conversations} />
          <Route path="/conversations/:contactId" component={Conversations} />
          <Route path="/numbers" component={Numbers} />
          <Route path="/flows" component={Flows} />
          <Route path="/flows/:team/:name" component={Flows} />
          <Route path="/events" component={Events} />
          <Route path="/events/:endpointId" component={Events} />
          <Route path="/">
            <Redirect to="/conversations" replace />
          </Route>
          <Route>
            <NotFound what="This page" />
          </Route>
        </Switch>
      </Suspense>
    );

  return (
    <div className="shell">
      <a className="skip" href="#main">
        Skip to content
      </a>
      <header className="topbar">
        <span className="brand" aria-label="gtc console">
          gtc
        </span>
        <span className="tenant" title="Tenant">
          {t.data?.name ?? tenant}
        </span>
        <nav aria-label="Sections">
          <NavLink href="/conversations">Conversations</NavLink>
          <NavLink href="/numbers">Numbers</NavLink>
          <NavLink href="/flows">Flows</NavLink>
          <NavLink href="/events">Events</NavLink>
        </nav>
        <SignOut />
      </header>
      <main id="main" ref={main} tabIndex={-1}>
        {content}
      </main>
    </div>
  );
}

function NavLink({ href, children }: { href: string; children: ReactNode }) {
  const [location] = useLocation();
  const current = location === href || location.startsWith(`${href}/`);
  return (
    <Link href={href} aria-current={current ? 'page' : undefined} className={current ? 'current' : undefined}>
      {children}
    </Link>
  );
}

function SignOut() {
  const [, navigate] = useLocation();
  const queryClient = useQueryClient();
  return (
    <button
      type="button"
      className="secondary"
      onClick={() => {
        session.signOut();
        queryClient.clear();
        navigate('~/console/', { replace: true });
      }}
    >
      Sign out
    </button>
  );
}

export function NotFound({ what }: { what: string }) {
  return (
    <section className="notfound" aria-labelledby="nf">
      <h1 id="nf">Not found</h1>
      <p>{what} was not found, or this key may not see it.</p>
    </section>
  );
}
