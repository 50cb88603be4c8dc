import type { Readable } from 'node:stream';
import { Agent, type Dispatcher } from 'undici';
import { GraphApiError } from './graph-errors';
import type { GraphMessageBody } from './outbound.types';
import { isRecord, parseJson } from './vocabulary';

// A small Graph API client for the calls the platform makes, over one keep-alive undici Agent.
// https://developers.facebook.com/docs/whatsapp/cloud-api/reference

/** Options of `GraphApiClient`. */
export interface GraphApiClientOptions {
  /** Graph API origin (and optional path prefix), e.g. `https://graph.facebook.com` or graph-sim's URL. */
  baseUrl: string;
  /** How long to wait for an answer's headers, and at most between two chunks of its body. */
  timeoutMs: number;
  /** How long to wait for a TCP/TLS connection; defaults to `min(timeoutMs, 10 s)`. */
  connectTimeoutMs?: number;
  /** Connections per origin (default 16). */
  connections?: number;
  /** How long an idle connection is kept (default 10 s; a shorter server `Keep-Alive` hint wins). */
  keepAliveTimeoutMs?: number;
}

/** Credentials and API version every call names; the token is never logged nor put in errors. */
interface GraphCall {
  /** Graph API version, e.g. `v18.0`. */
  apiVersion: string;
  /** The provider's access token. */
  accessToken: string;
}

/** Arguments of `sendMessage`. */
export interface SendMessageRequest extends GraphCall {
  /** The business phone number id to send from. */
  phoneNumberId: string;
  /** The request body, e.g. from `buildMessageBody`. */
  body: GraphMessageBody;
}

/** What Meta answered to an accepted send. */
export interface SendMessageResult {
  /** Id of the message (`messages[0].id`), echoed by its status webhooks. */
  wamid: string;
  /** The recipient's wa_id as Meta resolved it (`contacts[0].wa_id`). */
  waId?: string;
}

/** Arguments of `markAsRead`. */
export interface MarkAsReadRequest extends GraphCall {
  /** The business phone number id that received the message. */
  phoneNumberId: string;
  /** The wamid of the inbound message to mark as read (and everything before it). */
  messageId: string;
}

/** Arguments of `getMediaUrl`. */
export interface MediaUrlRequest extends GraphCall {
  /** Media id from an inbound message. */
  mediaId: string;
  /** Restricts the lookup to media of this phone number (optional, as Meta allows). */
  phoneNumberId?: string;
}

/**
 * A media download location.
 * https://developers.facebook.com/docs/whatsapp/cloud-api/reference/media#retrieve-media-url
 */
export interface MediaUrl {
  /** Download URL: needs the bearer token, expires after about 5 minutes. */
  url: string;
  /** `mime_type`. */
  mimeType: string;
  /** `sha256` of the file. */
  sha256?: string;
  /** `file_size` in bytes. */
  fileSize?: number;
}

/** Arguments of `downloadMedia`. */
export interface DownloadMediaRequest {
  /** The URL from `getMediaUrl`. */
  url: string;
  /** The provider's access token. */
  accessToken: string;
}

/** A media file being downloaded; the caller must consume or destroy `body`. */
export interface MediaDownload {
  /** The file's bytes as they arrive. */
  body: Readable;
  /** `Content-Type` of the answer. */
  contentType?: string;
  /** `Content-Length` of the answer, when sent. */
  contentLength?: number;
}

/** Arguments of `getPhoneNumber`. */
export interface PhoneNumberRequest extends GraphCall {
  /** The business phone number id to look up. */
  phoneNumberId: string;
}

/**
 * A business phone number as `GET /{phone_number_id}` describes it to a token that may see it.
 * https://developers.facebook.com/docs/whatsapp/cloud-api/reference/phone-numbers
 */
export interface PhoneNumberInfo {
  /** The phone number id. */
  id: string;
  /** `display_phone_number`, e.g. `+1 555-010-0000`. */
  displayPhoneNumber?: string;
  /** `verified_name` of the business. */
  verifiedName?: string;
}

