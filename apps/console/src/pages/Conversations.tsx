// Conversations: contacts by latest activity with a search box, and one contact's conversation (virtualized, older
// pages loaded on scrolling up, live over server-sent events), its state (handoff, opt-out, 24 h window) and the
// operator's actions (send, release, opt out / in).
import {
  useInfiniteQuery,
  useMutation,
  useQuery,
  useQueryClient,
  type InfiniteData,
  type QueryClient,
  type UseInfiniteQueryResult,
} from '@tanstack/react-query';
import { useVirtualizer } from '@tanstack/react-virtual';
import { useCallback, useEffect, useLayoutEffect, useMemo, useRef, useState, type FormEvent } from 'react';
import { Link, useParams } from 'wouter';
import { api, errorText, isNotFound, unwrap, type Contact, type Message, type Schemas } from '../api';
import { ConversationPlace, InboundContent, OutboundContent } from '../components/MessageContent';
import { StatusTimeline } from '../components/StatusTimeline';
import { fmtDateTime, fmtRelative, fmtWhen } from '../format';
import { openLive, type LiveState } from '../live';
import { NotFound } from '../App';

type MessagePage = Schemas['MessagePage'];
type Conversation = InfiniteData<MessagePage, string | undefined>;

const PAGE = 50;

/** A contact's display name: profile name, else wa_id, else BSUID. */
export const contactName = (c: Pick<Contact, 'name' | 'wa_id' | 'user_id'>): string =>
  c.name ?? c.wa_id ?? c.user_id ?? 'unknown';

/** The conversation's order key: outbound by when it was written, inbound by when it arrived (as the API sorts). */
const at = (m: Message): string => (m.direction === 'outbound' ? m.created_at : m.received_at);

/**
 * Oldest first. Replies written together share a timestamp (one transaction), and the API breaks that tie by id:
 * the contact's sequence (`seq`, the order they are sent in) puts them back in order.
 */
function chronological(a: Message, b: Message): number {
  const x = at(a);
  const y = at(b);
  if (x !== y) return x < y ? -1 : 1;
  return a.direction === 'outbound' && b.direction === 'outbound' ? a.seq - b.seq : 0;
}

export function Conversations() {
  const { tenant, contactId } = useParams<{ tenant: string; contactId?: string }>();
  useEffect(() => {
    document.title = `Conversations · ${tenant} · gtc console`;
  }, [tenant]);
  return (
    <div className={`conversations ${contactId ? 'has-open' : ''}`}>
      <ContactList tenant={tenant} selected={contactId} />
      {contactId ? (
        <ConversationView key={contactId} tenant={tenant} contactId={contactId} />
      ) : (
        <section className="conversation empty" aria-label="Conversation">
          <p className="muted">Choose a contact to open the conversation.</p>
        </section>
      )}
    </div>
  );
}

function useDebounced<T>(value: T, ms: number): T {
  const [v, setV] = useState(value);
  useEffect(() => {
    const t = setTimeout(() => setV(value), ms);
    return () => clearTimeout(t);
  }, [value, ms]);
  return v;
}

