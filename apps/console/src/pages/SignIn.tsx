// Sign in with an API key. The API has no "who am I": an admin key may list tenants (GET /v1/tenants) and picks one;
// a tenant key gets 403 there, so the form asks for its tenant's slug (which its operator knows: it is in every URL
// of theirs) and checks it with GET /v1/tenants/{tenant} (404 for any other tenant). The console adds no privilege:
// it only ever shows what the API answers to the key.
import { useQuery } from '@tanstack/react-query';
import { useEffect, useId, useRef, useState, type FormEvent } from 'react';
import { Link, Redirect, useLocation, useSearch } from 'wouter';
import { api, ApiError, errorText, session, unwrap } from '../api';

const SLUG = /^[a-z0-9][a-z0-9-]*$/;

/** `next` if it is a path of this console (never an outside URL), else the tenant's conversations. */
function destination(next: string | null, tenant: string): string {
  if (next && next.startsWith(`/${tenant}/`) && !next.includes('//')) return next;
  return `/${tenant}/conversations`;
}

export function SignIn() {
  const [, navigate] = useLocation();
  const params = new URLSearchParams(useSearch());
  const next = params.get('next');
  const fromNext = next?.match(/^\/([a-z0-9][a-z0-9-]*)(\/|$)/)?.[1] ?? '';
  const [key, setKey] = useState('');
  const [tenant, setTenant] = useState(fromNext);
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const [signedIn, setSignedIn] = useState(() => !!session.key());
  const tenantInput = useRef<HTMLInputElement>(null);
  const keyInput = useRef<HTMLInputElement>(null);
  const errorId = useId();

  useEffect(() => {
    document.title = 'Sign in · gtc console';
    if (!session.key()) keyInput.current?.focus();
  }, []);

  async function submit(e: FormEvent) {
    e.preventDefault();
    setError(null);
    const k = key.trim();
    const t = tenant.trim().toLowerCase();
    if (!k) return setError('Enter an API key.');
    if (t && !SLUG.test(t)) return setError('A tenant slug is lower-case letters, digits and dashes.');
    setBusy(true);
    session.signIn(k);
    try {
      if (t) {
        const r = await api.GET('/v1/tenants/{tenant}', { params: { path: { tenant: t } } });
        if (r.response.status === 404) throw new Error(`No tenant “${t}” for this key.`);
        unwrap(r);
        setKey('');
        return navigate(destination(next, t), { replace: true });
      }
      const r = await api.GET('/v1/tenants', { params: { query: { limit: 200 } } });
      if (r.response.status === 403) {
        session.signOut();
        setError('This is a tenant key: enter your tenant (its slug) as well.');
        tenantInput.current?.focus();
        return;
      }
      unwrap(r);
      setKey('');
      setSignedIn(true);
    } catch (err) {
      session.signOut();
      setError(err instanceof ApiError && err.status === 401 ? 'This key was not accepted.' : errorText(err));
      keyInput.current?.focus();
    } finally {
      setBusy(false);
    }
  }

  const last = session.tenant();
  if (signedIn && last) return <Redirect to={destination(next, last)} replace />;
  if (signedIn) return <ChooseTenant onSignOut={() => setSignedIn(false)} />;

  return (
    <main id="main" className="signin">
      <form
        onSubmit={submit}
        aria-labelledby="signin-title"
        aria-describedby={error ? errorId : undefined}
        noValidate
      >
        <h1 id="signin-title">gtc console</h1>
        <p className="muted">
          Sign in with an admin key or a tenant key. It stays in this tab only (session storage).
        </p>
        <label htmlFor="key">API key</label>
        <input
          id="key"
          ref={keyInput}
          type="password"
          autoComplete="off"
          spellCheck={false}
          value={key}
          onChange={(e) => setKey(e.target.value)}
          required
        />
        <label htmlFor="tenant">
          Tenant <span className="muted">(needed with a tenant key)</span>
        </label>
        <input
          id="tenant"
          ref={tenantInput}
          autoComplete="organization"
          spellCheck={false}
          value={tenant}
          onChange={(e) => setTenant(e.target.value)}
        />
        {error && (
          <p id={errorId} role="alert" className="error">
            {error}
          </p>
        )}
        <button type="submit" disabled={busy}>
          Sign in
        </button>
      </form>
    </main>
  );
}

/** An admin key: pick the tenant to look at. */
function ChooseTenant({ onSignOut }: { onSignOut: () => void }) {
  const tenants = useQuery({
    queryKey: ['tenants'],
    queryFn: async () => unwrap(await api.GET('/v1/tenants', { params: { query: { limit: 200 } } })),
  });
  const heading = useRef<HTMLHeadingElement>(null);
  useEffect(() => heading.current?.focus(), []);
  const forbidden = tenants.error instanceof ApiError && tenants.error.status === 403;
  return (
    <main id="main" className="signin">
      <section aria-labelledby="choose-title">
        <h1 id="choose-title" ref={heading} tabIndex={-1}>
          Choose a tenant
        </h1>
        {tenants.isPending && <p className="muted">Loading…</p>}
        {forbidden && <p>This key belongs to one tenant: sign in again with its slug.</p>}
        {tenants.isError && !forbidden && <p role="alert">{errorText(tenants.error)}</p>}
        {tenants.data && (
          <ul className="tenant-list">
            {tenants.data.data.map((t) => (
              <li key={t.id}>
                <Link href={`/${t.slug}/conversations`}>
                  <strong>{t.name}</strong> <span className="muted">{t.slug}</span>
                </Link>
              </li>
            ))}
            {tenants.data.data.length === 0 && <li className="muted">No tenants yet.</li>}
          </ul>
        )}
        <button
          type="button"
          className="secondary"
          onClick={() => {
            session.signOut();
            onSignOut();
          }}
        >
          Sign out
        </button>
      </section>
    </main>
  );
}
