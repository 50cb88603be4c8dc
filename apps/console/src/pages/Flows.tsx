// Flows: every team's flows with their versions, activate / deactivate, each flow drawn as a graph (lazy: the
// layout library loads only when a graph is opened), and upload or paste a flow with its validation errors at
// file:line:col.
import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { lazy, Suspense, useEffect, useId, useRef, useState, type FormEvent } from 'react';
import { Link, useParams, useSearch } from 'wouter';
import { api, ApiError, errorText, isNotFound, unwrap, type Schemas } from '../api';
import { fmtDateTime, fmtWhen } from '../format';
import { NotFound } from '../App';

const FlowGraph = lazy(() => import('../components/FlowGraph'));

type Issue = { file: string; line: number; column: number; path: string; message: string };

export default function Flows() {
  const { tenant, team, name } = useParams<{ tenant: string; team?: string; name?: string }>();
  useEffect(() => {
    document.title = `${name ? `${name} · ` : ''}Flows · ${tenant} · gtc console`;
  }, [tenant, name]);
  const teams = useQuery({
    queryKey: ['teams', tenant],
    queryFn: async () =>
      unwrap(
        await api.GET('/v1/tenants/{tenant}/teams', { params: { path: { tenant }, query: { limit: 200 } } }),
      ),
  });
  if (team && name) return <FlowDetail tenant={tenant} team={team} name={name} />;
  const list = teams.data?.data ?? [];
  return (
    <div className="page flows">
      <h1>Flows</h1>
      {teams.isError && <p role="alert">{errorText(teams.error)}</p>}
      {list.map((t) => (
        <TeamFlows key={t.id} tenant={tenant} team={t.slug} teamName={t.name} />
      ))}
      {teams.isSuccess && list.length === 0 && <p className="muted">No teams yet.</p>}
      {list.length > 0 && <Upload tenant={tenant} teams={list.map((t) => t.slug)} />}
    </div>
  );
}