/** Arguments of `listTemplates`. */
export interface ListTemplatesRequest extends GraphCall {
  /** The WhatsApp Business Account id. */
  businessAccountId: string;
  /** Page size (default 100). */
  pageSize?: number;
}

/**
 * A message template of the business account.
 * https://developers.facebook.com/docs/graph-api/reference/whats-app-business-account/message_templates
 */
export interface MessageTemplate {
  /** Template id. */
  id?: string;
  /** Template name. */
  name: string;
  /** Language code, e.g. `en_US`. */
  language: string;
  /** `APPROVED`, `PENDING`, `REJECTED`, `PAUSED`, `DISABLED`, … */
  status: string;
  /** `MARKETING`, `UTILITY` or `AUTHENTICATION`. */
  category: string;
  /** The template's header, body, footer and buttons, as Meta describes them. */
  components: unknown[];
}

const NOT_SENT_CODES = new Set([
  'ECONNREFUSED',
  'ENOTFOUND',
  'EAI_AGAIN',
  'ENETUNREACH',
  'EHOSTUNREACH',
  'UND_ERR_CONNECT_TIMEOUT',
  'UND_ERR_CLOSED',
  'UND_ERR_DESTROYED',
  'UND_ERR_INVALID_ARG',
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'SELF_SIGNED_CERT_IN_CHAIN',
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'CERT_HAS_EXPIRED',
  'ERR_TLS_CERT_ALTNAME_INVALID',
]);

const MAX_TEMPLATE_PAGES = 1000;

/** What a Graph API path segment (version, phone number, account or media id) may be. */
const SEGMENT = /^[A-Za-z0-9_.-]{1,128}$/;

/** Graph API client for sending messages, read receipts, media and templates; one per process, any tenant. */
export class GraphApiClient {
  private readonly agent: Agent;
  private readonly base: URL;
  /** The base URL's path without a trailing slash (Graph paths go under it). */
  private readonly basePath: string;

  /** Creates the client and its connection pool. */
  constructor(options: GraphApiClientOptions) {
    this.base = new URL(options.baseUrl);
    this.basePath = this.base.pathname.replace(/\/+$/, '');
    this.agent = new Agent({
      connections: options.connections ?? 16,
      keepAliveTimeout: options.keepAliveTimeoutMs ?? 10_000,
      connectTimeout: options.connectTimeoutMs ?? Math.min(options.timeoutMs, 10_000),
      headersTimeout: options.timeoutMs,
      bodyTimeout: options.timeoutMs,
    });
  }

  /**
   * `POST /{version}/{phone_number_id}/messages`.
   * https://developers.facebook.com/docs/whatsapp/cloud-api/reference/messages
   */
  async sendMessage({
    apiVersion,
    phoneNumberId,
    accessToken,
    body,
  }: SendMessageRequest): Promise<SendMessageResult> {
    const answer = await this.json(
      'POST',
      this.url([apiVersion, phoneNumberId, 'messages']),
      accessToken,
      body,
    );
    const wamid = first(answer.messages)?.id;
    if (typeof wamid !== 'string' || wamid === '') {
      // Meta said yes but we cannot tell to what: the message may well be on its way.
      throw new GraphApiError('Graph API accepted the message but answered no message id', {
        errorClass: 'transient',
        httpStatus: 200,
        outcomeUnknown: true,
      });
    }
    const waId = first(answer.contacts)?.wa_id;
    return typeof waId === 'string' ? { wamid, waId } : { wamid };
  }

  /**
   * Marks an inbound message as read (blue ticks).
   * https://developers.facebook.com/docs/whatsapp/cloud-api/guides/mark-message-as-read
   */
  async markAsRead({ apiVersion, phoneNumberId, accessToken, messageId }: MarkAsReadRequest): Promise<void> {
    await this.json('POST', this.url([apiVersion, phoneNumberId, 'messages']), accessToken, {
      messaging_product: 'whatsapp',
      status: 'read',
      message_id: messageId,
    });
  }

