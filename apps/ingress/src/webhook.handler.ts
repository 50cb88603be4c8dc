import { HttpStatus, Injectable, Logger } from '@nestjs/common';
import { safeEqual } from '@gtc/config';
import { parseWebhook, SIGNATURE_HEADER, verifySignature } from '@gtc/whatsapp';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { IngressMetrics } from './ingress.metrics';
import { ProviderService, WebhookTarget } from './provider.service';
import { WebhookRecorderService } from './webhook-recorder.service';

/** The provider lookup failed (Postgres unreachable): the answer is 503. */
const UNAVAILABLE = Symbol('unavailable');

/**
 * What `GET/POST /webhook/whatsapp/:tenant/:team` answer (routes in ingress.server.ts): Meta's verification handshake
 * and notifications.
 */
@Injectable()
export class WebhookHandler {
  private readonly log = new Logger(WebhookHandler.name);

  constructor(
    private readonly providers: ProviderService,
    private readonly recorder: WebhookRecorderService,
    private readonly metrics: IngressMetrics,
  ) {}

  /** The team's provider (null when there is none), or UNAVAILABLE when it cannot be looked up (logged). */
  private async target(tenant: string, team: string): Promise<WebhookTarget | null | typeof UNAVAILABLE> {
    try {
      return await this.providers.find(tenant, team);
    } catch (err) {
      this.log.error(`provider lookup failed: ${(err as Error).message}`);
      return UNAVAILABLE;
    }
  }

  /**
   * Verification: 200 with the challenge when the verify token matches, 403 otherwise, 404 for unknown or disabled,
   * 503 when the provider cannot be looked up.
   * Each answer is logged here (ingress has no per-request logger: see ingress.server.ts), a refusal as a warning.
   */
  async verify(tenant: string, team: string, query: Record<string, string | string[] | undefined>, reply: FastifyReply): Promise<void> {
    const target = await this.target(tenant, team);
    if (target === UNAVAILABLE) return void reply.code(HttpStatus.SERVICE_UNAVAILABLE).send({ message: 'temporarily unavailable, retry' });
    if (!target || !target.enabled) {
      this.log.warn(`subscription check for ${tenant}/${team} refused (404): unknown tenant/team or provider disabled`);
      return void reply.code(404).send({ message: 'unknown tenant/team or provider disabled' });
    }
    // A parameter given twice arrives as an array: it is no token, mode or challenge.
    const one = (name: string) => (typeof query[name] === 'string' ? (query[name] as string) : undefined);
    if (one('hub.mode') !== 'subscribe' || !safeEqual(one('hub.verify_token') ?? '', target.verifyToken)) {
      this.log.warn(`subscription check for ${tenant}/${team} refused (403): verify token mismatch or hub.mode not subscribe`);
      return void reply.code(403).send({ message: 'verify token mismatch' });
    }
    this.log.log(`subscription check for ${tenant}/${team} answered (200)`);
    reply.code(200).header('content-type', 'text/plain; charset=utf-8').send(one('hub.challenge') ?? '');
  }

  /**
   * Notification: signature checked over the raw bytes (401), JSON parsed (400), content recorded in Postgres and only
   * then acknowledged with 200 (a signed JSON body of any shape is kept raw with what was wrong, and 200); content
   * Postgres cannot take as is is stored escaped (or, failing that, as its raw bytes) and acknowledged too. 503 only
   * when Postgres cannot be written at all, so Meta retries.
   */
  async receive(tenant: string, team: string, req: FastifyRequest & { rawBody?: Buffer }, reply: FastifyReply): Promise<void> {
    const started = process.hrtime.bigint();
    const answer = (code: number, outcome: string, body: unknown) => {
      this.metrics.webhooks.inc({ outcome });
      this.metrics.ackSeconds.observe({ code: String(code) }, Number(process.hrtime.bigint() - started) / 1e9);
      void reply.code(code).send(body);
    };

    const target = await this.target(tenant, team);
    if (target === UNAVAILABLE) return answer(HttpStatus.SERVICE_UNAVAILABLE, 'unavailable', { message: 'temporarily unavailable, retry' });
    if (!target || !target.enabled) return answer(404, 'unknown_target', { message: 'unknown tenant/team or provider disabled' });

    const raw = req.rawBody ?? Buffer.alloc(0);
    if (!target.insecureSkipSignature) {
      if (!target.appSecret) {
        this.log.warn(
          `refused a webhook for ${tenant}/${team}: no app secret configured. Set the provider's app_secret (admin API or answers.json) to your Meta app's secret.`,
        );
        return answer(401, 'no_app_secret', { message: 'signature cannot be verified: no app secret configured' });
      }
      const header = req.headers[SIGNATURE_HEADER];
      if (!verifySignature(raw, typeof header === 'string' ? header : undefined, target.appSecret)) {
        return answer(401, 'bad_signature', { message: 'invalid or missing X-Hub-Signature-256' });
      }
    }

    // Signed and JSON (the body parser answered 400 otherwise): whatever its shape, it is kept and acknowledged, so
    // that Meta never retries it for days (another product on the same URL, a shape Meta adds tomorrow, …).
    const webhook = parseWebhook(req.body);
    if (!webhook.ok) {
      try {
        await this.recorder.keepNonconforming({ target, reason: webhook.reason, body: req.body, rawBody: raw });
      } catch (err) {
        this.log.error(`could not keep a non-conforming webhook (answering 503 so Meta retries): ${(err as Error).message}`);
        return answer(HttpStatus.SERVICE_UNAVAILABLE, 'unavailable', { message: 'temporarily unavailable, retry' });
      }
      this.metrics.nonconforming.inc({ problem: 'not_whatsapp' });
      this.log.warn(`kept a signed webhook for ${tenant}/${team} that is not a WhatsApp notification: ${webhook.reason.slice(0, 200)}`);
      return answer(200, 'nonconforming', { received: true });
    }

    try {
      const outcome = await this.recorder.record({ target, webhook, rawBody: raw });
      for (const problem of outcome.nonconforming) this.metrics.nonconforming.inc({ problem });
      const duplicate = outcome.messages + outcome.statuses > 0 && outcome.newMessages + outcome.newStatuses === 0;
      const kind = outcome.keptRaw
        ? 'kept_raw'
        : outcome.dropped && !outcome.messages && !outcome.statuses
          ? 'dropped'
          : duplicate
            ? 'duplicate'
            : outcome.problems
              ? 'accepted_escaped'
              : 'accepted';
      answer(200, kind, { received: true });
    } catch (err) {
      this.log.error(`could not record a webhook (answering 503 so Meta retries): ${(err as Error).message}`);
      answer(HttpStatus.SERVICE_UNAVAILABLE, 'unavailable', { message: 'temporarily unavailable, retry' });
    }
  }
}
