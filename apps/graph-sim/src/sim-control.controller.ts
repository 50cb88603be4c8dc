import { BadRequestException, Body, Controller, Delete, Get, HttpCode, NotFoundException, Param, Post, Query, Res } from '@nestjs/common';
import type { FastifyReply } from 'fastify';
import { z } from 'zod';
import { InvalidJson } from './json-body';
import { InboundInput, InboundService, inboundInputSchema, rawWebhookInputSchema, userActionInputSchema } from './inbound.service';
import { PhoneNumber, SentMessage, SimStateService } from './sim-state.service';
import { StatusEmitterService, waId } from './status-emitter.service';
import { templateSchema } from './templates';
import { WebhookDeliveryService } from './webhook-delivery.service';

const httpUrl = z.string().refine((v) => {
  try {
    return ['http:', 'https:'].includes(new URL(v).protocol);
  } catch {
    return false;
  }
}, 'must be an http(s) URL');

/** Body of `POST /sim/phone-numbers`. */
const phoneNumberInput = z
  .object({
    phone_number_id: z.string().min(1),
    access_token: z.string().min(1),
    app_secret: z.string().min(1),
    webhook_url: httpUrl,
    display_phone_number: z.string().min(1).optional(),
    waba_id: z.string().min(1).optional(),
  })
  .strict();

function parse<T>(schema: z.ZodType<T>, body: unknown): T {
  if (body instanceof InvalidJson) throw new BadRequestException({ error: `request body is not valid JSON: ${body.reason}` });
  const r = schema.safeParse(body ?? {});
  if (r.success) return r.data;
  throw new BadRequestException({
    error: 'invalid request body',
    issues: r.error.issues.map((i) => `${i.path.join('.') || '(body)'}: ${i.message}`),
  });
}

function redact(n: PhoneNumber): Record<string, unknown> {
  return { ...n, access_token: '[redacted]', app_secret: '[redacted]' };
}

function view(m: SentMessage): Record<string, unknown> {
  return { wamid: m.wamid, phone_number_id: m.phone_number_id, to: m.to, type: m.type, body: m.body, received_at: m.received_at, statuses: m.statuses };
}

/** The simulator's control surface under `/sim`: numbers, knobs, templates, the simulated user, inspection, reset. */
@Controller('sim')
export class SimControlController {
  constructor(
    private readonly state: SimStateService,
    private readonly inboundService: InboundService,
    private readonly statuses: StatusEmitterService,
    private readonly delivery: WebhookDeliveryService,
  ) {}

  @Post('phone-numbers')
  @HttpCode(200)
  register(@Body() body: unknown): Record<string, unknown> {
    const input = parse(phoneNumberInput, body);
    const existing = this.state.numbers.get(input.phone_number_id);
    const number: PhoneNumber = {
      phone_number_id: input.phone_number_id,
      access_token: input.access_token,
      app_secret: input.app_secret,
      webhook_url: input.webhook_url,
      display_phone_number: input.display_phone_number ?? existing?.display_phone_number ?? input.phone_number_id,
      waba_id: input.waba_id ?? existing?.waba_id ?? this.state.env.GRAPH_SIM_DEFAULT_WABA_ID,
      registered_at: existing?.registered_at ?? new Date().toISOString(),
    };
    this.state.numbers.set(number.phone_number_id, number);
    return redact(number);
  }

  @Get('phone-numbers')
  numbers(): Record<string, unknown>[] {
    return [...this.state.numbers.values()].map(redact);
  }

  @Delete('phone-numbers/:id')
  @HttpCode(200)
  unregister(@Param('id') id: string): { deleted: boolean } {
    return { deleted: this.state.numbers.delete(id) };
  }

  @Get('config')
  config(): unknown {
    return this.state.config;
  }

  @Post('config')
  @HttpCode(200)
  updateConfig(@Body() body: unknown): unknown {
    if (typeof body !== 'object' || body === null || Array.isArray(body) || body instanceof InvalidJson) throw new BadRequestException({ error: 'expected a JSON object' });
    const r = this.state.updateConfig(body);
    if (!r.ok) throw new BadRequestException({ error: 'invalid config', issues: r.issues });
    return r.config;
  }

  @Get('templates')
  templates(): unknown {
    return this.state.templates;
  }

