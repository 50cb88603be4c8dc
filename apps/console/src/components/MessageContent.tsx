// A message drawn as the user sees it on WhatsApp. Outbound: the Graph API body we sent (text, interactive buttons
// or list, media, location, template, reaction, contacts). Inbound: the normalized message ingress stored
// (libs/whatsapp InboundMessageEvent). Anything unknown is shown by its type, never as raw JSON of secrets
// (bodies hold no secret: tokens live in providers, which the console never renders).
import { useQuery } from '@tanstack/react-query';
import { createContext, useContext, useEffect, useState, type ReactNode } from 'react';
import { api, session, type InboundMessage, type OutboundMessage } from '../api';

/** Where the conversation is: templates are looked up among its team's synced ones. */
export const ConversationPlace = createContext<{ tenant: string; team: string | null }>({
  tenant: '',
  team: null,
});

type Obj = Record<string, unknown>;
const obj = (v: unknown): Obj => (v && typeof v === 'object' && !Array.isArray(v) ? (v as Obj) : {});
const str = (v: unknown): string | undefined =>
  typeof v === 'string' ? v : typeof v === 'number' ? String(v) : undefined;
const arr = (v: unknown): unknown[] => (Array.isArray(v) ? v : []);

/** Text with WhatsApp's *bold*, _italic_, ~strike~ and ```mono``` kept as written, line breaks kept. */
function Text({ children }: { children: string | undefined }) {
  if (!children) return null;
  return <p className="text">{children}</p>;
}

function Location({ l }: { l: Obj }) {
  const lat = Number(l.latitude);
  const lon = Number(l.longitude);
  const ok = Number.isFinite(lat) && Number.isFinite(lon);
  return (
    <div className="card location">
      <span className="media-kind">location</span>{' '}
      <span>
        {str(l.name) && <strong>{str(l.name)} </strong>}
        {str(l.address) && <span>{str(l.address)} </span>}
        {ok && (
          <a
            href={`https://www.openstreetmap.org/?mlat=${lat}&mlon=${lon}#map=16/${lat}/${lon}`}
            target="_blank"
            rel="noopener noreferrer"
          >
            {lat.toFixed(5)}, {lon.toFixed(5)}
          </a>
        )}
      </span>
    </div>
  );
}

function Buttons({ titles }: { titles: string[] }) {
  return (
    <ul className="wa-buttons" aria-label="Buttons">
      {titles.map((t, i) => (
        <li key={i}>{t}</li>
      ))}
    </ul>
  );
}

/** A media file sent by us: by link (shown as a link: the console loads nothing from outside) or by uploaded id. */
function OutboundMedia({ kind, m }: { kind: string; m: Obj }) {
  const link = str(m.link);
  const name = str(m.filename) ?? (link ? link.split('/').pop() : undefined) ?? `${kind} ${str(m.id) ?? ''}`;
  return (
    <div className="card media">
      <span className="media-kind">{kind}</span>{' '}
      {link ? (
        <a href={link} target="_blank" rel="noopener noreferrer">
          {name}
        </a>
      ) : (
        <span>{name}</span>
      )}
      <Text>{str(m.caption)}</Text>
    </div>
  );
}

/** Inbound media, fetched from the API with the key (`GET …/messages/{id}/media`) into a blob URL. */
function InboundMedia({ tenant, id, kind, media }: { tenant: string; id: string; kind: string; media: Obj }) {
  const [url, setUrl] = useState<string | null>(null);
  const [failed, setFailed] = useState<string | null>(null);
  const [asked, setAsked] = useState(kind === 'image' || kind === 'sticker');
  useEffect(() => {
    if (!asked || !session.key()) return;
    let live = true;
    let made: string | null = null;
    void api
      .GET('/v1/tenants/{tenant}/messages/{id}/media', { params: { path: { tenant, id } }, parseAs: 'blob' })
      .then((r) => {
        if (!live) return;
        if (r.data instanceof Blob) setUrl((made = URL.createObjectURL(r.data)));
        else setFailed(`media not available (${r.response.status})`);
      })
      .catch(() => live && setFailed('media not available'));
    return () => {
      live = false;
      if (made) URL.revokeObjectURL(made);
    };
  }, [asked, tenant, id]);

  const caption = str(media.caption);
  const label = str(media.filename) ?? `${kind}${media.voice ? ' (voice)' : ''}`;
  let shown: ReactNode;
  if (failed) shown = <span className="muted">{failed}</span>;
  else if (!asked)
    shown = (
      <button type="button" className="link" onClick={() => setAsked(true)}>
        Load {label}
      </button>
    );
  else if (!url) shown = <span className="muted">Loading {kind}…</span>;
  else if (kind === 'image' || kind === 'sticker')
    shown = <img src={url} alt={caption ?? kind} className={kind} />;
  else if (kind === 'video') shown = <video src={url} controls />;
  else if (kind === 'audio') shown = <audio src={url} controls />;
  else
    shown = (
      <a href={url} download={str(media.filename) ?? 'document'}>
        Download {label}
      </a>
    );
  return (
    <div className="card media">
      <span className="media-kind">{kind}</span> {shown}
      <Text>{caption}</Text>
    </div>
  );
}