function ContactList({ tenant, selected }: { tenant: string; selected?: string }) {
  const [search, setSearch] = useState('');
  const q = useDebounced(search.trim(), 250);
  const contacts = useInfiniteQuery({
    queryKey: ['contacts', tenant, q],
    queryFn: async ({ pageParam }) =>
      unwrap(
        await api.GET('/v1/tenants/{tenant}/contacts', {
          params: {
            path: { tenant },
            query: {
              sort: 'activity',
              limit: PAGE,
              ...(q ? { q } : {}),
              ...(pageParam ? { cursor: pageParam } : {}),
            },
          },
        }),
      ),
    initialPageParam: undefined as string | undefined,
    getNextPageParam: (last) => last.next_cursor ?? undefined,
    // One request for the whole list (never per row): new conversations come up while the console stays open.
    refetchInterval: 20_000,
  });
  const list = contacts.data?.pages.flatMap((p) => p.data) ?? [];
  return (
    <section className="contacts" aria-labelledby="contacts-title">
      <h1 id="contacts-title" className="visually-hidden">
        Contacts
      </h1>
      <form role="search" className="search" onSubmit={(e) => e.preventDefault()}>
        <label htmlFor="contact-search">Search contacts</label>
        <input
          id="contact-search"
          type="search"
          placeholder="Name, number or BSUID"
          autoComplete="off"
          spellCheck={false}
          value={search}
          onChange={(e) => setSearch(e.target.value)}
        />
      </form>
      {contacts.isError && <p role="alert">{errorText(contacts.error)}</p>}
      <ul className="contact-list" aria-label="Contacts by latest activity" aria-busy={contacts.isFetching}>
        {list.map((c) => (
          <li key={c.id}>
            <Link
              href={`/conversations/${c.id}`}
              aria-current={c.id === selected ? 'true' : undefined}
              className="contact"
            >
              <span className="contact-name">{contactName(c)}</span>
              <span className="contact-meta muted">
                {[
                  c.name && c.wa_id ? `+${c.wa_id}` : null,
                  c.user_id && (c.name || c.wa_id) ? c.user_id : null,
                  c.team,
                ]
                  .filter(Boolean)
                  .join(' · ')}
              </span>
              <span className="contact-badges">
                {c.session?.status === 'handoff' && <span className="badge warn">handoff</span>}
                {c.opted_out && <span className="badge bad">opted out</span>}
                {c.window_open && <span className="badge ok">window open</span>}
              </span>
              <time className="contact-when muted" dateTime={c.last_inbound_at ?? c.updated_at}>
                {fmtWhen(c.last_inbound_at ?? c.updated_at)}
              </time>
            </Link>
          </li>
        ))}
      </ul>
      {contacts.isSuccess && list.length === 0 && (
        <p className="muted">{q ? `No contact matches “${q}”.` : 'No contacts yet.'}</p>
      )}
      {contacts.hasNextPage && (
        <button
          type="button"
          className="secondary"
          onClick={() => void contacts.fetchNextPage()}
          disabled={contacts.isFetchingNextPage}
        >
          More contacts
        </button>
      )}
    </section>
  );
}

/** Puts a message into the cached conversation: replaces it by id, or adds a new one at its place among the newest. */
function upsertMessage(qc: QueryClient, key: readonly unknown[], m: Message): void {
  qc.setQueryData<Conversation>(key, (data) => {
    if (!data) return data;
    let found = false;
    const pages = data.pages.map((p) => {
      const i = p.data.findIndex((x) => x.id === m.id);
      if (i < 0) return p;
      found = true;
      // A late event must not undo a newer one (a replayed `sent` after `read`).
      const old = p.data[i];
      if (old.direction === 'outbound' && m.direction === 'outbound' && old.updated_at > m.updated_at)
        return p;
      const next = p.data.slice();
      next[i] = m;
      return { ...p, data: next };
    });
    if (found) return { ...data, pages };
    const first = pages[0];
    const oldest = first.data[first.data.length - 1];
    // Older than everything of the first page while more pages exist: it will come with its page.
    if (oldest && at(m) < at(oldest) && pages.length > 1) return data;
    const merged = [m, ...first.data].sort((a, b) => chronological(b, a));
    return { ...data, pages: [{ ...first, data: merged }, ...pages.slice(1)] };
  });
}

