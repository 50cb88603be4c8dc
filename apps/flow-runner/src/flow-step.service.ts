import { Injectable } from '@nestjs/common';
import { PoolClient, PrismaService } from '@gtc/db';
import type { CompiledFlow, FlowSession, RunContext, RunResult } from '@gtc/flows';
import { buildMessageBody, InboundMessageEvent, ReplyContent } from '@gtc/whatsapp';
import type { NumberLimits, SlotRequest } from '@gtc/queue';
import type { EngineAnswer, EngineTask } from './engine.worker';
import { FlowCatalog, TeamFlows } from './flow-catalog.service';
import { FlowEngine } from './flow-engine.service';
import { isKeyword, SILENT_TYPES, toFlowEvent } from './flow-event';

/** Why a message was processed the way it was (metrics label and the inbound row's flow_run.outcome). */
export type StepOutcome =
  | 'replied'
  | 'no_reply'
  | 'no_match'
  | 'ignored'
  | 'handoff'
  | 'opted_out'
  | 'opted_in'
  | 'refused_opted_out'
  | 'provider_missing'
  | 'group_skipped'
  | 'error';

/** What one step did. */
export interface StepResult {
  inboundId: string;
  outcome: StepOutcome;
  /** Outbound rows written, to enqueue after commit. */
  outbound: SlotRequest[];
  /** Limits of the number they go out from. */
  limits?: NumberLimits;
  receivedAt: Date;
}

/** Payload of an `inbound_messages` row of type `flow_start` (written by the admin API). */
interface FlowStartPayload {
  flow: string;
  vars?: Record<string, unknown>;
}

interface ContactRow {
  id: string;
  tenant_id: string;
  provider_id: string;
  wa_id: string | null;
  user_id: string | null;
  profile_name: string | null;
  opted_out: boolean;
}

interface InboundRow {
  id: string;
  type: string;
  payload: unknown;
  received_at: Date;
}

/** What the step reads in one statement. */
interface StepRow extends ContactRow {
  message_id: string;
  type: string;
  payload: unknown;
  received_at: Date;
  session_status: string | null;
  node_id: string | null;
  vars: Record<string, unknown> | null;
  flow_name: string | null;
  waiting_flow: CompiledFlow | null;
  previous_at: number | null;
}

interface Plan {
  outcome: StepOutcome;
  replies: { content: ReplyContent; retryOnRateLimit: boolean }[];
  businessInitiated: boolean;
  session?: FlowSession;
  flowName?: string;
  trace?: string[];
  error?: string;
  /** Why the message was not run through a flow, when that needs saying (flow_run.reason). */
  reason?: string;
  /** New opt-out state of the contact, when the message changed it. */
  optedOut?: boolean;
}

const MISSING_SESSION: FlowSession = { status: 'idle', vars: {} };

/** flow_run.reason of a group message (outcome `group_skipped`). */
export const GROUP_SKIP_REASON =
  'group message: flows run one-to-one conversations, so a message written in a WhatsApp group is recorded and not answered';

/**
 * One conversation step = one transaction: lock the contact, take its oldest pending inbound message, run the
 * flow, write the session, the outbound rows (next per-recipient sequence numbers, exact Graph API bodies) and
 * mark the message processed. The contact lock makes steps of one contact strictly sequential across replicas;
 * a crash before commit leaves nothing behind, a re-run after commit finds nothing pending.
 */
@Injectable()
export class FlowStepService {
  constructor(
    private readonly prisma: PrismaService,
    private readonly catalog: FlowCatalog,
    private readonly engine: FlowEngine,
  ) {}

  /**
   * Processes the contact's oldest pending inbound message; null when none is pending. Five round trips: BEGIN,
   * the contact's lock, one read (message, session, previous message time), one write (sequence numbers, outbound
   * rows, session, contact opt-out state, message processed), COMMIT.
   */
  async processNext(contactId: string): Promise<StepResult | null> {
    const db = await this.prisma.pool.connect();
    // A connection lost while checked out (Postgres restarted) errors here; the failing query reports it too.
    const onError = () => undefined;
    db.on('error', onError);
    try {
      await db.query('BEGIN');
      const result = await this.step(db, contactId);
      await db.query('COMMIT');
      db.off('error', onError);
      db.release();
      return result;
    } catch (err) {
      await db.query('ROLLBACK').catch(() => undefined);
      db.off('error', onError);
      // The connection may be broken: destroy it rather than hand it out again.
      db.release(err as Error);
      throw err;
    }
  }