/** The text values of a template component's parameters, in order (`{{1}}`, `{{2}}`, …). */
function paramTexts(components: unknown[], type: string): string[] {
  const c = components.map(obj).find((x) => str(x.type)?.toLowerCase() === type);
  return arr(c?.parameters).map((p) => {
    const po = obj(p);
    return (
      str(po.text) ??
      str(po.payload) ??
      str(obj(po.currency).fallback_value) ??
      str(obj(po.date_time).fallback_value) ??
      str(po.type) ??
      ''
    );
  });
}

const fill = (text: string | undefined, values: string[]) =>
  text?.replace(/\{\{\s*(\d+)\s*\}\}/g, (m, n: string) => values[Number(n) - 1] ?? m);

/** A template as the user sees it: the team's synced template with the parameters filled in (else its name and values). */
function Template({ t }: { t: Obj }) {
  const { tenant, team } = useContext(ConversationPlace);
  const synced = useQuery({
    queryKey: ['templates', tenant, team],
    queryFn: async () =>
      (
        await api.GET('/v1/tenants/{tenant}/teams/{team}/templates', {
          params: { path: { tenant, team: team! }, query: { limit: 200 } },
        })
      ).data?.data ?? [],
    enabled: !!tenant && !!team,
    staleTime: 5 * 60_000,
  });
  const name = str(t.name);
  const lang = str(obj(t.language).code) ?? str(t.language);
  const sent = arr(t.components);
  const known = synced.data?.find((x) => x.name === name && x.language === lang);
  if (known) {
    const parts = arr(known.components).map(obj);
    const part = (type: string) => parts.find((p) => str(p.type)?.toUpperCase() === type);
    const header = part('HEADER');
    const buttons = arr(part('BUTTONS')?.buttons).map((b) => str(obj(b).text) ?? '');
    return (
      <div className="template">
        {header && str(header.format) === 'TEXT' && (
          <p className="wa-header">{fill(str(header.text), paramTexts(sent, 'header'))}</p>
        )}
        {header && str(header.format) && str(header.format) !== 'TEXT' && (
          <p className="card media">
            <span className="media-kind">{str(header.format)?.toLowerCase()}</span>
          </p>
        )}
        <Text>{fill(str(part('BODY')?.text), paramTexts(sent, 'body'))}</Text>
        {part('FOOTER') && <p className="wa-footer">{str(part('FOOTER')?.text)}</p>}
        {buttons.length > 0 && <Buttons titles={buttons} />}
        <p className="muted small">
          template {name} ({lang})
        </p>
      </div>
    );
  }
  const params = [...paramTexts(sent, 'header'), ...paramTexts(sent, 'body'), ...paramTexts(sent, 'button')];
  return (
    <div className="card template">
      <span className="media-kind">template</span> <strong>{name}</strong>{' '}
      {lang && <span className="muted">({lang})</span>}
      {params.length > 0 && (
        <ol className="params" aria-label="Parameters">
          {params.map((p, i) => (
            <li key={i}>{p}</li>
          ))}
        </ol>
      )}
    </div>
  );
}

function Interactive({ i }: { i: Obj }) {
  const header = obj(i.header);
  const action = obj(i.action);
  const headerText = str(header.text);
  return (
    <div className="interactive">
      {headerText && <p className="wa-header">{headerText}</p>}
      {!headerText && str(header.type) && (
        <OutboundMedia kind={str(header.type)!} m={obj(header[str(header.type)!])} />
      )}
      <Text>{str(obj(i.body).text)}</Text>
      {str(obj(i.footer).text) && <p className="wa-footer">{str(obj(i.footer).text)}</p>}
      {str(i.type) === 'button' && (
        <Buttons titles={arr(action.buttons).map((b) => str(obj(obj(b).reply).title) ?? '')} />
      )}
      {str(i.type) === 'list' && (
        <details className="wa-list">
          <summary>{str(action.button) ?? 'Menu'}</summary>
          {arr(action.sections).map((s, si) => (
            <section key={si}>
              {str(obj(s).title) && <h4>{str(obj(s).title)}</h4>}
              <ul>
                {arr(obj(s).rows).map((r, ri) => (
                  <li key={ri}>
                    <strong>{str(obj(r).title)}</strong>
                    {str(obj(r).description) && <span className="muted"> {str(obj(r).description)}</span>}
                  </li>
                ))}
              </ul>
            </section>
          ))}
        </details>
      )}
      {!['button', 'list'].includes(str(i.type) ?? '') && <p className="muted">interactive {str(i.type)}</p>}
    </div>
  );
}

