import { Injectable, Logger, OnApplicationBootstrap, OnModuleDestroy } from '@nestjs/common';
import { AppConfig } from '@gtc/config';
import { Prisma, PrismaService } from '@gtc/db';
import { createWorker, jobIds, OutboundJob, OutboundProducer, QueueName, QueueService, RedisService } from '@gtc/queue';
import { checkTemplateSend, classifyGraphError, GRAPH_ERROR_ACTIONS, GraphApiClient, GraphApiError, GraphMessageBody, TemplateSend } from '@gtc/whatsapp';
import { DelayedError, Job, Worker } from 'bullmq';
import { orderingWait, releasesNext } from './ordering-gate';
import { OutboundStore, SendableMessage } from './outbound.store';
import { ProviderRegistry, SendingProvider } from './provider-registry.service';
import { SenderMetrics } from './sender.metrics';
import { AppliedStatus, StatusApplier } from './status-applier.service';

const FINAL = new Set(['sent', 'delivered', 'read', 'failed']);
const WINDOW_MS = 24 * 3600 * 1000;
const PAUSED_RECHECK_MS = 30_000;
/** A confirmed slot this close is waited for in process; a later one goes back to BullMQ's delayed set. */
const SHORT_WAIT_MS = 250;

/** Exponential backoff with full jitter, capped. */
function backoff(attempt: number, baseMs: number, capMs: number): number {
  const ceiling = Math.min(capMs, baseMs * 2 ** Math.max(0, attempt - 1));
  return Math.round(ceiling / 2 + Math.random() * (ceiling / 2));
}

/**
 * Sends outbound messages. Per message: never twice (a row with a wamid is final; a send whose outcome is
 * unknown waits for a status carrying our id before any retry), in order per recipient (ordering gate), within
 * the number's limits (reserved slots), inside the 24-hour window, never business-initiated to opted-out
 * contacts; failures handled by class (throttled, transient, window_closed, permanent, auth, account): see
 * GRAPH_ERROR_CODES and GRAPH_ERROR_ACTIONS in @gtc/whatsapp.
 */
@Injectable()
export class OutboundWorker implements OnApplicationBootstrap, OnModuleDestroy {
  private readonly log = new Logger(OutboundWorker.name);
  private worker?: Worker<OutboundJob>;
  private readonly graph: GraphApiClient;

  constructor(
    private readonly prisma: PrismaService,
    private readonly store: OutboundStore,
    private readonly providers: ProviderRegistry,
    private readonly statuses: StatusApplier,
    private readonly producer: OutboundProducer,
    private readonly queues: QueueService,
    private readonly redis: RedisService,
    private readonly metrics: SenderMetrics,
    private readonly config: AppConfig,
  ) {
    this.graph = new GraphApiClient({ baseUrl: config.env.GRAPH_API_BASE_URL, timeoutMs: config.env.GRAPH_API_TIMEOUT_MS, connections: 64 });
  }

  onApplicationBootstrap(): void {
    this.worker = createWorker(this.redis, QueueName.Outbound, (job, token) => this.handle(job, token ?? ''), this.config.env.SENDER_CONCURRENCY, this.log);
  }

  async onModuleDestroy(): Promise<void> {
    await this.worker?.close();
    await this.graph.close();
  }

  /** Puts the job back until `ms` from now (BullMQ's delayed set); the row stays as it is. */
  private async later(job: Job<OutboundJob>, token: string, ms: number, data?: OutboundJob): Promise<never> {
    if (data) await job.updateData(data);
    await job.moveToDelayed(Date.now() + Math.max(1, Math.round(ms)), token);
    throw new DelayedError();
  }