  private async step(db: PoolClient, contactId: string): Promise<StepResult | null> {
    // The lock comes first, in a statement of its own: the read below then takes its snapshot after a concurrent
    // step of this contact committed, so it never picks up the message that step just processed.
    await db.query({
      name: 'step-lock',
      text: `SELECT 1 FROM contacts WHERE id = $1::uuid FOR UPDATE`,
      values: [contactId],
    });
    const { rows } = await db.query<StepRow>({
      name: 'step-read',
      text: `SELECT c.id, c.tenant_id, c.provider_id, c.wa_id, c.user_id, c.profile_name, c.opted_out,
              m.id AS message_id, m.type, m.payload, m.received_at,
              s.status AS session_status, s.node_id, s.vars, f.name AS flow_name,
              CASE WHEN s.status = 'waiting' THEN f.compiled END AS waiting_flow,
              (SELECT extract(epoch FROM COALESCE(p.sent_at, p.received_at))::float8 FROM inbound_messages p
                WHERE p.contact_id = c.id AND p.arrival < m.arrival AND p.type <> 'flow_start'
                ORDER BY p.arrival DESC LIMIT 1) AS previous_at
       FROM contacts c
       JOIN LATERAL (SELECT id, type, payload, arrival, received_at FROM inbound_messages
                     WHERE contact_id = c.id AND state = 'pending' ORDER BY arrival LIMIT 1) m ON true
       LEFT JOIN sessions s ON s.contact_id = c.id
       LEFT JOIN flows f ON f.id = s.flow_id
       WHERE c.id = $1::uuid`,
      values: [contactId],
    });
    const r = rows[0];
    if (!r) return null;
    const contact: ContactRow = r;
    const message: InboundRow = { id: r.message_id, type: r.type, payload: r.payload, received_at: r.received_at };
    const team = await this.catalog.get(contact.provider_id, db);
    const session: FlowSession = r.session_status
      ? { status: r.session_status as FlowSession['status'], flowName: r.flow_name ?? undefined, nodeId: r.node_id ?? undefined, vars: r.vars ?? {} }
      : MISSING_SESSION;
    const context: RunContext = {
      contact: { wa_id: contact.wa_id ?? undefined, user_id: contact.user_id ?? undefined, name: contact.profile_name ?? undefined, opted_out: contact.opted_out },
      lastMessageTime: r.previous_at ? Math.floor(r.previous_at) : 0,
      now: Math.floor(Date.now() / 1000),
    };

    const plan: Plan = team
      ? await this.plan(message, contact, team, session, r.waiting_flow ?? undefined, context)
      : { outcome: 'provider_missing', replies: [], businessInitiated: false };
    const to = contact.wa_id ?? contact.user_id ?? '';
    const bodies: { type: string; body: string; retryOnRateLimit: boolean }[] = [];
    for (const [i, reply] of plan.replies.entries()) {
      const built = buildMessageBody(reply.content, to);
      if (!built.ok) {
        plan.outcome = 'error';
        plan.error = `reply ${i + 1}: ${built.errors.map((e) => `${e.path}: ${e.message}`).join('; ')}`;
        bodies.length = 0;
        break;
      }
      bodies.push({ type: built.type, body: JSON.stringify(built.body), retryOnRateLimit: reply.retryOnRateLimit });
    }
    const failed = plan.outcome === 'error' || plan.outcome === 'refused_opted_out';
    const s = plan.session;
    const { rows: outbound } = await db.query<{ id: string }>({
      name: 'step-write',
      text: `WITH seq AS (
         UPDATE contacts SET next_seq = next_seq + $2,
           opted_out = COALESCE($3, opted_out),
           opted_out_at = CASE WHEN $3 IS NULL THEN opted_out_at WHEN $3 THEN now() ELSE NULL END,
           updated_at = now()
         WHERE id = $1::uuid RETURNING next_seq - $2 AS first
       ), outb AS (
         INSERT INTO outbound_messages (tenant_id, provider_id, contact_id, seq, cause_id, ordinal, type, body,
                                        business_initiated, retry_on_rate_limit, updated_at)
         SELECT $4::uuid, $5::uuid, $1::uuid, seq.first + x.n - 1, $6, x.n - 1, x.ty, x.b::jsonb, $7, x.r, now()
         FROM seq, unnest($8::text[], $9::text[], $10::bool[]) WITH ORDINALITY AS x(ty, b, r, n)
         RETURNING id, ordinal
       ), sess AS (
         INSERT INTO sessions (tenant_id, contact_id, flow_id, node_id, status, vars, last_error, updated_at)
         SELECT $4::uuid, $1::uuid, $12::uuid, $13, $14, $15::jsonb, $16, now() WHERE $11
         ON CONFLICT (contact_id) DO UPDATE SET flow_id = EXCLUDED.flow_id, node_id = EXCLUDED.node_id,
           status = EXCLUDED.status, vars = EXCLUDED.vars, last_error = EXCLUDED.last_error, updated_at = now()
       ), inb AS (
         -- clock_timestamp(): when the step ran under the lock (now() would be when the transaction began).
         UPDATE inbound_messages SET state = $17, processed_at = clock_timestamp(), error = $16, flow_run = $18::jsonb WHERE id = $6::uuid AND state = 'pending'
       )
       SELECT id FROM outb ORDER BY ordinal`,
      values: [
        contactId,
        bodies.length,
        plan.optedOut ?? null,
        contact.tenant_id,
        contact.provider_id,
        message.id,
        plan.businessInitiated,
        bodies.map((b) => b.type),
        bodies.map((b) => b.body),
        bodies.map((b) => b.retryOnRateLimit),
        !!s,
        s?.status === 'waiting' && s.flowName ? (team?.flowIds.get(s.flowName) ?? null) : null,
        s?.nodeId ?? null,
        s?.status ?? 'idle',
        JSON.stringify(s?.vars ?? {}),
        plan.error ?? null,
        failed ? 'failed' : 'processed',
        JSON.stringify({ outcome: plan.outcome, flow: plan.flowName ?? null, trace: plan.trace ?? [], replies: bodies.length, ...(plan.reason && { reason: plan.reason }) }),
      ],
    });
    return {
      inboundId: message.id,
      outcome: plan.outcome,
      outbound: outbound.map((o) => ({ messageId: o.id, recipient: to, businessInitiated: plan.businessInitiated })),
      limits: team?.limits,
      receivedAt: message.received_at,
    };
  }

