import { Controller, Get, Param, Post, Req, Res } from '@nestjs/common';
import { validateSendBody } from './message-validation';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { createHmac, randomBytes } from 'node:crypto';
import { GraphErrorAnswer, authError, graphError, graphErrorStatus, invalidParameter } from './graph-errors';
import { InvalidJson } from './json-body';
import { PhoneNumber, SimStateService } from './sim-state.service';
import { StatusEmitterService, waId } from './status-emitter.service';
import { checkTemplateSend } from './templates';

// The Graph API paths the platform calls: send messages, media, templates.
// https://developers.facebook.com/docs/whatsapp/cloud-api/reference/messages
// https://developers.facebook.com/docs/whatsapp/cloud-api/reference/media

/** An answer: HTTP status and JSON body. */
interface Answer {
  status: number;
  body: unknown;
}

const VERSION = /^v\d+(\.\d+)?$/;
const MEDIA_URL_TTL_S = 300;

/** The bearer token of a request (`Authorization: Bearer …` or `?access_token=`). */
function bearer(req: FastifyRequest): string | undefined {
  const header = req.headers.authorization;
  if (typeof header === 'string') {
    const m = /^Bearer\s+(.+)$/i.exec(header.trim());
    if (m) return m[1].trim();
  }
  const q = (req.query as Record<string, unknown> | undefined)?.access_token;
  return typeof q === 'string' ? q : undefined;
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

function unknownObject(id: string): GraphErrorAnswer {
  return graphError(400, 100, {
    message: `Unsupported get request. Object with ID '${id}' does not exist, cannot be loaded due to missing permissions, or does not support this operation.`,
    subcode: 33,
  });
}

function unknownPath(req: FastifyRequest): GraphErrorAnswer {
  return graphError(400, 2500, { message: `Unknown path components: ${req.url.split('?')[0]}`, type: 'OAuthException' });
}

/** `POST /:version/:phoneNumberId/messages`, `GET /:version/:id` (media or phone number), templates and media download. */
@Controller()
export class GraphApiController {
  private readonly urlKey = randomBytes(16);

  constructor(
    private readonly state: SimStateService,
    private readonly statuses: StatusEmitterService,
  ) {}

  @Post(':version/:phoneNumberId/messages')
  async send(@Param('version') version: string, @Param('phoneNumberId') phoneNumberId: string, @Req() req: FastifyRequest, @Res() reply: FastifyReply): Promise<void> {
    // Meta counts a send when its request arrives: when the router took it, not when this process got round to it
    // (parsing, a busy event loop, the injected latency), so a bunch of requests is not stamped as one.
    const arrivedAt = Date.now() - reply.elapsedTime;
    const latency = this.state.config.response_latency_ms;
    if (latency > 0) await sleep(latency);
    const answer = VERSION.test(version) ? this.sendMessage(phoneNumberId, bearer(req), req.body, arrivedAt) : unknownPath(req);
    void reply.status(answer.status).send(answer.body);
  }

  /** The send logic: auth, validation, injected errors, templates, limits, then accept and schedule statuses. */
  private sendMessage(phoneNumberId: string, token: string | undefined, body: unknown, now: number): Answer {
    const state = this.state;
    const number = state.numbers.get(phoneNumberId);
    if (!number || !token || token !== number.access_token) {
      state.reject('auth');
      return authError(token ? 'Invalid OAuth access token - Cannot parse access token' : 'An active access token must be used to query information about the current user.');
    }
    if (body instanceof InvalidJson) {
      state.reject('invalid_body');
      return invalidParameter(`request body is not valid JSON: ${body.reason}`);
    }
    const b = body as Record<string, unknown> | null | undefined;
    if (b && typeof b === 'object' && b.status === 'read') return this.markRead(b);

    const errors = validateSendBody(body);
    if (errors.length > 0) {
      state.reject('invalid_body');
      const details = errors.map((e) => (e.path ? `${e.path}: ${e.message}` : e.message)).join('; ');
      // A rule Meta has its own code for (132018: template parameter format) is answered with that code.
      const specific = errors.find((e) => e.code !== undefined)?.code;
      return specific === undefined ? invalidParameter(details) : graphError(400, specific, { details });
    }
    const msg = body as { to: string; type: string; template?: unknown; biz_opaque_callback_data?: string };
    const injected = this.injectedError(phoneNumberId, msg.to);
    if (injected) return injected;

    let category = 'service';
    if (msg.type === 'template' && state.config.validate_templates) {
      const t = checkTemplateSend(state.templates, msg.template);
      if (!t.ok) {
        state.reject('template');
        return t.error;
      }
      category = t.template.category.toLowerCase();
    } else if (msg.type === 'template') {
      category = 'utility';
    }

    const recipient = waId(msg.to);
    if (!state.throughput.take(phoneNumberId, now)) {
      state.reject('throughput');
      return graphError(400, 130429);
    }
    if (!state.pairs.take(`${phoneNumberId}\n${recipient}`, now)) {
      state.reject('pair_rate');
      return graphError(400, 131056);
    }
    let windowClosed = false;
    if (state.config.window.enforce && msg.type !== 'template') {
      const last = state.lastInbound.get(`${phoneNumberId}\n${msg.to}`) ?? state.lastInbound.get(`${phoneNumberId}\n${recipient}`);
      windowClosed = last === undefined || now - last > state.config.window.seconds * 1000;
    }

    const wamid = state.newWamid(recipient);
    const record = state.addMessage({
      wamid,
      phone_number_id: phoneNumberId,
      to: msg.to,
      type: msg.type,
      body,
      callbackData: msg.biz_opaque_callback_data,
      category,
    }, now);
    this.statuses.schedule(record, windowClosed);
    return {
      status: 200,
      body: { messaging_product: 'whatsapp', contacts: [{ input: msg.to, wa_id: recipient }], messages: [{ id: wamid }] },
    };
  }

  private markRead(b: Record<string, unknown>): Answer {
    if (b.messaging_product !== 'whatsapp' || typeof b.message_id !== 'string' || b.message_id.length === 0) {
      this.state.reject('invalid_body');
      return invalidParameter('messaging_product must be "whatsapp" and message_id a message id');
    }
    this.state.stats.marked_read++;
    return { status: 200, body: { success: true } };
  }

  /** The first matching `send_errors` rule that fires (its count is used up; an exhausted rule is removed). */
  private injectedError(phoneNumberId: string, to: string): GraphErrorAnswer | undefined {
    const rules = this.state.config.send_errors;
    for (let i = 0; i < rules.length; i++) {
      const rule = rules[i];
      if (rule.phone_number_id !== undefined && rule.phone_number_id !== phoneNumberId) continue;
      if (rule.to !== undefined && !rule.to.includes(to) && !rule.to.includes(waId(to))) continue;
      if (!this.state.rng.chance(rule.probability)) continue;
      if (rule.count !== undefined) {
        rule.count--;
        if (rule.count <= 0) rules.splice(i, 1);
      }
      this.state.reject(`injected_${rule.code}`);
      return graphError(rule.http_status ?? graphErrorStatus(rule.code), rule.code, { message: rule.message, details: rule.details, subcode: rule.error_subcode });
    }
    return undefined;
  }

  @Get('whatsapp_business/attachments')
  download(@Req() req: FastifyRequest, @Res() reply: FastifyReply): void {
    const q = req.query as Record<string, string | undefined>;
    const media = q.mid ? this.state.media.get(q.mid) : undefined;
    const number = media ? this.state.numbers.get(media.phone_number_id) : undefined;
    const token = bearer(req);
    if (!token || !this.state.numberByToken(token)) {
      const e = authError();
      void reply.status(e.status).send(e.body);
      return;
    }
    const ext = Number(q.ext);
    if (!media || !number || token !== number.access_token || q.hash !== this.urlHash(media.id, ext) || ext < Date.now() / 1000) {
      void reply.status(404).send({ error: 'media not found or URL expired' });
      return;
    }
    void reply.header('content-type', media.mime_type).header('content-length', String(media.bytes.length)).send(media.bytes);
  }

  @Get(':version/:wabaId/message_templates')
  templates(@Param('version') version: string, @Param('wabaId') wabaId: string, @Req() req: FastifyRequest, @Res() reply: FastifyReply): void {
    const answer = this.listTemplates(version, wabaId, req);
    void reply.status(answer.status).send(answer.body);
  }

  private listTemplates(version: string, wabaId: string, req: FastifyRequest): Answer {
    if (!VERSION.test(version)) return unknownPath(req);
    const token = bearer(req);
    const owner = token ? this.state.numberByToken(token) : undefined;
    if (!owner) return authError();
    const mine = [...this.state.numbers.values()].some((n) => n.waba_id === wabaId && n.access_token === token);
    if (!mine) return unknownObject(wabaId);
    const q = req.query as Record<string, string | undefined>;
    let list = this.state.templates;
    if (q.name) list = list.filter((t) => t.name.includes(q.name!));
    if (q.language) list = list.filter((t) => t.language === q.language);
    if (q.status) list = list.filter((t) => t.status === q.status!.toUpperCase());
    const limit = Math.min(Math.max(Number(q.limit) || 25, 1), 1000);
    const start = q.after ? Number(Buffer.from(q.after, 'base64').toString('utf8')) || 0 : 0;
    const page = list.slice(start, start + limit);
    const cursor = (n: number) => Buffer.from(String(n), 'utf8').toString('base64');
    const paging: Record<string, unknown> = { cursors: { before: cursor(start), after: cursor(start + page.length) } };
    if (start + page.length < list.length) {
      paging.next = `${this.baseUrl(req)}/${version}/${wabaId}/message_templates?limit=${limit}&after=${cursor(start + page.length)}`;
    }
    return { status: 200, body: { data: page, paging } };
  }

  @Get(':version/:id')
  object(@Param('version') version: string, @Param('id') id: string, @Req() req: FastifyRequest, @Res() reply: FastifyReply): void {
    const answer = this.getObject(version, id, req);
    void reply.status(answer.status).send(answer.body);
  }

  /** A media object (with a short-lived download URL) or a phone number object. */
  private getObject(version: string, id: string, req: FastifyRequest): Answer {
    if (!VERSION.test(version)) return unknownPath(req);
    const token = bearer(req);
    if (!token || !this.state.numberByToken(token)) return authError();
    const media = this.state.media.get(id);
    if (media) {
      const number = this.state.numbers.get(media.phone_number_id);
      const q = req.query as Record<string, string | undefined>;
      if (!number || number.access_token !== token) return unknownObject(id);
      if (q.phone_number_id && q.phone_number_id !== media.phone_number_id) return unknownObject(id);
      const ext = Math.floor(Date.now() / 1000) + MEDIA_URL_TTL_S;
      const url = `${this.baseUrl(req)}/whatsapp_business/attachments?mid=${id}&ext=${ext}&hash=${this.urlHash(id, ext)}`;
      return {
        status: 200,
        body: { url, mime_type: media.mime_type, sha256: media.sha256, file_size: media.bytes.length, id, messaging_product: 'whatsapp' },
      };
    }
    const number = this.state.numbers.get(id);
    if (number && number.access_token === token) return { status: 200, body: phoneNumberObject(number) };
    return unknownObject(id);
  }

  private urlHash(id: string, ext: number): string {
    return createHmac('sha256', this.urlKey).update(`${id}:${ext}`).digest('base64url').slice(0, 22);
  }

  private baseUrl(req: FastifyRequest): string {
    return this.state.env.GRAPH_SIM_PUBLIC_URL?.replace(/\/$/, '') ?? `${req.protocol}://${req.headers.host ?? 'localhost'}`;
  }
}

/** A phone number as `GET /{phone-number-id}` describes it. */
function phoneNumberObject(n: PhoneNumber): Record<string, unknown> {
  return {
    verified_name: 'graph-sim',
    code_verification_status: 'VERIFIED',
    display_phone_number: n.display_phone_number,
    quality_rating: 'GREEN',
    platform_type: 'CLOUD_API',
    throughput: { level: 'STANDARD' },
    id: n.phone_number_id,
  };
}
