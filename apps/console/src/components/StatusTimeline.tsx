// An outbound message's status timeline: queued → sent → delivered → read (or failed with Meta's error), each step
// with its time, the current state as text.
import type { OutboundMessage } from '../api';
import { fmtDateTime, fmtTime } from '../format';

const TICKS: Record<string, string> = {
  queued: '🕓',
  sending: '🕓',
  unknown: '?',
  sent: '✓',
  delivered: '✓✓',
  read: '✓✓',
  failed: '⚠',
};

export function StatusTimeline({ m }: { m: OutboundMessage }) {
  const steps: Array<[string, string | null]> = [
    ['queued', m.created_at],
    ['sent', m.sent_at],
    ['delivered', m.delivered_at],
    ['read', m.read_at],
  ];
  if (m.failed_at || m.state === 'failed') steps.push(['failed', m.failed_at]);
  const reached = steps.filter(([, at]) => at);
  return (
    <div className="status">
      <span className={`state state-${m.state}`} data-state={m.state} aria-label={`Status: ${m.state}`}>
        <span aria-hidden="true" className="tick">
          {TICKS[m.state] ?? ''}
        </span>{' '}
        {m.state}
      </span>
      <ol className="timeline" aria-label="Status timeline">
        {reached.map(([name, at]) => (
          <li key={name} className={`step-${name}`}>
            <span className="step-name">{name}</span>{' '}
            <time dateTime={at!} title={fmtDateTime(at)}>
              {fmtTime(at)}
            </time>
          </li>
        ))}
      </ol>
      {m.error && (m.state === 'failed' || m.error.message) && (
        <p className="msg-error" role={m.state === 'failed' ? 'note' : undefined}>
          {m.state === 'failed' ? 'Failed' : 'Last error'}
          {m.error.code !== null
            ? ` (${m.error.code}${m.error.class ? `, ${m.error.class}` : ''})`
            : m.error.class
              ? ` (${m.error.class})`
              : ''}
          : {m.error.message ?? 'no message'}
        </p>
      )}
      {m.state !== 'failed' && m.attempts > 1 && <span className="muted small"> {m.attempts} attempts</span>}
    </div>
  );
}