  /**
   * `GET /{version}/{media_id}`: where to download an inbound media file.
   * https://developers.facebook.com/docs/whatsapp/cloud-api/reference/media#retrieve-media-url
   */
  async getMediaUrl({ apiVersion, mediaId, accessToken, phoneNumberId }: MediaUrlRequest): Promise<MediaUrl> {
    const url = this.url(
      [apiVersion, mediaId],
      phoneNumberId === undefined ? {} : { phone_number_id: phoneNumberId },
    );
    const answer = await this.json('GET', url, accessToken);
    if (typeof answer.url !== 'string' || typeof answer.mime_type !== 'string') {
      throw new GraphApiError('Graph API media answer has no url or mime_type', {
        errorClass: 'transient',
        httpStatus: 200,
        outcomeUnknown: false,
      });
    }
    const fileSize = Number(answer.file_size);
    return {
      url: answer.url,
      mimeType: answer.mime_type,
      ...(typeof answer.sha256 === 'string' && { sha256: answer.sha256 }),
      ...(answer.file_size !== undefined && Number.isFinite(fileSize) && { fileSize }),
    };
  }

  /**
   * `GET /{version}/{phone_number_id}`: the number as the token sees it. Meta answers an error (190 for a bad token,
   * 100 for a number the token may not see) unless the token has access to the number.
   * https://developers.facebook.com/docs/whatsapp/cloud-api/reference/phone-numbers
   */
  async getPhoneNumber({ apiVersion, phoneNumberId, accessToken }: PhoneNumberRequest): Promise<PhoneNumberInfo> {
    const answer = await this.json('GET', this.url([apiVersion, phoneNumberId]), accessToken);
    if (typeof answer.id !== 'string') {
      throw new GraphApiError('Graph API phone number answer has no id', { errorClass: 'transient', httpStatus: 200, outcomeUnknown: false });
    }
    return {
      id: answer.id,
      ...(typeof answer.display_phone_number === 'string' && { displayPhoneNumber: answer.display_phone_number }),
      ...(typeof answer.verified_name === 'string' && { verifiedName: answer.verified_name }),
    };
  }

  /**
   * Downloads a media file from the URL `getMediaUrl` gave, with the bearer token.
   * https://developers.facebook.com/docs/whatsapp/cloud-api/reference/media#download-media
   */
  async downloadMedia({ url, accessToken }: DownloadMediaRequest): Promise<MediaDownload> {
    const target = new URL(url);
    if (target.protocol !== 'https:' && target.protocol !== 'http:') {
      throw new GraphApiError('media URL must be http(s)', {
        errorClass: 'permanent',
        outcomeUnknown: false,
      });
    }
    const response = await this.request('GET', target, accessToken);
    if (response.statusCode >= 300) {
      const text = await response.body.text().catch(() => '');
      throw errorFromAnswer('GET', target, response.statusCode, text, accessToken);
    }
    const contentType = header(response.headers, 'content-type');
    const contentLength = header(response.headers, 'content-length');
    return {
      body: response.body,
      ...(contentType !== undefined && { contentType }),
      ...(contentLength !== undefined && { contentLength: Number(contentLength) }),
    };
  }

  /**
   * All message templates of a business account, following `paging` page by page.
   * https://developers.facebook.com/docs/graph-api/reference/whats-app-business-account/message_templates
   */
  async listTemplates({
    apiVersion,
    businessAccountId,
    accessToken,
    pageSize = 100,
  }: ListTemplatesRequest): Promise<MessageTemplate[]> {
    const templates: MessageTemplate[] = [];
    const seen = new Set<string>();
    let after: string | undefined;
    for (let page = 0; page < MAX_TEMPLATE_PAGES; page += 1) {
      const query: Record<string, string> = {
        limit: String(pageSize),
        ...(after !== undefined && { after }),
      };
      const answer = await this.json(
        'GET',
        this.url([apiVersion, businessAccountId, 'message_templates'], query),
        accessToken,
      );
      for (const item of Array.isArray(answer.data) ? (answer.data as unknown[]) : []) {
        const template = toTemplate(item);
        if (template) templates.push(template);
      }
      const paging = isRecord(answer.paging) ? answer.paging : {};
      const cursor = isRecord(paging.cursors) ? paging.cursors.after : undefined;
      // Meta signals another page with `paging.next`; we follow its cursor on our own base URL rather than the
      // absolute `next` URL, so the token only ever goes to the configured host.
      if (typeof paging.next !== 'string' || typeof cursor !== 'string' || seen.has(cursor)) return templates;
      seen.add(cursor);
      after = cursor;
    }
    return templates;
  }

