import { Injectable, Logger, OnApplicationBootstrap, OnModuleDestroy } from '@nestjs/common';
import { AppConfig } from '@gtc/config';
import { DONE_STATES, orderingWait } from '@gtc/db';
import { createWorker, OutboundJob, QueueName, RedisService, SendLimiter } from '@gtc/queue';
import { checkTemplateSend, GraphApiError, GraphMessageBody, TemplateSend } from '@gtc/whatsapp';
import { GraphApiClient } from '@gtc/whatsapp/graph-api.client';
import { DelayedError, Job, Worker } from 'bullmq';
import { OutboundStore, SendableMessage } from './outbound.store';
import { ProviderService, SendingProvider } from './provider.service';
import { RecipientWaker } from './recipient.waker';
import { decideSendFailure, preSendRefusal } from './send-policy';
import { SenderMetrics } from './sender.metrics';
import { StatusApplierService } from './status-applier.service';

/** Sent (or further) or failed: never sent again. */
const FINAL = new Set<string>(DONE_STATES);
const PAUSED_RECHECK_MS = 30_000;
/** A confirmed slot this close is waited for in process; a later one goes back to BullMQ's delayed set. */
const SHORT_WAIT_MS = 250;

/** The job's data for its next attempt: its row, the arrival it answers (causeAt), and its slot if one is planned. */
const next = (job: Job<OutboundJob>, slotAt?: number): OutboundJob => ({
  outboundId: job.data.outboundId,
  ...(job.data.causeAt !== undefined && { causeAt: job.data.causeAt }),
  ...(slotAt !== undefined && { slotAt }),
});

/**
 * Sends outbound messages. Per message: never twice (a row with a wamid is final; a send whose outcome is
 * unknown waits for a status carrying our id before any retry), in order per recipient (ordering gate), within
 * the number's limits (reserved slots), inside the 24-hour window, never business-initiated to opted-out
 * contacts. What to do about a refusal or a failed request is decided by send-policy.ts (SEND_POLICY by Graph
 * error class); waking the recipient's next message by RecipientWaker.
 */
@Injectable()
export class OutboundWorker implements OnApplicationBootstrap, OnModuleDestroy {
  private readonly log = new Logger(OutboundWorker.name);
  private worker?: Worker<OutboundJob>;
  private readonly graph: GraphApiClient;

  constructor(
    private readonly store: OutboundStore,
    private readonly providers: ProviderService,
    private readonly statuses: StatusApplierService,
    private readonly waker: RecipientWaker,
    private readonly limiter: SendLimiter,
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

  /**
   * Holds the message at its recipient's ordering gate (the delayed set, `ms` at most), then looks at the gate once
   * more: a release that came while this job was running found no waiting job to wake, so this wakes it instead.
   */
  private async hold(job: Job<OutboundJob>, token: string, ms: number): Promise<never> {
    await job.updateData(next(job));
    await job.moveToDelayed(Date.now() + Math.max(1, Math.round(ms)), token);
    await this.waker.wakeIfOpen([job.data.outboundId]).catch((err: Error) => {
      this.log.warn(`could not look again at a held message (${err.message}); it looks again on its own`);
    });
    throw new DelayedError();
  }

  private async handle(job: Job<OutboundJob>, token: string): Promise<void> {
    const m = await this.store.load(job.data.outboundId);
    if (!m) return; // gone
    if (FINAL.has(m.state)) return this.afterSent(m); // already sent: never twice
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
        if (m.state === 'sending') await this.store.setState(m.id, ['sending'], { state: 'unknown' });
        return this.later(job, token, due - Date.now());
      }
      const reset = await this.store.setState(m.id, ['sending', 'unknown'], { state: 'queued' });
      if (!reset) return;
      this.metrics.retries.inc({ class: 'unknown' });
    }

    const blocked = orderingWait(p, m.earlier);
    if (blocked !== null) {
      this.metrics.orderingWaits.inc();
      return this.hold(job, token, blocked);
    }

    const refused = preSendRefusal(m);
    if (refused) return this.fail(m, refused.errorClass, refused.text);

    if (m.type === 'template') {
      // Checked against the synced templates before calling Meta (nothing synced: Meta is the judge).
      const synced = await this.providers.syncedTemplates(p.id);
      const problems = synced.length ? checkTemplateSend((m.body as unknown as { template: TemplateSend }).template, synced) : [];
      if (problems.length) return this.fail(m, 'permanent', problems.join('; '));
    }