function contactNames(list: unknown[]): string {
  return list.map((c) => str(obj(obj(c).name).formatted_name) ?? str(obj(c).name) ?? 'contact').join(', ');
}

/** What we sent (the Graph API body). */
export function OutboundContent({ m }: { m: OutboundMessage }) {
  const b = obj(m.body);
  const type = str(b.type) ?? m.type;
  const part = obj(b[type]);
  switch (type) {
    case 'text':
      return <Text>{str(part.body)}</Text>;
    case 'interactive':
      return <Interactive i={part} />;
    case 'image':
    case 'video':
    case 'audio':
    case 'document':
    case 'sticker':
      return <OutboundMedia kind={type} m={part} />;
    case 'location':
      return <Location l={part} />;
    case 'template':
      return <Template t={part} />;
    case 'reaction':
      return <p className="reaction">{str(part.emoji) ?? '(reaction removed)'}</p>;
    case 'contacts':
      return (
        <p className="card">
          <span className="media-kind">contact</span> {contactNames(arr(b.contacts))}
        </p>
      );
    default:
      return <p className="muted">{type} message</p>;
  }
}

/** What the user sent (the normalized inbound message). */
export function InboundContent({ m, tenant }: { m: InboundMessage; tenant: string }) {
  const p = obj(m.payload);
  if (m.type === 'flow_start') {
    return (
      <p className="system">
        Flow <strong>{str(p.flow)}</strong> started through the API
      </p>
    );
  }
  const media = obj(p.media);
  const kind = str(media.kind) ?? m.type;
  let body: ReactNode;
  switch (m.type) {
    case 'text':
      body = <Text>{str(p.text)}</Text>;
      break;
    case 'interactive': {
      const reply = obj(p.buttonReply ?? p.listReply);
      const nfm = obj(p.nfmReply);
      body = str(reply.title) ? (
        <p className="reply-choice">
          <span aria-hidden="true">↩ </span>
          {str(reply.title)}
          {str(reply.description) && <span className="muted"> {str(reply.description)}</span>}
        </p>
      ) : str(nfm.responseJson) ? (
        <p className="card">Form answered: {str(nfm.body) ?? 'Sent'}</p>
      ) : (
        <p className="muted">interactive {str(p.interactiveType)}</p>
      );
      break;
    }
    case 'button':
      body = (
        <p className="reply-choice">
          <span aria-hidden="true">↩ </span>
          {str(obj(p.button).text)}
        </p>
      );
      break;
    case 'image':
    case 'video':
    case 'audio':
    case 'document':
    case 'sticker':
      body = m.has_media ? (
        <InboundMedia tenant={tenant} id={m.id} kind={kind} media={media} />
      ) : (
        <OutboundMedia kind={kind} m={media} />
      );
      break;
    case 'location':
      body = <Location l={obj(p.location)} />;
      break;
    case 'reaction': {
      const r = obj(p.reaction);
      body = <p className="reaction">{r.removed ? '(reaction removed)' : str(r.emoji)}</p>;
      break;
    }
    case 'contacts':
      body = (
        <p className="card">
          <span className="media-kind">contact</span> {contactNames(arr(p.contacts))}
        </p>
      );
      break;
    case 'order': {
      const o = obj(p.order);
      body = (
        <p className="card">
          <span className="media-kind">order</span> {arr(o.productItems).length} item(s)
          {str(o.text) ? ` — ${str(o.text)}` : ''}
        </p>
      );
      break;
    }
    case 'system':
      body = (
        <p className="system">{str(obj(p.system).body) ?? str(obj(p.system).type) ?? 'system message'}</p>
      );
      break;
    case 'edit':
      body = (
        <p className="system">
          Edited a message: <q>{str(obj(p.edit).text)}</q>
        </p>
      );
      break;
    case 'revoke':
      body = <p className="system">Deleted a message</p>;
      break;
    default:
      body = <p className="muted">{str(p.rawType) ?? m.type} message</p>;
  }
  return (
    <>
      {m.revoked_at && <p className="system">This message was deleted</p>}
      {body}
      {m.edited_at && <p className="muted small">edited</p>}
      {m.problems.length > 0 && (
        <p className="muted small">Could not read: {m.problems.map(String).join('; ')}</p>
      )}
    </>
  );
}
