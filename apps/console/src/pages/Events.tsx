// Event endpoints (the tenant's own URLs that get signed event webhooks) and each one's deliveries with their
// attempts. Secrets are never shown: the API shows an endpoint's secret only once, when it is created.
import { useInfiniteQuery, useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { useEffect, useState } from 'react';
import { Link, useParams } from 'wouter';
import { api, errorText, isNotFound, unwrap } from '../api';
import { fmtDateTime, fmtRelative, fmtWhen } from '../format';
import { NotFound } from '../App';

export default function Events() {
  const { tenant, endpointId } = useParams<{ tenant: string; endpointId?: string }>();
  useEffect(() => {
    document.title = `Event endpoints · ${tenant} · gtc console`;
  }, [tenant]);
  const endpoints = useQuery({
    queryKey: ['event-endpoints', tenant],
    queryFn: async () =>
      unwrap(
        await api.GET('/v1/tenants/{tenant}/event-endpoints', {
          params: { path: { tenant }, query: { limit: 100 } },
        }),
      ),
  });
  const list = endpoints.data?.data ?? [];
  return (
    <div className="page events">
      <h1>Event endpoints</h1>
      {endpoints.isError && <p role="alert">{errorText(endpoints.error)}</p>}
      {endpoints.isSuccess && list.length === 0 && (
        <p className="muted">
          No endpoints. Add one with the API (POST …/event-endpoints) or `gtc events endpoints add`.
        </p>
      )}
      {list.length > 0 && (
        <div className="table-wrap">
          <table>
            <caption className="visually-hidden">Event endpoints</caption>
            <thead>
              <tr>
                <th scope="col">URL</th>
                <th scope="col">events</th>
                <th scope="col">team</th>
                <th scope="col">state</th>
              </tr>
            </thead>
            <tbody>
              {list.map((e) => (
                <tr key={e.id} className={e.id === endpointId ? 'selected' : undefined}>
                  <th scope="row">
                    <Link href={`/events/${e.id}`} aria-current={e.id === endpointId ? 'true' : undefined}>
                      {e.url}
                    </Link>
                    {e.description && <div className="muted small">{e.description}</div>}
                  </th>
                  <td>{e.events.join(', ')}</td>
                  <td>{e.team ?? 'all'}</td>
                  <td>
                    {!e.enabled ? (
                      <span className="badge bad">
                        disabled{e.disabled_reason ? `: ${e.disabled_reason}` : ''}
                      </span>
                    ) : e.failing_since ? (
                      <span className="badge warn">failing since {fmtWhen(e.failing_since)}</span>
                    ) : (
                      <span className="badge ok">enabled</span>
                    )}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
      {endpointId && <Deliveries key={endpointId} tenant={tenant} id={endpointId} />}
    </div>
  );
}

function Deliveries({ tenant, id }: { tenant: string; id: string }) {
  const qc = useQueryClient();
  const [state, setState] = useState<'' | 'pending' | 'delivered' | 'failed'>('');
  const deliveries = useInfiniteQuery({
    queryKey: ['deliveries', tenant, id, state],
    queryFn: async ({ pageParam }) =>
      unwrap(
        await api.GET('/v1/tenants/{tenant}/event-endpoints/{id}/deliveries', {
          params: {
            path: { tenant, id },
            query: { limit: 50, ...(state ? { state } : {}), ...(pageParam ? { cursor: pageParam } : {}) },
          },
        }),
      ),
    initialPageParam: undefined as string | undefined,
    getNextPageParam: (last) => last.next_cursor ?? undefined,
    refetchInterval: 15_000,
  });
  const retry = useMutation({
    mutationFn: async (eventId: string) =>
      unwrap(
        await api.POST('/v1/tenants/{tenant}/event-endpoints/{id}/deliveries/{eventId}/retry', {
          params: { path: { tenant, id, eventId } },
        }),
      ),
    onSuccess: () => void qc.invalidateQueries({ queryKey: ['deliveries', tenant, id] }),
  });
  if (deliveries.isError && isNotFound(deliveries.error)) return <NotFound what="This endpoint" />;
  const rows = deliveries.data?.pages.flatMap((p) => p.data) ?? [];
  return (
    <section className="card-section" aria-labelledby="deliveries-title">
      <h2 id="deliveries-title">Deliveries</h2>
      <label htmlFor="delivery-state">State</label>{' '}
      <select id="delivery-state" value={state} onChange={(e) => setState(e.target.value as typeof state)}>
        <option value="">all</option>
        <option value="pending">pending</option>
        <option value="delivered">delivered</option>
        <option value="failed">failed</option>
      </select>
      {deliveries.isError && <p role="alert">{errorText(deliveries.error)}</p>}
      {deliveries.isSuccess && rows.length === 0 && <p className="muted">No deliveries.</p>}
      {rows.length > 0 && (
        <div className="table-wrap">
          <table>
            <caption className="visually-hidden">Deliveries, latest first</caption>
            <thead>
              <tr>
                <th scope="col">event</th>
                <th scope="col">type</th>
                <th scope="col">state</th>
                <th scope="col">attempts</th>
                <th scope="col">last answer</th>
                <th scope="col">
                  <span className="visually-hidden">actions</span>
                </th>
              </tr>
            </thead>
            <tbody>
              {rows.map((d) => (
                <tr key={d.id}>
                  <th scope="row">
                    <time dateTime={d.created_at} title={fmtDateTime(d.created_at)}>
                      {fmtWhen(d.created_at)}
                    </time>
                    <div className="muted small mono">{d.id}</div>
                  </th>
                  <td>{d.type}</td>
                  <td>
                    <span
                      className={`badge ${d.state === 'delivered' ? 'ok' : d.state === 'failed' ? 'bad' : 'warn'}`}
                    >
                      {d.state}
                    </span>
                    {d.state === 'pending' && d.next_attempt_at && (
                      <div className="muted small">next {fmtRelative(d.next_attempt_at)}</div>
                    )}
                  </td>
                  <td>
                    <details>
                      <summary>{d.attempt_count}</summary>
                      <ol className="attempts">
                        {d.attempts.map((a, i) => (
                          <li key={i}>
                            {fmtDateTime(a.at)}: {a.status_code ?? 'no answer'} in {a.latency_ms} ms
                            {a.error ? ` (${a.error})` : ''}
                          </li>
                        ))}
                      </ol>
                    </details>
                  </td>
                  <td>
                    {d.last_status ?? ''} {d.last_error && <span className="msg-error">{d.last_error}</span>}
                  </td>
                  <td>
                    {d.state === 'failed' && (
                      <button
                        type="button"
                        className="secondary"
                        onClick={() => retry.mutate(d.id)}
                        disabled={retry.isPending}
                      >
                        Retry
                      </button>
                    )}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
      {retry.isError && <p role="alert">{errorText(retry.error)}</p>}
      {deliveries.hasNextPage && (
        <button
          type="button"
          className="secondary"
          onClick={() => void deliveries.fetchNextPage()}
          disabled={deliveries.isFetchingNextPage}
        >
          Older deliveries
        </button>
      )}
    </section>
  );
}