function ConversationView({ tenant, contactId }: { tenant: string; contactId: string }) {
  const qc = useQueryClient();
  const contactKey = useMemo(() => ['contact', tenant, contactId] as const, [tenant, contactId]);
  const convKey = useMemo(() => ['conversation', tenant, contactId] as const, [tenant, contactId]);
  const contact = useQuery({
    queryKey: contactKey,
    queryFn: async () =>
      unwrap(
        await api.GET('/v1/tenants/{tenant}/contacts/{id}', { params: { path: { tenant, id: contactId } } }),
      ),
  });
  const conv = useInfiniteQuery({
    queryKey: convKey,
    queryFn: async ({ pageParam }) =>
      unwrap(
        await api.GET('/v1/tenants/{tenant}/contacts/{id}/conversation', {
          params: {
            path: { tenant, id: contactId },
            query: { limit: PAGE, ...(pageParam ? { cursor: pageParam } : {}) },
          },
        }),
      ),
    initialPageParam: undefined as string | undefined,
    getNextPageParam: (last) => last.next_cursor ?? undefined,
    // The live stream keeps it current; refetching every loaded page would only cost.
    staleTime: Infinity,
    refetchOnWindowFocus: false,
  });

  const [live, setLive] = useState<LiveState>('connecting');
  const [announce, setAnnounce] = useState('');
  const name = useRef('the contact');
  if (contact.data) name.current = contactName(contact.data);
  useEffect(() => {
    const refreshNewest = async () => {
      const r = await api.GET('/v1/tenants/{tenant}/contacts/{id}/conversation', {
        params: { path: { tenant, id: contactId }, query: { limit: PAGE } },
      });
      if (r.data) for (const m of r.data.data.slice().reverse()) upsertMessage(qc, convKey, m);
    };
    return openLive(
      `/v1/tenants/${encodeURIComponent(tenant)}/contacts/${encodeURIComponent(contactId)}/live`,
      {
        onMessage(m) {
          const msg = m as Message;
          const data = qc.getQueryData<Conversation>(convKey);
          const isNew = !!data && !data.pages.some((p) => p.data.some((x) => x.id === msg.id));
          upsertMessage(qc, convKey, msg);
          if (isNew && msg.direction === 'inbound') setAnnounce(`New message from ${name.current}`);
        },
        onContact(c) {
          qc.setQueryData(contactKey, c as Contact);
          void qc.invalidateQueries({ queryKey: ['contacts', tenant] });
        },
        onOpen(reconnected) {
          // Whatever changed while the stream was down comes with the newest page.
          if (reconnected) void refreshNewest();
        },
        onState: setLive,
      },
    );
  }, [tenant, contactId, qc, convKey, contactKey]);

  if (contact.isError && isNotFound(contact.error)) return <NotFound what="This contact" />;
  const c = contact.data;
  return (
    <section className="conversation" aria-labelledby="conv-title">
      <header className="conv-header">
        <Link href="/conversations" className="back">
          ← Contacts
        </Link>
        <div className="conv-who">
          <h1 id="conv-title">{c ? contactName(c) : 'Conversation'}</h1>
          {c && (
            <p className="muted small">
              {c.wa_id && <span>+{c.wa_id}</span>}
              {c.user_id && <span> · BSUID {c.user_id}</span>}
              {c.team && <span> · team {c.team}</span>}
            </p>
          )}
        </div>
        <LiveBadge state={live} />
      </header>
      {c && <ContactState tenant={tenant} contact={c} />}
      {conv.isError ? (
        <p role="alert">{errorText(conv.error)}</p>
      ) : (
        <ConversationPlace.Provider value={{ tenant, team: c?.team ?? null }}>
          <MessageList conv={conv} tenant={tenant} />
        </ConversationPlace.Provider>
      )}
      <div className="visually-hidden" role="status" aria-live="polite">
        {announce}
      </div>
      {c && <Composer tenant={tenant} contact={c} onSent={(m) => upsertMessage(qc, convKey, m)} />}
    </section>
  );
}

function LiveBadge({ state }: { state: LiveState }) {
  const text: Record<LiveState, string> = {
    connecting: 'connecting…',
    live: 'live',
    retrying: 'reconnecting…',
    too_many_streams: 'live updates paused (too many open)',
    closed: 'closed',
  };
  return (
    <span className={`badge live-${state}`} title="Live updates (server-sent events)">
      {text[state]}
    </span>
  );
}