  /** Closes every connection; in-flight requests finish first. */
  async close(): Promise<void> {
    await this.agent.close();
  }

  /** The URL of a Graph path; every segment must be one plain id or version token (never `..`, `/`, `%`, empty). */
  private url(segments: string[], query: Record<string, string> = {}): URL {
    const bad = segments.find((s) => !SEGMENT.test(s) || /^\.+$/.test(s));
    if (bad !== undefined) {
      throw new GraphApiError(`refused Graph API path segment ${JSON.stringify(bad.slice(0, 40))}: ids are letters, digits, _ . -`, {
        errorClass: 'permanent',
        outcomeUnknown: false,
      });
    }
    const search = Object.keys(query).length ? `?${new URLSearchParams(query).toString()}` : '';
    return new URL(`${this.basePath}/${segments.map(encodeURIComponent).join('/')}${search}`, this.base.origin);
  }

  /**
   * One request whose whole answer is read as text: a `dispatch` with a handler of its own, which costs about half
   * the CPU of `request` and its body stream (a send is one of these; measured with process.cpuUsage over 20,000).
   */
  private exchange(method: 'GET' | 'POST', url: URL, accessToken: string, body?: unknown): Promise<{ statusCode: number; text: string }> {
    return new Promise((resolve, reject) => {
      let statusCode = 0;
      const chunks: Buffer[] = [];
      this.agent.dispatch(
        requestOptions(method, url, accessToken, body),
        {
          // undici takes a handler with onRequestStart for its current handler interface (else the legacy one).
          onRequestStart() {},
          onResponseStart(_c, status) {
            statusCode = status;
          },
          onResponseData(_c, chunk) {
            chunks.push(chunk);
          },
          onResponseEnd() {
            resolve({ statusCode, text: Buffer.concat(chunks).toString('utf8') });
          },
          onResponseError(_c, err) {
            reject(err);
          },
        },
      );
    });
  }

  private async request(
    method: 'GET' | 'POST',
    url: URL,
    accessToken: string,
    body?: unknown,
  ): Promise<Dispatcher.ResponseData> {
    try {
      return await this.agent.request(requestOptions(method, url, accessToken, body));
    } catch (err) {
      throw networkError(method, url, err, accessToken);
    }
  }

  /** Sends a request and returns its JSON answer; any error answer or failure becomes a `GraphApiError`. */
  private async json(
    method: 'GET' | 'POST',
    url: URL,
    accessToken: string,
    body?: unknown,
  ): Promise<Record<string, unknown>> {
    let response: { statusCode: number; text: string };
    try {
      response = await this.exchange(method, url, accessToken, body);
    } catch (err) {
      throw networkError(method, url, err, accessToken);
    }
    const text = response.text;
    if (response.statusCode >= 300)
      throw errorFromAnswer(method, url, response.statusCode, text, accessToken);
    const parsed = parseJson(text);
    // An array answer goes on as before (its callers then miss the fields they read): only a non-object is refused.
    if (!isRecord(parsed) && !Array.isArray(parsed)) {
      throw new GraphApiError(
        `${method} ${url.pathname}: answer ${response.statusCode} is not a JSON object`,
        {
          errorClass: 'transient',
          httpStatus: response.statusCode,
          outcomeUnknown: method === 'POST',
        },
      );
    }
    return parsed as Record<string, unknown>;
  }
}