  private async handle(job: Job<OutboundJob>, token: string): Promise<void> {
    const m = await this.store.load(job.data.outboundId);
    if (!m || FINAL.has(m.state)) return; // gone, or already sent: never twice
    let p = await this.providers.get(m.providerId);
    if (!p) return;
    // A cached pause is read again before holding the message: a resume (which wakes its jobs) applies at once.
    if (p.pausedAt) p = await this.providers.fresh(m.providerId);
    if (!p) return;
    if (p.pausedAt) return this.later(job, token, PAUSED_RECHECK_MS);

    if (m.state === 'sending' || m.state === 'unknown') {
      // An earlier attempt may have reached Meta: a status carrying our id says it did (whatever became of
      // that status's job); without one, wait for it before sending again.
      if (await this.statuses.adoptRecorded(m.id)) return;
      const due = m.sendingAtMs + this.config.env.UNKNOWN_SEND_RECONCILE_MS;
      if (Date.now() < due) {
        if (m.state === 'sending') await this.setState(m.id, ['sending'], { state: 'unknown' });
        return this.later(job, token, due - Date.now());
      }
      const reset = await this.setState(m.id, ['sending', 'unknown'], { state: 'queued' });
      if (!reset) return;
      this.metrics.retries.inc({ class: 'unknown' });
    }

    const blocked = orderingWait(p, m.earlier);
    if (blocked !== null) {
      this.metrics.orderingWaits.inc();
      return this.later(job, token, blocked, { outboundId: m.id });
    }

    if (m.businessInitiated && m.optedOut) return this.fail(m, 'opted_out', 'the contact has opted out of business-initiated messages');
    if (m.type !== 'template' && (m.lastInboundAtMs === null || Date.now() - m.lastInboundAtMs > WINDOW_MS)) {
      return this.fail(m, 'window_closed', 'the 24-hour customer service window is closed: only templates may be sent');
    }

    if (m.type === 'template') {
      // Checked against the synced templates before calling Meta (nothing synced: Meta is the judge).
      const synced = await this.providers.syncedTemplates(p.id);
      const problems = synced.length ? checkTemplateSend((m.body as unknown as { template: TemplateSend }).template, synced) : [];
      if (problems.length) return this.fail(m, 'permanent', problems.join('; '));
    }

    const request = { messageId: m.id, recipient: (m.body as { to?: string }).to ?? m.contactId, businessInitiated: m.businessInitiated };
    if (job.data.slotAt === undefined) {
      // Not planned yet (enqueued by the admin API or the reconciler): take a place in the schedule first.
      const plan = await this.producer.limiter.reserve(p.limits, request, 'plan');
      if (plan.at > Date.now() + 2) {
        this.metrics.limitWaitSeconds.observe((plan.at - Date.now()) / 1000);
        return this.later(job, token, plan.at - Date.now(), { outboundId: m.id, slotAt: plan.at });
      }
    }
    if (!(await this.store.claim(m.id))) return;
    // Confirmed against actual sends right before the request (after the claim, so no database time sits
    // between slot and request): this is what holds the limits.
    const slot = await this.producer.limiter.reserve(p.limits, request, 'send', SHORT_WAIT_MS, Date.now(), (_, since) => this.tierLog(p.id, since));
    if (!slot.held) {
      await this.setState(m.id, ['sending'], { state: 'queued', attempts: { decrement: 1 } });
      this.metrics.limitWaitSeconds.observe((slot.at - Date.now()) / 1000);
      return this.later(job, token, slot.at - Date.now(), { outboundId: m.id, slotAt: slot.at });
    }
    const wait = slot.at - Date.now();
    if (wait > 0) await new Promise((r) => setTimeout(r, wait));
    const attempts = m.attempts + 1;
    const started = process.hrtime.bigint();
    try {
      const { wamid } = await this.graph.sendMessage({
        apiVersion: p.apiVersion,
        phoneNumberId: p.phoneNumberId,
        accessToken: p.accessToken,
        body: { ...(m.body as unknown as GraphMessageBody), biz_opaque_callback_data: m.id },
      });
      this.metrics.sendSeconds.observe(Number(process.hrtime.bigint() - started) / 1e9);
      await this.recordSent(m, p, wamid);
    } catch (err) {
      this.metrics.sendSeconds.observe(Number(process.hrtime.bigint() - started) / 1e9);
      await this.onError(job, token, m, p, err, attempts);
    }
  }

  /**
   * The number's tier log as Postgres knows it (rebuilt when Redis lost it): each send since `sinceMs`, or with
   * TIER_COUNTING=recipients each business-initiated recipient, with when it last took a slot. A message in flight
   * (sending, unknown) holds its slot too.
   */
  private async tierLog(providerId: string, sinceMs: number): Promise<{ member: string; at: number }[]> {
    const recipients = this.config.env.TIER_COUNTING === 'recipients';
    const { rows } = await this.prisma.pool.query<{ member: string; at: number }>({
      text: `SELECT ${recipients ? `'r:' || COALESCE(body->>'to', contact_id::text)` : 'id::text'} AS member,
              max(extract(epoch from COALESCE(sending_at, sent_at)) * 1000)::float8 AS at
       FROM outbound_messages
       WHERE provider_id = $1::uuid AND COALESCE(sending_at, sent_at) >= to_timestamp($2 / 1000.0) AT TIME ZONE 'UTC'
         AND (sent_at IS NOT NULL OR state IN ('sending', 'unknown'))${recipients ? ' AND business_initiated' : ''}
       GROUP BY 1`,
      values: [providerId, sinceMs],
    });
    return rows;
  }

  /** Records the wamid, applies statuses that came first, and wakes the next message if this released it. */
  private async recordSent(m: SendableMessage, p: SendingProvider, wamid: string): Promise<void> {
    const pending = await this.store.recordSent(m.id, wamid);
    this.metrics.outcomes.inc({ tenant: m.tenantId, state: 'sent' });
    const applied = pending ? await this.statuses.applyPending(wamid) : [];
    for (const a of applied) await this.pauseOnFailedStatus(a);
    if (releasesNext(p.ordering, 'sent') || applied.some((a) => releasesNext(p.ordering, a.state))) await this.wakeNext(m);
  }

