// The live stream of a conversation: server-sent events read from `fetch` (EventSource cannot send the
// Authorization header, and the key must never be put in a URL), parsed with eventsource-parser, reconnected with
// backoff when it drops. One stream per open conversation; no polling.
import { createParser } from 'eventsource-parser';
import { session, unauthorized } from './api';

/** What the stream reports to the page. */
export interface LiveHandlers {
  /** `event: message`: a message of the conversation was created or changed. */
  onMessage(message: unknown): void;
  /** `event: contact`: the contact changed (opt-out, handoff, window). */
  onContact(contact: unknown): void;
  /** The stream (re)opened; `reconnected` is false the first time. */
  onOpen(reconnected: boolean): void;
  /** The connection state, for the page to show. */
  onState(state: LiveState): void;
}

export type LiveState = 'connecting' | 'live' | 'retrying' | 'too_many_streams' | 'closed';

const MIN_DELAY = 1_000;
const MAX_DELAY = 30_000;

/** Opens the stream at `path` (same origin) and keeps it open until the returned function is called. */
export function openLive(path: string, handlers: LiveHandlers): () => void {
  let stopped = false;
  let controller: AbortController | undefined;
  let timer: ReturnType<typeof setTimeout> | undefined;
  let delay = MIN_DELAY;
  let opened = false;

  const retry = (state: LiveState, wait: number) => {
    if (stopped) return;
    handlers.onState(state);
    timer = setTimeout(connect, wait + Math.random() * 250);
    delay = Math.min(delay * 2, MAX_DELAY);
  };

  async function connect() {
    if (stopped) return;
    const key = session.key();
    if (!key) return unauthorized();
    controller = new AbortController();
    handlers.onState('connecting');
    let res: Response;
    try {
      res = await fetch(path, {
        headers: { authorization: `Bearer ${key}`, accept: 'text/event-stream' },
        signal: controller.signal,
        cache: 'no-store',
      });
    } catch {
      return retry('retrying', delay);
    }
    if (res.status === 401) return unauthorized();
    if (res.status === 429)
      return retry('too_many_streams', Math.max(delay, Number(res.headers.get('retry-after')) * 1000 || 0));
    // Not found, forbidden, invalid: asking again changes nothing.
    if (res.status >= 400 && res.status < 500 && res.status !== 408) {
      stopped = true;
      return handlers.onState('closed');
    }
    if (!res.ok || !res.body) return retry('retrying', delay);

    handlers.onOpen(opened);
    opened = true;
    delay = MIN_DELAY;
    handlers.onState('live');
    const parser = createParser({
      onEvent(ev) {
        let data: unknown;
        try {
          data = JSON.parse(ev.data);
        } catch {
          return;
        }
        if (ev.event === 'message') handlers.onMessage(data);
        else if (ev.event === 'contact') handlers.onContact(data);
      },
      onRetry(ms) {
        if (ms > 0) delay = Math.min(ms, MAX_DELAY);
      },
    });
    const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
    try {
      for (;;) {
        const { done, value } = await reader.read();
        if (done) break;
        parser.feed(value);
      }
    } catch {
      /* dropped or aborted */
    }
    if (!stopped) retry('retrying', delay);
  }

  void connect();
  return () => {
    stopped = true;
    if (timer) clearTimeout(timer);
    controller?.abort();
    handlers.onState('closed');
  };
}