/** Handoff, opt-out and the 24-hour window, with the operator's actions on them. */
function ContactState({ tenant, contact }: { tenant: string; contact: Contact }) {
  const qc = useQueryClient();
  const act = useMutation({
    mutationFn: async (what: 'release' | 'opt-out' | 'opt-in') => {
      const path = { params: { path: { tenant, id: contact.id } } };
      if (what === 'release')
        return unwrap(await api.POST('/v1/tenants/{tenant}/contacts/{id}/release', path));
      if (what === 'opt-out')
        return unwrap(await api.POST('/v1/tenants/{tenant}/contacts/{id}/opt-out', path));
      return unwrap(await api.POST('/v1/tenants/{tenant}/contacts/{id}/opt-in', path));
    },
    onSuccess: (c) => {
      qc.setQueryData(['contact', tenant, contact.id], c);
      void qc.invalidateQueries({ queryKey: ['contacts', tenant] });
    },
  });
  const handoff = contact.session?.status === 'handoff';
  return (
    <div className="contact-state" aria-label="Contact state">
      <p>
        <span className={`badge ${contact.window_open ? 'ok' : ''}`}>
          {contact.window_open
            ? `24 h window open until ${fmtWhen(contact.window_expires_at)}`
            : '24 h window closed: templates only'}
        </span>{' '}
        {handoff ? (
          <span className="badge warn">handoff: an operator has the conversation</span>
        ) : contact.session ? (
          <span className="badge">flow: {contact.session.status}</span>
        ) : null}{' '}
        {contact.opted_out && (
          <span className="badge bad">
            opted out {contact.opted_out_at ? fmtRelative(contact.opted_out_at) : ''}
          </span>
        )}
        {contact.session?.last_error && (
          <span className="badge bad">flow error: {contact.session.last_error}</span>
        )}
      </p>
      <div className="actions">
        {handoff && (
          <button type="button" onClick={() => act.mutate('release')} disabled={act.isPending}>
            Release handoff
          </button>
        )}
        {contact.opted_out ? (
          <button
            type="button"
            className="secondary"
            onClick={() => act.mutate('opt-in')}
            disabled={act.isPending}
          >
            Opt in
          </button>
        ) : (
          <button
            type="button"
            className="secondary"
            onClick={() => act.mutate('opt-out')}
            disabled={act.isPending}
          >
            Opt out
          </button>
        )}
      </div>
      {act.isError && <p role="alert">{errorText(act.error)}</p>}
    </div>
  );
}

/** The conversation, oldest at the top, virtualized: only the rows in view (and a few around) are in the page. */
function MessageList({
  conv,
  tenant,
}: {
  conv: UseInfiniteQueryResult<InfiniteData<MessagePage>, Error>;
  tenant: string;
}) {
  const items = useMemo(
    () =>
      conv.data
        ? conv.data.pages
            .flatMap((p) => p.data)
            .reverse()
            .sort(chronological)
        : [],
    [conv.data],
  );
  const scroller = useRef<HTMLDivElement>(null);
  const v = useVirtualizer({
    count: items.length,
    getScrollElement: () => scroller.current,
    estimateSize: () => 88,
    getItemKey: (i) => items[i].id,
    overscan: 6,
    paddingStart: 40,
    paddingEnd: 8,
  });

  // Where the list was before this render: the oldest item (to keep the view still when older ones are prepended)
  // and whether the reader was at the bottom (to follow new messages).
  const prev = useRef<{ oldest?: string; newest?: string; atBottom: boolean }>({ atBottom: true });
  const [ready, setReady] = useState(false);
  useLayoutEffect(() => {
    const el = scroller.current;
    if (!el || items.length === 0) return;
    const p = prev.current;
    const oldest = items[0].id;
    const newest = items[items.length - 1].id;
    if (!ready) {
      v.scrollToIndex(items.length - 1, { align: 'end' });
      setReady(true);
    } else if (p.oldest && p.oldest !== oldest) {
      const k = items.findIndex((m) => m.id === p.oldest);
      if (k > 0) {
        v.getTotalSize();
        const added = v.measurementsCache[k].start - v.measurementsCache[0].start;
        el.scrollTop += added;
      }
    } else if (p.newest !== newest && p.atBottom) {
      v.scrollToIndex(items.length - 1, { align: 'end' });
    }
    prev.current = { oldest, newest, atBottom: p.atBottom };
  }, [items, ready, v]);

  const onScroll = useCallback(() => {
    const el = scroller.current;
    if (!el) return;
    prev.current.atBottom = el.scrollHeight - el.scrollTop - el.clientHeight < 120;
  }, []);

  const virtual = v.getVirtualItems();
  const firstIndex = virtual[0]?.index ?? 0;
  const { hasNextPage, isFetchingNextPage, fetchNextPage } = conv;
  useEffect(() => {
    // Near the top of what is loaded (by the rows in view and by the scroll position itself, which the first scroll
    // to the bottom has already moved when this runs): the older page.
    const nearTop = (scroller.current?.scrollTop ?? 0) < 800;
    if (ready && nearTop && firstIndex < 4 && hasNextPage && !isFetchingNextPage) void fetchNextPage();
  }, [ready, firstIndex, hasNextPage, isFetchingNextPage, fetchNextPage]);

  if (conv.isPending) return <p className="muted messages-status">Loading messages…</p>;
  return (
    <div
      ref={scroller}
      className="messages"
      tabIndex={0}
      aria-label="Messages"
      data-loaded={items.length}
      onScroll={onScroll}
    >
      {items.length === 0 && <p className="muted messages-status">No messages yet.</p>}
      <div className="messages-inner" style={{ height: v.getTotalSize() }}>
        {/* In the list's top padding, so that neither line moves the messages when it comes or goes. */}
        {isFetchingNextPage && <p className="muted messages-status older">Loading older messages…</p>}
        {!hasNextPage && items.length > 0 && (
          <p className="muted messages-status older start">Start of the conversation</p>
        )}
        {virtual.map((row) => {
          const m = items[row.index];
          return (
            <div
              key={row.key}
              data-index={row.index}
              ref={v.measureElement}
              className="msg-row"
              style={{ transform: `translateY(${row.start}px)` }}
            >
              <MessageBubble m={m} tenant={tenant} />
            </div>
          );
        })}
      </div>
    </div>
  );
}