/** A Graph API request: the bearer token, JSON both ways. */
function requestOptions(method: 'GET' | 'POST', url: URL, accessToken: string, body?: unknown): Dispatcher.DispatchOptions {
  return {
    origin: url.origin,
    path: `${url.pathname}${url.search}`,
    method,
    headers: {
      authorization: `Bearer ${accessToken}`,
      accept: 'application/json',
      ...(body !== undefined && { 'content-type': 'application/json' }),
    },
    ...(body !== undefined && { body: JSON.stringify(body) }),
  };
}

/** Turns an HTTP error answer into a `GraphApiError`, reading Meta's `{ error: {...} }` body when there is one. */
function errorFromAnswer(
  method: string,
  url: URL,
  status: number,
  text: string,
  accessToken: string,
): GraphApiError {
  const parsed = parseJson(text);
  // `error` as an array still counts as Meta's error object (without code or message), as it always has.
  const error =
    isRecord(parsed) && (isRecord(parsed.error) || Array.isArray(parsed.error))
      ? (parsed.error as Record<string, unknown>)
      : undefined;
  if (!error) {
    // A gateway or load balancer answered, not the Graph API: a 5xx from it says nothing about whether Meta
    // acted on the request.
    return new GraphApiError(`${method} ${url.pathname}: HTTP ${status}`, {
      httpStatus: status,
      outcomeUnknown: method === 'POST' && status >= 500,
    });
  }
  const errorData = isRecord(error.error_data) ? error.error_data : {};
  const message = typeof error.message === 'string' ? error.message : `HTTP ${status}`;
  return new GraphApiError(redact(`${method} ${url.pathname}: ${message}`, accessToken), {
    httpStatus: status,
    ...(typeof error.code === 'number' && { code: error.code }),
    ...(typeof error.error_subcode === 'number' && { subcode: error.error_subcode }),
    ...(typeof errorData.details === 'string' && { details: redact(errorData.details, accessToken) }),
    ...(typeof error.fbtrace_id === 'string' && { fbtraceId: error.fbtrace_id }),
    outcomeUnknown: false,
  });
}

/** Turns a failure without an answer into a transient `GraphApiError`, deciding whether the request may have left. */
function networkError(method: string, url: URL, err: unknown, accessToken: string): GraphApiError {
  const code = errorCode(err);
  const reason = err instanceof Error ? err.message : String(err);
  return new GraphApiError(
    redact(`${method} ${url.pathname}: ${code ?? 'network error'}: ${reason}`, accessToken),
    {
      errorClass: 'transient',
      outcomeUnknown: code === undefined || !NOT_SENT_CODES.has(code),
      cause: err,
    },
  );
}

/** The first `code` string along an error's `cause` chain (and inside an AggregateError). */
function errorCode(err: unknown): string | undefined {
  for (let current: unknown = err, depth = 0; isRecord(current) && depth < 5; depth += 1) {
    if (typeof current.code === 'string') return current.code;
    if (
      Array.isArray(current.errors) &&
      isRecord(current.errors[0]) &&
      typeof current.errors[0].code === 'string'
    ) {
      return current.errors[0].code;
    }
    current = current.cause;
  }
  return undefined;
}

function toTemplate(item: unknown): MessageTemplate | undefined {
  if (!isRecord(item) || typeof item.name !== 'string' || typeof item.language !== 'string') return undefined;
  return {
    ...(typeof item.id === 'string' && { id: item.id }),
    name: item.name,
    language: item.language,
    status: typeof item.status === 'string' ? item.status : 'UNKNOWN',
    category: typeof item.category === 'string' ? item.category : 'UNKNOWN',
    components: Array.isArray(item.components) ? (item.components as unknown[]) : [],
  };
}

function redact(text: string, accessToken: string): string {
  return accessToken ? text.split(accessToken).join('[redacted]') : text;
}

function header(headers: Dispatcher.ResponseData['headers'], name: string): string | undefined {
  const value = headers[name];
  return Array.isArray(value) ? value[0] : value;
}

function first(list: unknown): Record<string, unknown> | undefined {
  return Array.isArray(list) && isRecord(list[0]) ? list[0] : undefined;
}