function TeamFlows({ tenant, team, teamName }: { tenant: string; team: string; teamName: string }) {
  const flows = useQuery({
    queryKey: ['flows', tenant, team],
    queryFn: async () =>
      unwrap(
        await api.GET('/v1/tenants/{tenant}/teams/{team}/flows', { params: { path: { tenant, team } } }),
      ),
  });
  const titleId = `flows-${team}`;
  return (
    <section className="card-section" aria-labelledby={titleId}>
      <h2 id={titleId}>
        {teamName} <span className="muted">({team})</span>
      </h2>
      {flows.isError && <p role="alert">{errorText(flows.error)}</p>}
      {flows.data && flows.data.data.length === 0 && <p className="muted">No flows.</p>}
      {flows.data && flows.data.data.length > 0 && (
        <div className="table-wrap">
          <table>
            <caption className="visually-hidden">Flows of team {team}</caption>
            <thead>
              <tr>
                <th scope="col">flow</th>
                <th scope="col">version</th>
                <th scope="col">active</th>
                <th scope="col">revisions</th>
                <th scope="col">last upload</th>
              </tr>
            </thead>
            <tbody>
              {flows.data.data.map((f) => (
                <tr key={f.name}>
                  <th scope="row">
                    <Link href={`/flows/${team}/${encodeURIComponent(f.name)}`}>{f.name}</Link>
                  </th>
                  <td>{f.version}</td>
                  <td>
                    {f.active_revision !== null ? (
                      <span className="badge ok">revision {f.active_revision}</span>
                    ) : (
                      <span className="badge">inactive</span>
                    )}
                  </td>
                  <td>{f.revisions}</td>
                  <td>{fmtWhen(f.created_at)}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
    </section>
  );
}

function FlowDetail({ tenant, team, name }: { tenant: string; team: string; name: string }) {
  const qc = useQueryClient();
  const search = new URLSearchParams(useSearch());
  const wanted = search.get('revision');
  const path = { tenant, team, name };
  const versions = useQuery({
    queryKey: ['flow-versions', tenant, team, name],
    queryFn: async () =>
      unwrap(await api.GET('/v1/tenants/{tenant}/teams/{team}/flows/{name}/versions', { params: { path } })),
  });
  const active = versions.data?.data.find((f) => f.active);
  const latest = versions.data?.data.reduce<Schemas['Flow'] | undefined>(
    (a, f) => (!a || f.revision > a.revision ? f : a),
    undefined,
  );
  const revision = wanted ? Number(wanted) : (active ?? latest)?.revision;
  const detail = useQuery({
    queryKey: ['flow', tenant, team, name, revision],
    queryFn: async () =>
      unwrap(
        await api.GET('/v1/tenants/{tenant}/teams/{team}/flows/{name}', {
          params: { path, query: { revision } },
        }),
      ),
    enabled: revision !== undefined,
  });
  const change = useMutation({
    mutationFn: async (a: { activate: true; revision: number } | { activate: false }) =>
      a.activate
        ? unwrap(
            await api.POST('/v1/tenants/{tenant}/teams/{team}/flows/{name}/activate', {
              params: { path },
              body: { revision: a.revision },
            }),
          )
        : unwrap(
            await api.POST('/v1/tenants/{tenant}/teams/{team}/flows/{name}/deactivate', { params: { path } }),
          ),
    onSuccess: () => {
      void qc.invalidateQueries({ queryKey: ['flow-versions', tenant, team, name] });
      void qc.invalidateQueries({ queryKey: ['flow', tenant, team, name] });
      void qc.invalidateQueries({ queryKey: ['flows', tenant, team] });
    },
  });

  if (versions.isError && isNotFound(versions.error))
    return <NotFound what={`Flow “${name}” of team “${team}”`} />;
  const f = detail.data;
  return (
    <div className="page flow-detail">
      <p>
        <Link href="/flows">← Flows</Link>
      </p>
      <h1>
        {name} <span className="muted">team {team}</span>
      </h1>
      {versions.isError && <p role="alert">{errorText(versions.error)}</p>}
      <section className="card-section" aria-labelledby="versions-title">
        <h2 id="versions-title">Versions</h2>
        <div className="table-wrap">
          <table>
            <caption className="visually-hidden">Revisions of {name}</caption>
            <thead>
              <tr>
                <th scope="col">revision</th>
                <th scope="col">version</th>
                <th scope="col">file</th>
                <th scope="col">uploaded</th>
                <th scope="col">state</th>
                <th scope="col">
                  <span className="visually-hidden">actions</span>
                </th>
              </tr>
            </thead>
            <tbody>
              {versions.data?.data.map((v) => (
                <tr key={v.id} className={v.revision === revision ? 'selected' : undefined}>
                  <th scope="row">
                    <Link
                      href={`/flows/${team}/${encodeURIComponent(name)}?revision=${v.revision}`}
                      aria-current={v.revision === revision ? 'true' : undefined}
                    >
                      {v.revision}
                    </Link>
                  </th>
                  <td>{v.version}</td>
                  <td>{v.file_name ?? ''}</td>
                  <td>{fmtDateTime(v.created_at)}</td>
                  <td>
                    {v.active ? (
                      <span className="badge ok">active</span>
                    ) : (
                      <span className="badge">inactive</span>
                    )}
                  </td>
                  <td>
                    {v.active ? (
                      <button
                        type="button"
                        className="secondary"
                        onClick={() => change.mutate({ activate: false })}
                        disabled={change.isPending}
                      >
                        Deactivate
                      </button>
                    ) : (
                      <button
                        type="button"
                        className="secondary"
                        onClick={() => change.mutate({ activate: true, revision: v.revision })}
                        disabled={change.isPending}
                        aria-label={`Activate revision ${v.revision}`}
                      >
                        Activate
                      </button>
                    )}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
        {change.isError && <p role="alert">{errorText(change.error)}</p>}
      </section>
      <section className="card-section" aria-labelledby="graph-title">
        <h2 id="graph-title">
          Graph {revision !== undefined && <span className="muted">revision {revision}</span>}
        </h2>
        {detail.isError && <p role="alert">{errorText(detail.error)}</p>}
        {f && (
          <Suspense fallback={<p className="muted">Drawing…</p>}>
            <FlowGraph compiled={f.compiled} />
          </Suspense>
        )}
      </section>
      {f && (
        <section className="card-section" aria-labelledby="source-title">
          <h2 id="source-title">Source {f.file_name && <span className="muted">{f.file_name}</span>}</h2>
          <pre className="source" tabIndex={0} aria-label="Flow source">
            {f.source}
          </pre>
        </section>
      )}
    </div>
  );
}

/** Upload a .ygtc file or paste its source; validate only, or upload (and activate). */
function Upload({ tenant, teams }: { tenant: string; teams: string[] }) {
  const qc = useQueryClient();
  const [team, setTeam] = useState(teams[0]);
  const [fileName, setFileName] = useState('');
  const [source, setSource] = useState('');
  const [activate, setActivate] = useState(true);
  const [issues, setIssues] = useState<{ errors: Issue[]; warnings: Issue[] } | null>(null);
  const [outcome, setOutcome] = useState<string | null>(null);
  const [failure, setFailure] = useState<string | null>(null);
  const results = useRef<HTMLDivElement>(null);
  const formId = useId();

  const run = useMutation({
    mutationFn: async (mode: 'validate' | 'upload') => {
      const body = { source, ...(fileName.trim() ? { file_name: fileName.trim() } : {}), activate };
      const params = { path: { tenant, team } };
      if (mode === 'validate') {
        const r = unwrap(
          await api.POST('/v1/tenants/{tenant}/teams/{team}/flows/validate', { params, body }),
        );
        return { mode, text: `Valid: ${r.name} ${r.version}.`, warnings: r.warnings as Issue[] };
      }
      const r = unwrap(await api.POST('/v1/tenants/{tenant}/teams/{team}/flows', { params, body }));
      return {
        mode,
        text: r.created
          ? `Uploaded ${r.flow.name} revision ${r.flow.revision}${r.flow.active ? ', active' : ''}.`
          : `Unchanged: ${r.flow.name} revision ${r.flow.revision} has this source${r.changed ? ' (now active)' : ''}.`,
        warnings: r.warnings as Issue[],
      };
    },
    onMutate: () => {
      setIssues(null);
      setOutcome(null);
      setFailure(null);
    },
    onSuccess: (r) => {
      setOutcome(r.text);
      setIssues({ errors: [], warnings: r.warnings });
      if (r.mode === 'upload') void qc.invalidateQueries({ queryKey: ['flows', tenant, team] });
    },
    onError: (e) => {
      if (e instanceof ApiError && e.code === 'invalid_flow') {
        setIssues({ errors: e.details as unknown as Issue[], warnings: [] });
        setFailure(`${e.details.length} error${e.details.length === 1 ? '' : 's'}: the flow was not stored.`);
      } else setFailure(errorText(e));
    },
  });
  // Once the outcome is on the page, bring it into view with the focus (a screen reader reads it from there).
  useEffect(() => {
    if (issues || failure || outcome) {
      results.current?.focus({ preventScroll: true });
      results.current?.scrollIntoView({ block: 'nearest' });
    }
  }, [issues, failure, outcome]);

  const submit = (mode: 'validate' | 'upload') => (e?: FormEvent) => {
    e?.preventDefault();
    if (!source.trim()) return setFailure('Choose a file or paste a flow first.');
    run.mutate(mode);
  };

  return (
    <section className="card-section upload" aria-labelledby={`${formId}-title`}>
      <h2 id={`${formId}-title`}>Upload or paste a flow</h2>
      <form onSubmit={submit('upload')}>
        <div className="row">
          <div>
            <label htmlFor={`${formId}-team`}>Team</label>
            <select id={`${formId}-team`} value={team} onChange={(e) => setTeam(e.target.value)}>
              {teams.map((t) => (
                <option key={t}>{t}</option>
              ))}
            </select>
          </div>
          <div>
            <label htmlFor={`${formId}-file`}>Flow file</label>
            <input
              id={`${formId}-file`}
              type="file"
              accept=".ygtc,.yaml,.yml,text/yaml"
              onChange={async (e) => {
                const file = e.target.files?.[0];
                if (!file) return;
                setFileName(file.name);
                setSource(await file.text());
              }}
            />
          </div>
          <div>
            <label htmlFor={`${formId}-name`}>File name</label>
            <input
              id={`${formId}-name`}
              value={fileName}
              placeholder="flow.ygtc"
              onChange={(e) => setFileName(e.target.value)}
            />
          </div>
        </div>
        <label htmlFor={`${formId}-source`}>Flow source</label>
        <textarea
          id={`${formId}-source`}
          className="code"
          rows={12}
          spellCheck={false}
          value={source}
          onChange={(e) => setSource(e.target.value)}
        />
        <label className="check">
          <input type="checkbox" checked={activate} onChange={(e) => setActivate(e.target.checked)} /> Make it
          the active revision
        </label>
        <div className="actions">
          <button type="button" className="secondary" onClick={submit('validate')} disabled={run.isPending}>
            Validate
          </button>
          <button type="submit" disabled={run.isPending}>
            Upload
          </button>
        </div>
      </form>
      <div ref={results} tabIndex={-1} className="results" aria-live="polite">
        {outcome && <p className="ok-text">{outcome}</p>}
        {failure && (
          <p role="alert" className="error">
            {failure}
          </p>
        )}
        {issues && <IssueList title="Errors" issues={issues.errors} kind="error" />}
        {issues && <IssueList title="Warnings" issues={issues.warnings} kind="warning" />}
      </div>
    </section>
  );
}

function IssueList({ title, issues, kind }: { title: string; issues: Issue[]; kind: 'error' | 'warning' }) {
  if (issues.length === 0) return null;
  return (
    <>
      <h3>{title}</h3>
      <ul className={`issues ${kind}`}>
        {issues.map((i, n) => (
          <li key={n}>
            <code className="where">
              {i.file}:{i.line}:{i.column}
            </code>{' '}
            {i.path && <code className="muted">{i.path}</code>} {i.message}
          </li>
        ))}
      </ul>
    </>
  );
}