  /** Decides what the message does: opt-out/in, handoff, resume a wait, start a flow, or nothing. */
  private async plan(message: InboundRow, contact: ContactRow, team: TeamFlows, session: FlowSession, waitingFlow: CompiledFlow | undefined, context: RunContext): Promise<Plan> {
    if (message.type === 'flow_start') {
      const start = message.payload as FlowStartPayload;
      if (contact.opted_out) return { outcome: 'refused_opted_out', replies: [], businessInitiated: true, error: 'the contact has opted out: business-initiated flows are refused' };
      const flow = team.flows.find((f) => f.name === start.flow);
      if (!flow) return { outcome: 'error', replies: [], businessInitiated: true, error: `no active flow named "${start.flow}"` };
      const answer = await this.runEngine({ kind: 'start', flow, context, vars: { ...session.vars, ...(start.vars ?? {}) } }, flow.name);
      if (!('result' in answer)) return { outcome: 'error', replies: [], businessInitiated: true, error: 'the flow did not run' };
      const { result } = answer;
      // A notification doesn't take a contact out of an operator's hands.
      if (session.status === 'handoff') result.session = { ...session, vars: result.session.vars };
      return this.fromRun(result, flow.name, true);
    }

    const m = message.payload as InboundMessageEvent;
    // Flows are one-to-one conversations (a session, waits, opt-out per person): answering one participant's step in
    // a whole group would post a private conversation to everyone. The message stays in the history, unanswered.
    if (m.groupId !== undefined) {
      return { outcome: 'group_skipped', replies: [], businessInitiated: false, reason: GROUP_SKIP_REASON };
    }
    if (m.type === 'text' && isKeyword(m.text, team.optOutKeywords)) {
      return {
        outcome: 'opted_out',
        replies: [{ content: { message: team.optOutConfirmation }, retryOnRateLimit: true }],
        businessInitiated: false,
        optedOut: true,
        session: { status: 'idle', vars: session.vars },
      };
    }
    if (m.type === 'text' && contact.opted_out && isKeyword(m.text, team.optInKeywords)) {
      return {
        outcome: 'opted_in',
        replies: [{ content: { message: team.optInConfirmation }, retryOnRateLimit: true }],
        businessInitiated: false,
        optedOut: false,
      };
    }
    if (!team.enabled || SILENT_TYPES.has(m.type)) return { outcome: 'ignored', replies: [], businessInitiated: false };
    if (session.status === 'handoff') return { outcome: 'handoff', replies: [], businessInitiated: false };

    const event = toFlowEvent(m);
    const answer =
      session.status === 'waiting' && waitingFlow
        ? await this.runEngine({ kind: 'resume', flow: waitingFlow, context: { ...context, event }, session }, waitingFlow.name)
        : await this.runEngine({ kind: 'match', flows: team.flows, context: { ...context, event }, vars: session.vars });
    if (!('result' in answer)) return { outcome: 'no_match', replies: [], businessInitiated: false };
    return this.fromRun(answer.result, answer.flowName, false);
  }

  /**
   * Runs the engine off the event loop (FlowEngine); a step whose engine work fails or overruns its budget becomes a
   * failed run that leaves the session as it was.
   */
  private async runEngine(task: EngineTask, flowName?: string): Promise<EngineAnswer> {
    try {
      return await this.engine.run(task);
    } catch (err) {
      const session: FlowSession = task.kind === 'resume' ? { status: 'idle', vars: task.session.vars } : { status: 'idle', vars: task.vars };
      return { result: { replies: [], session, trace: [], error: { nodeId: '-', message: (err as Error).message } }, flowName: flowName ?? '' };
    }
  }

  private fromRun(result: RunResult, flowName: string, businessInitiated: boolean): Plan {
    if (result.error) {
      return {
        outcome: 'error',
        replies: [],
        businessInitiated,
        session: result.session,
        flowName,
        trace: result.trace,
        error: `node ${result.error.nodeId}: ${result.error.message}`,
      };
    }
    return {
      outcome: result.replies.length ? 'replied' : 'no_reply',
      replies: result.replies.map((r) => ({ content: r.content, retryOnRateLimit: r.retryOnRateLimit })),
      businessInitiated,
      session: result.session,
      flowName: result.session.flowName ?? flowName,
      trace: result.trace,
    };
  }
}