function MessageBubble({ m, tenant }: { m: Message; tenant: string }) {
  if (m.direction === 'outbound') {
    return (
      <article
        className={`bubble out ${m.state === 'failed' ? 'failed' : ''}`}
        data-message-id={m.id}
        data-state={m.state}
        aria-label="Sent message"
      >
        <OutboundContent m={m} />
        <footer>
          <time dateTime={m.created_at} title={fmtDateTime(m.created_at)} className="muted small">
            {fmtWhen(m.created_at)}
          </time>
          {m.business_initiated && <span className="muted small"> · sent by the API</span>}
          <StatusTimeline m={m} />
        </footer>
      </article>
    );
  }
  return (
    <article className="bubble in" data-message-id={m.id} aria-label="Received message">
      <InboundContent m={m} tenant={tenant} />
      <footer>
        <time dateTime={m.received_at} title={fmtDateTime(m.received_at)} className="muted small">
          {fmtWhen(m.sent_at ?? m.received_at)}
        </time>
        {m.state === 'failed' && (
          <span className="badge bad"> flow failed{m.error ? `: ${m.error}` : ''}</span>
        )}
      </footer>
    </article>
  );
}

/** A free-form text to the contact, as the API takes it (`content: { message }`); the API enforces the rules. */
function Composer({
  tenant,
  contact,
  onSent,
}: {
  tenant: string;
  contact: Contact;
  onSent: (m: Message) => void;
}) {
  const [text, setText] = useState('');
  const [note, setNote] = useState<string | null>(null);
  const send = useMutation({
    mutationFn: async (message: string) =>
      unwrap(
        await api.POST('/v1/tenants/{tenant}/messages', {
          params: { path: { tenant } },
          body: { team: contact.team!, to: contact.wa_id!, content: { message } },
          headers: { 'idempotency-key': crypto.randomUUID() },
        }),
      ),
    onSuccess: (r) => {
      setText('');
      setNote(r.warning ?? null);
      onSent(r.message as Message);
    },
  });
  const blocked = !contact.team
    ? 'This contact has no team.'
    : !contact.wa_id
      ? 'This contact has no phone number (BSUID only): the API sends by number.'
      : contact.opted_out
        ? 'The contact opted out: opt them in to write.'
        : null;
  const submit = (e: FormEvent) => {
    e.preventDefault();
    if (text.trim() && !blocked) send.mutate(text);
  };
  return (
    <form className="composer" onSubmit={submit}>
      <label htmlFor="composer-text" className="visually-hidden">
        Message
      </label>
      <textarea
        id="composer-text"
        rows={2}
        placeholder={
          blocked ??
          (contact.window_open ? 'Write a message' : 'The 24 h window is closed: Meta accepts only templates')
        }
        value={text}
        disabled={!!blocked}
        onChange={(e) => setText(e.target.value)}
        onKeyDown={(e) => {
          if (e.key === 'Enter' && (e.ctrlKey || e.metaKey)) submit(e);
        }}
        aria-describedby="composer-help"
      />
      <button type="submit" disabled={!!blocked || send.isPending || !text.trim()}>
        Send
      </button>
      <p id="composer-help" className="muted small composer-help">
        {blocked ?? 'Ctrl+Enter sends.'}
      </p>
      {send.isError && (
        <p role="alert" className="error">
          {errorText(send.error)}
        </p>
      )}
      {note && (
        <p role="status" className="warn">
          {note}
        </p>
      )}
    </form>
  );
}
