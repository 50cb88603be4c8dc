// Numbers: each team's WhatsApp number, paused or sending (and why), tier use over the moving 24 h, throughput per
// minute against its limit, queues, the failed messages with Meta's reason, and resume.
import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { useEffect } from 'react';
import { Link, useParams } from 'wouter';
import { api, errorText, unwrap, type Schemas } from '../api';
import { fmtDateTime, fmtNumber, fmtRelative, fmtTime, fmtWhen } from '../format';

type Team = Schemas['Team'];

/** GET …/teams/{team}/provider/usage */
type ProviderUsage = Schemas['ProviderUsage'];

export default function Numbers() {
  const { tenant } = useParams<{ tenant: string }>();
  useEffect(() => {
    document.title = `Numbers · ${tenant} · gtc console`;
  }, [tenant]);
  const teams = useQuery({
    queryKey: ['teams', tenant],
    queryFn: async () =>
      unwrap(
        await api.GET('/v1/tenants/{tenant}/teams', { params: { path: { tenant }, query: { limit: 200 } } }),
      ),
  });
  const stats = useQuery({
    queryKey: ['stats', tenant],
    queryFn: async () =>
      unwrap(await api.GET('/v1/tenants/{tenant}/stats', { params: { path: { tenant } } })),
    refetchInterval: 15_000,
  });
  const list = teams.data?.data ?? [];
  return (
    <div className="page numbers">
      <h1>Numbers</h1>
      {teams.isError && <p role="alert">{errorText(teams.error)}</p>}
      {teams.isSuccess && list.length === 0 && <p className="muted">No teams yet.</p>}
      {list.map((t) =>
        t.has_provider ? (
          <NumberCard key={t.id} tenant={tenant} team={t} />
        ) : (
          <NoNumber key={t.id} team={t} />
        ),
      )}
      <section aria-labelledby="queues-title" className="card-section">
        <h2 id="queues-title">Queues</h2>
        <p className="muted small">
          Shared by every tenant of this deployment (the queues have no per-tenant count).
        </p>
        {stats.isError && <p role="alert">{errorText(stats.error)}</p>}
        {stats.data && (
          <div className="table-wrap">
            <table>
              <caption className="visually-hidden">Jobs per queue</caption>
              <thead>
                <tr>
                  <th scope="col">queue</th>
                  <th scope="col">waiting</th>
                  <th scope="col">active</th>
                  <th scope="col">delayed</th>
                  <th scope="col">failed</th>
                </tr>
              </thead>
              <tbody>
                {Object.entries(stats.data.queues).map(([name, q]) => (
                  <tr key={name}>
                    <th scope="row">{name}</th>
                    {q ? (
                      <>
                        <td>{fmtNumber((q.waiting ?? 0) + (q.prioritized ?? 0))}</td>
                        <td>{fmtNumber(q.active)}</td>
                        <td>{fmtNumber(q.delayed)}</td>
                        <td>{fmtNumber(q.failed)}</td>
                      </>
                    ) : (
                      <td colSpan={4} className="muted">
                        Redis did not answer
                      </td>
                    )}
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        )}
      </section>
    </div>
  );
}

function NoNumber({ team }: { team: Team }) {
  return (
    <section className="card-section" aria-label={`Team ${team.name}`}>
      <h2>
        {team.name} <span className="muted">({team.slug})</span>
      </h2>
      <p className="muted">No WhatsApp number connected.</p>
    </section>
  );
}

function NumberCard({ tenant, team }: { tenant: string; team: Team }) {
  const qc = useQueryClient();
  const path = { params: { path: { tenant, team: team.slug } } };
  const provider = useQuery({
    queryKey: ['provider', tenant, team.slug],
    queryFn: async () => unwrap(await api.GET('/v1/tenants/{tenant}/teams/{team}/provider', path)),
    refetchInterval: 15_000,
  });
  const usage = useQuery({
    queryKey: ['usage', tenant, team.slug],
    queryFn: async () => unwrap(await api.GET('/v1/tenants/{tenant}/teams/{team}/provider/usage', path)),
    refetchInterval: 10_000,
  });
  const failed = useQuery({
    queryKey: ['failed', tenant, team.slug],
    queryFn: async () =>
      unwrap(
        await api.GET('/v1/tenants/{tenant}/messages', {
          params: {
            path: { tenant },
            query: { direction: 'outbound', state: 'failed', team: team.slug, limit: 20 },
          },
        }),
      ),
    refetchInterval: 30_000,
  });
  const resume = useMutation({
    mutationFn: async () => unwrap(await api.POST('/v1/tenants/{tenant}/teams/{team}/provider/resume', path)),
    onSuccess: (p) => {
      qc.setQueryData(['provider', tenant, team.slug], p);
      void qc.invalidateQueries({ queryKey: ['usage', tenant, team.slug] });
      void qc.invalidateQueries({ queryKey: ['stats', tenant] });
    },
  });
  const p = provider.data;
  const u = usage.data;
  const titleId = `team-${team.slug}`;
  return (
    <section className="card-section number" aria-labelledby={titleId}>
      <h2 id={titleId}>
        {team.name} <span className="muted">({team.slug})</span> · number {team.phone_number_id}
      </h2>
      {provider.isError && <p role="alert">{errorText(provider.error)}</p>}
      {p && (
        <div className={`number-state ${p.paused ? 'paused' : ''}`}>
          {p.paused ? (
            <>
              <p>
                <span className="badge bad">paused</span> since {fmtDateTime(p.paused_at)} (
                {fmtRelative(p.paused_at)})
              </p>
              <p className="reason">
                Reason: {p.paused_reason ?? 'not given'}
                {p.paused_code !== null &&
                  ` (Meta error ${p.paused_code}${p.paused_class ? `, ${p.paused_class}` : ''})`}
              </p>
              <p className="muted small">
                {p.paused_class === 'auth'
                  ? 'A new access token resumes it, or resume once the credentials work again.'
                  : 'Messages stay queued until it is resumed.'}
              </p>
              <button type="button" onClick={() => resume.mutate()} disabled={resume.isPending}>
                Resume sending
              </button>
              {resume.isError && <p role="alert">{errorText(resume.error)}</p>}
            </>
          ) : (
            <p>
              <span className="badge ok">{p.enabled ? 'sending' : 'disabled'}</span> tier {p.tier} ·{' '}
              {fmtNumber(p.throughput_mps)} msg/s · ordering {p.ordering}
            </p>
          )}
        </div>
      )}
      {usage.isError && <p role="alert">Usage: {errorText(usage.error)}</p>}
      {u && (
        <div className="usage">
          <div className="tier">
            <label htmlFor={`${titleId}-tier`}>
              Tier {u.tier}: {fmtNumber(u.tier_used)}{' '}
              {u.tier_limit === null ? '(unlimited)' : `of ${fmtNumber(u.tier_limit)}`} in the last{' '}
              {Math.round(u.tier_window_seconds / 3600)} h
            </label>
            {u.tier_limit !== null && (
              <meter
                id={`${titleId}-tier`}
                min={0}
                max={u.tier_limit}
                value={u.tier_used}
                high={u.tier_limit * 0.8}
                optimum={0}
              />
            )}
          </div>
          <ThroughputChart usage={u} id={`${titleId}-chart`} />
          <dl className="counts">
            <div>
              <dt>queued</dt>
              <dd>{fmtNumber(u.queued)}</dd>
            </div>
            <div>
              <dt>sending</dt>
              <dd>{fmtNumber(u.sending)}</dd>
            </div>
            <div>
              <dt>failed (24 h)</dt>
              <dd>{fmtNumber(u.failed_24h)}</dd>
            </div>
          </dl>
        </div>
      )}
      <details className="failed" open={(failed.data?.data.length ?? 0) > 0}>
        <summary>
          Failed messages{' '}
          {failed.data ? `(${failed.data.data.length}${failed.data.next_cursor ? '+' : ''})` : ''}
        </summary>
        {failed.isError && <p role="alert">{errorText(failed.error)}</p>}
        {failed.data?.data.length === 0 && <p className="muted">None.</p>}
        <ul>
          {failed.data?.data.map((m) =>
            m.direction === 'outbound' ? (
              <li key={m.id}>
                <time dateTime={m.failed_at ?? m.updated_at}>{fmtWhen(m.failed_at ?? m.updated_at)}</time> ·{' '}
                {m.type} ·{' '}
                <span className="msg-error">
                  {m.error?.code !== null && m.error?.code !== undefined ? `${m.error.code} ` : ''}
                  {m.error?.class ? `(${m.error.class}) ` : ''}
                  {m.error?.message ?? 'no reason given'}
                </span>{' '}
                <Link href={`/conversations/${m.contact_id}`}>open conversation</Link>
              </li>
            ) : null,
          )}
        </ul>
      </details>
    </section>
  );
}

/** Sent and failed per minute over the last minutes, against the number's throughput limit (msg/s × 60). */
function ThroughputChart({ usage, id }: { usage: ProviderUsage; id: string }) {
  const rows = usage.per_minute;
  const limit = usage.throughput_mps * 60;
  const peak = Math.max(1, ...rows.map((r) => r.sent + r.failed));
  // The limit is drawn when it is within sight of the traffic; otherwise it is said in the caption.
  const top = limit <= peak * 4 ? Math.max(peak, limit) * 1.1 : peak * 1.2;
  const W = 300;
  const H = 80;
  const bw = W / Math.max(rows.length, 1);
  const y = (n: number) => H - (n / top) * H;
  const total = rows.reduce((s, r) => s + r.sent, 0);
  const totalFailed = rows.reduce((s, r) => s + r.failed, 0);
  const summary = `${fmtNumber(total)} sent and ${fmtNumber(totalFailed)} failed in the last ${rows.length} minutes; busiest minute ${fmtNumber(peak)}; limit ${fmtNumber(usage.throughput_mps)} msg/s (${fmtNumber(limit)} per minute).`;
  return (
    <figure className="chart" aria-labelledby={`${id}-cap`}>
      <svg viewBox={`0 0 ${W} ${H + 14}`} role="img" aria-label={summary} preserveAspectRatio="none">
        {rows.map((r, i) => (
          <g key={r.minute}>
            <rect x={i * bw + 1} y={y(r.sent)} width={bw - 2} height={H - y(r.sent)} className="bar-sent">
              <title>{`${fmtTime(r.minute)}: ${r.sent} sent, ${r.failed} failed`}</title>
            </rect>
            {r.failed > 0 && (
              <rect
                x={i * bw + 1}
                y={y(r.sent + r.failed)}
                width={bw - 2}
                height={H - y(r.failed)}
                className="bar-failed"
              />
            )}
          </g>
        ))}
        {limit <= top && <line x1={0} x2={W} y1={y(limit)} y2={y(limit)} className="limit-line" />}
        <line x1={0} x2={W} y1={H} y2={H} className="axis" />
        {rows.length > 0 && (
          <>
            <text x={0} y={H + 12} className="tick-label">
              {fmtTime(rows[0].minute).slice(0, 5)}
            </text>
            <text x={W} y={H + 12} className="tick-label" textAnchor="end">
              {fmtTime(rows[rows.length - 1].minute).slice(0, 5)}
            </text>
          </>
        )}
      </svg>
      <figcaption id={`${id}-cap`} className="small">
        Sent per minute (failed in red), last {rows.length} minutes. {summary}
      </figcaption>
    </figure>
  );
}