  private async onError(job: Job<OutboundJob>, token: string, m: SendableMessage, p: SendingProvider, err: unknown, attempts: number): Promise<void> {
    const e = err instanceof GraphApiError ? err : null;
    const cls = e?.errorClass ?? 'transient';
    const reason = `${cls}${e?.code ? ` (${e.code})` : ''}: ${(err as Error).message}`;
    this.metrics.retries.inc({ class: cls });
    if (e?.outcomeUnknown) {
      // It may have left: hold as unknown and let status webhooks (carrying our id) tell, before any retry.
      await this.setState(m.id, ['sending'], { state: 'unknown', lastError: reason, errorClass: cls });
      return this.later(job, token, this.config.env.UNKNOWN_SEND_RECONCILE_MS);
    }
    if (GRAPH_ERROR_ACTIONS[cls] === 'pause_provider') {
      // The number (credentials or account), not the message, is broken: stop the number, keep this message and
      // every other one queued until an admin resumes it.
      await this.providers.pause(p.id, { errorClass: cls, code: e?.code, reason });
      const what = cls === 'auth' ? 'its credentials' : 'its business account or number';
      this.log.error(`paused provider ${p.phoneNumberId}: Meta refused ${what} (${reason}); its messages stay queued until resumed`);
      await this.setState(m.id, ['sending'], { state: 'queued', lastError: reason, errorClass: cls, errorCode: e?.code ?? null });
      return this.later(job, token, PAUSED_RECHECK_MS, { outboundId: m.id });
    }
    const max = this.config.env.SEND_MAX_ATTEMPTS;
    switch (cls) {
      case 'window_closed':
        return this.fail(m, 'window_closed', reason, e?.code);
      case 'permanent':
        return this.fail(m, 'permanent', reason, e?.code);
      case 'throttled':
        if (!m.retryOnRateLimit) return this.fail(m, 'throttled', `${reason} (retry_on_rate_limit is false)`, e?.code);
        if (attempts >= max * 3) return this.fail(m, 'throttled', `${reason} (gave up after ${attempts} attempts)`, e?.code);
        await this.setState(m.id, ['sending'], { state: 'queued', lastError: reason, errorClass: cls });
        return this.later(job, token, backoff(attempts, 1_000, 60_000), { outboundId: m.id });
      default:
        if (attempts >= max) return this.fail(m, 'transient', `${reason} (gave up after ${attempts} attempts)`, e?.code);
        await this.setState(m.id, ['sending'], { state: 'queued', lastError: reason, errorClass: cls });
        return this.later(job, token, backoff(attempts, 500, 30_000), { outboundId: m.id });
    }
  }

  /** Fails the message with a reason (dead letter: state failed, error class and text kept on the row). */
  private async fail(m: SendableMessage, errorClass: string, reason: string, code?: number): Promise<void> {
    const done = await this.setState(m.id, ['queued', 'sending', 'unknown'], {
      state: 'failed',
      failedAt: new Date(),
      errorClass,
      errorCode: code ?? null,
      lastError: reason,
    });
    if (!done) return;
    this.metrics.outcomes.inc({ tenant: m.tenantId, state: 'failed' });
    await this.wakeNext(m);
  }

  /** Conditional state change: only from the given states. Returns whether it happened. */
  private async setState(id: string, from: string[], data: Prisma.OutboundMessageUpdateManyMutationInput): Promise<boolean> {
    const r = await this.prisma.client.outboundMessage.updateMany({ where: { id, state: { in: from } }, data });
    return r.count === 1;
  }

  /** The next message to the same recipient may go now: bring its job forward if it is waiting. */
  async wakeNext(m: { contactId: string; seq: number }): Promise<void> {
    const next = await this.store.nextQueued(m.contactId, m.seq);
    if (!next) return;
    const job = await this.queues.queue(QueueName.Outbound).getJob(jobIds.outbound(next));
    if (job && (await job.isDelayed())) await job.promote().catch(() => undefined);
  }

  /**
   * A `failed` status whose code says the number (credentials or account) is broken, not the message (Meta reports
   * 131042 payment or 131031 locked this way too): pause the number so that its queued messages wait for an admin
   * instead of failing one by one. The failed message itself stays failed: it got a wamid, it is never sent again.
   */
  private async pauseOnFailedStatus(applied: AppliedStatus): Promise<void> {
    if (applied.state !== 'failed' || applied.errorCode === null) return;
    const cls = classifyGraphError({ code: applied.errorCode });
    if (GRAPH_ERROR_ACTIONS[cls] !== 'pause_provider') return;
    const reason = `${cls} (${applied.errorCode}): failed status: ${applied.lastError ?? 'failed'}`;
    await this.providers.pause(applied.providerId, { errorClass: cls, code: applied.errorCode, reason });
    this.log.error(`paused provider ${applied.providerId}: ${reason}; its messages stay queued until resumed`);
  }

  /** Called by the status worker after a status moved a message: pauses the number if the failure says so, and wakes the next one if the policy released it. */
  async onStatusApplied(applied: AppliedStatus): Promise<void> {
    await this.pauseOnFailedStatus(applied);
    const p = await this.providers.get(applied.providerId);
    if (p && releasesNext(p.ordering, applied.state)) await this.wakeNext(applied);
  }
}