  @Post('templates')
  @HttpCode(200)
  setTemplates(@Body() body: unknown): unknown {
    const input = parse(
      z.union([z.array(templateSchema), z.object({ templates: z.array(templateSchema), append: z.boolean().optional() }).strict()]),
      body,
    );
    const list = Array.isArray(input) ? input : input.templates;
    const append = !Array.isArray(input) && input.append === true;
    this.state.templates = append ? [...this.state.templates.filter((t) => !list.some((n) => n.name === t.name && n.language === t.language)), ...list] : list;
    return this.state.templates;
  }

  @Post('inbound')
  @HttpCode(202)
  inbound(@Body() body: unknown): { wamid: string } {
    const input = parse(inboundInputSchema, body);
    return { wamid: this.sendInbound([input])[0] };
  }

  @Post('inbound/batch')
  @HttpCode(202)
  inboundBatch(@Body() body: unknown): { wamids: string[] } {
    const list = Array.isArray(body) ? body : (body as { messages?: unknown } | null)?.messages;
    const inputs = parse(z.array(inboundInputSchema).min(1).max(10_000), list);
    return { wamids: this.sendInbound(inputs) };
  }

  /** A user clicks a link of a marketing message: a `user_actions` webhook. */
  @Post('user-actions')
  @HttpCode(202)
  userAction(@Body() body: unknown): { sent: true } {
    const r = this.inboundService.sendUserAction(parse(userActionInputSchema, body));
    if (r) throw new NotFoundException({ error: r.error });
    return { sent: true };
  }

  /** Any JSON body, signed and delivered to the number's webhook URL (shapes Meta may send that nothing else builds). */
  @Post('webhooks/raw')
  @HttpCode(202)
  rawWebhook(@Body() body: unknown): { sent: true } {
    const input = parse(rawWebhookInputSchema, body);
    const r = this.inboundService.sendRaw(input.phone_number_id, input.body);
    if (r) throw new NotFoundException({ error: r.error });
    return { sent: true };
  }

  private sendInbound(inputs: InboundInput[]): string[] {
    const r = this.inboundService.send(inputs);
    if ('error' in r) throw new NotFoundException({ error: r.error });
    return r.wamids;
  }

  @Get('inbound')
  inboundList(@Query('phone_number_id') phoneNumberId?: string, @Query('from') from?: string): unknown[] {
    const out: unknown[] = [];
    for (const r of this.state.inbound.values()) {
      if (phoneNumberId !== undefined && r.phone_number_id !== phoneNumberId) continue;
      if (from !== undefined && r.from !== from) continue;
      out.push(r);
    }
    return out;
  }

  @Get('messages')
  messages(
    @Query('to') to?: string,
    @Query('phone_number_id') phoneNumberId?: string,
    @Query('biz_opaque_callback_data') callbackData?: string,
    @Query('limit') limit?: string,
  ): unknown[] {
    const max = limit !== undefined ? Math.max(0, Number(limit) || 0) : Infinity;
    const out: unknown[] = [];
    for (const m of this.state.messages.values()) {
      if (out.length >= max) break;
      if (to !== undefined && m.to !== to && waId(m.to) !== waId(to)) continue;
      if (phoneNumberId !== undefined && m.phone_number_id !== phoneNumberId) continue;
      if (callbackData !== undefined && m.callbackData !== callbackData) continue;
      out.push(view(m));
    }
    return out;
  }

  @Get('messages/:wamid')
  message(@Param('wamid') wamid: string): unknown {
    const m = this.state.messages.get(wamid);
    if (!m) throw new NotFoundException({ error: `no message ${wamid}` });
    return view(m);
  }

  @Get('stats')
  stats(): unknown {
    return {
      ...this.state.stats,
      stored: { messages: this.state.messages.size, inbound: this.state.inbound.size, media: this.state.media.size, phone_numbers: this.state.numbers.size },
      pending: { statuses: this.statuses.pending, webhooks: this.delivery.pending },
    };
  }

  @Get('webhooks')
  webhooks(@Query('limit') limit?: string): unknown {
    const n = Math.min(Math.max(Number(limit) || 100, 1), 500);
    return { stats: this.state.stats.webhooks, pending: this.delivery.pending, recent: this.delivery.log.slice(-n) };
  }

  @Post('reset')
  reset(@Body() body: unknown, @Res() reply: FastifyReply): void {
    const input = parse(z.object({ all: z.boolean().optional(), phone_numbers: z.boolean().optional() }).strict(), body);
    const all = input.all === true || input.phone_numbers === true;
    this.statuses.clear();
    this.delivery.clear();
    this.state.reset(all);
    void reply.status(200).send({ reset: true, phone_numbers_cleared: all });
  }
}