    const request = { messageId: m.id, recipient: (m.body as { to?: string }).to ?? m.contactId, businessInitiated: m.businessInitiated };
    if (job.data.slotAt === undefined) {
      // Not planned yet (enqueued by the admin API or the reconciler): take a place in the schedule first.
      const plan = await this.limiter.reserve(p.limits, request, 'plan');
      if (plan.at > Date.now() + 2) {
        this.metrics.limitWaitSeconds.observe((plan.at - Date.now()) / 1000);
        return this.later(job, token, plan.at - Date.now(), next(job, plan.at));
      }
    }
    if (!(await this.store.claim(m.id))) return;
    // Confirmed against actual sends right before the request (after the claim, so no database time sits
    // between slot and request): this is what holds the limits.
    const slot = await this.limiter.confirm(p.limits, request, SHORT_WAIT_MS, (_, since) =>
      this.store.tierLog(p.id, since, this.config.env.TIER_COUNTING === 'recipients'),
    );
    if (slot.retaken) this.metrics.lateSlots.inc(slot.retaken);
    if (!slot.held) {
      await this.store.setState(m.id, ['sending'], { state: 'queued', giveBackAttempt: true });
      this.metrics.limitWaitSeconds.observe((slot.at - Date.now()) / 1000);
      return this.later(job, token, slot.at - Date.now(), next(job, slot.at));
    }
    const attempts = m.attempts + 1;
    const started = process.hrtime.bigint();
    let wamid: string;
    try {
      ({ wamid } = await this.graph.sendMessage({
        apiVersion: p.apiVersion,
        phoneNumberId: p.phoneNumberId,
        accessToken: p.accessToken,
        body: { ...(m.body as unknown as GraphMessageBody), biz_opaque_callback_data: m.id },
      }));
    } catch (err) {
      this.metrics.sendSeconds.observe(Number(process.hrtime.bigint() - started) / 1e9);
      return this.onError(job, token, m, p, err, attempts);
    }
    this.metrics.sendSeconds.observe(Number(process.hrtime.bigint() - started) / 1e9);
    // Meta has it. If it cannot be recorded (Postgres refused or went away), the job fails and the row stays
    // `sending`: an outcome unknown to us, which a status carrying our id settles, never a retry of the request.
    await this.recordSent(m, p, wamid, job.data.causeAt);
  }

  /**
   * Records the wamid, applies statuses that came first (a failed one may pause the number), and wakes the next message
   * if this released it. A reply to a user's message (`causeAt`) is timed from that message's arrival: once, as a row
   * already sent never comes this far again.
   */
  private async recordSent(m: SendableMessage, p: SendingProvider, wamid: string, causeAt?: number): Promise<void> {
    const pending = await this.store.recordSent(m.id, wamid);
    this.metrics.outcomes.inc({ tenant: m.tenantId, state: 'sent' });
    if (causeAt !== undefined) this.metrics.replySeconds.observe(Math.max(0, Date.now() - causeAt) / 1000);
    await this.followSend(m, p.ordering, pending ? wamid : null);
  }

  /**
   * Applies the statuses of `wamid` that came before the send's record (none when null: there are none), then wakes the
   * next message if this released it.
   */
  private async followSend(m: SendableMessage, ordering: string, wamid: string | null): Promise<void> {
    const applied = wamid ? await this.statuses.applyPending(wamid) : [];
    for (const a of applied) await this.providers.pauseOnFailedStatus(a);
    await this.waker.wakeIfReleased(m, ordering, ['sent', ...applied.map((a) => a.state)]);
  }

  /**
   * A job whose message is sent already (its job ran again: the process that recorded the send died before the rest):
   * what recordSent does after the record, once more. A status that came before the send's record, without callback
   * data of our ids' shape, has no job of its own and no sweep: only this applies it then.
   */
  private async afterSent(m: SendableMessage): Promise<void> {
    if (m.state !== 'sent' || !m.wamid) return;
    const p = await this.providers.get(m.providerId);
    if (p) await this.followSend(m, p.ordering, m.wamid);
  }

  /** Carries out the policy's decision about a failed request (decideSendFailure). */
  private async onError(job: Job<OutboundJob>, token: string, m: SendableMessage, p: SendingProvider, err: unknown, attempts: number): Promise<void> {
    const e = err instanceof GraphApiError ? err : null;
    const errorClass = e?.errorClass ?? 'transient';
    const code = e?.code;
    this.metrics.retries.inc({ class: errorClass });
    const decision = decideSendFailure(
      { errorClass, code, message: (err as Error).message, outcomeUnknown: e?.outcomeUnknown ?? false, attempts, retryOnRateLimit: m.retryOnRateLimit },
      this.config.env.SEND_MAX_ATTEMPTS,
    );
    switch (decision.kind) {
      case 'await_status':
        // It may have left: hold as unknown and let status webhooks (carrying our id) tell, before any retry.
        await this.store.setState(m.id, ['sending'], { state: 'unknown', lastError: decision.reason, errorClass });
        return this.later(job, token, this.config.env.UNKNOWN_SEND_RECONCILE_MS);
      case 'pause':
        // The number (credentials or account), not the message, is broken: stop the number, keep this message and
        // every other one queued until an admin resumes it.
        await this.providers.pause(p.id, { errorClass, code, reason: decision.reason });
        await this.store.setState(m.id, ['sending'], { state: 'queued', lastError: decision.reason, errorClass, errorCode: code ?? null });
        return this.later(job, token, PAUSED_RECHECK_MS, next(job));
      case 'fail':
        return this.fail(m, errorClass, decision.reason, code);
      case 'retry':
        await this.store.setState(m.id, ['sending'], { state: 'queued', lastError: decision.reason, errorClass });
        return this.later(job, token, decision.delayMs, next(job));
    }
  }

  /** Fails the message with a reason (dead letter, with its message.failed event) and wakes the next one to its recipient. */
  private async fail(m: SendableMessage, errorClass: string, reason: string, code?: number): Promise<void> {
    if (!(await this.store.fail(m.id, errorClass, reason, code ?? null))) return;
    this.metrics.outcomes.inc({ tenant: m.tenantId, state: 'failed' });
    await this.waker.wakeNext(m);
  }
}
