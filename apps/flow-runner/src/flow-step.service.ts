import { Injectable } from '@nestjs/common';
import { EarlierMessage, EventType, gateWait, PoolClient, PrismaService } from '@gtc/db';
import type { CompiledFlow, FlowSession, RunContext, RunResult } from '@gtc/flows';
import { buildMessageBody, InboundMessageEvent, ReplyContent } from '@gtc/whatsapp';
import type { NumberLimits, OutboundSend } from '@gtc/queue';
import type { EngineAnswer, EngineTask } from './engine.worker';
import { FlowCatalogService, TeamFlows } from './flow-catalog.service';
import { FlowEngineService } from './flow-engine.service';
import { ContactRow, FlowRunnerStore, StepRow } from './flow-runner.store';
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
  contactId: string;
  /** The contact's tenant (id). */
  tenantId: string;
  inboundId: string;
  outcome: StepOutcome;
  /** Outbound rows written, to enqueue after commit; a reply to a user's message carries its arrival (causeAt). */
  outbound: OutboundSend[];
  /** Limits of the number they go out from. */
  limits?: NumberLimits;
  receivedAt: Date;
}

/** Payload of an `inbound_messages` row of type `flow_start` (written by the admin API). */
interface FlowStartPayload {
  flow: string;
  vars?: Record<string, unknown>;
}

interface InboundRow {
  id: string;
  type: string;
  payload: unknown;
  received_at: Date;
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
/** What holds a step's later reply: the step's first reply, just written (queued). */
const STEP_REPLY_BEFORE: EarlierMessage = { state: 'queued', sentAtMs: null, sendingAtMs: null };

/** flow_run.reason of a group message (outcome `group_skipped`). */
export const GROUP_SKIP_REASON =
  'group message: flows run one-to-one conversations, so a message written in a WhatsApp group is recorded and not answered';

/** One contact's share of an inbound job: the ids of its messages listed there. */
export interface ContactWork {
  contactId: string;
  inboundIds: string[];
}

/** One step planned and built, ready for the batch's write. */
interface StepWrite {
  row: StepRow;
  plan: Plan;
  bodies: { type: string; body: string; retryOnRateLimit: boolean }[];
  flowId: string | null;
  to: string;
  limits?: NumberLimits;
}

/** A contact of a job being worked on: its listed messages not processed yet. */
interface Pending {
  contactId: string;
  listed: Set<string>;
}

/** The event a step is for the tenant's endpoints, if any (EventData: the contact is added by the statement). */
function stepEvent(w: StepWrite): { type: EventType; extra: Record<string, unknown> } | null {
  if (w.plan.outcome === 'opted_out') return { type: 'contact.opted_out', extra: { via: 'keyword' } };
  if (w.plan.outcome === 'opted_in') return { type: 'contact.opted_in', extra: { via: 'keyword' } };
  if (w.plan.session?.status === 'handoff' && w.row.session_status !== 'handoff') {
    return { type: 'conversation.handoff', extra: { state: 'started', flow: w.plan.flowName ?? null, via: 'flow' } };
  }
  return null;
}

/** Rounds (one step per contact each) in one transaction: a contact that keeps writing cannot hold the batch open. */
const MAX_ROUNDS = 20;

/**
 * Conversation steps, a batch of contacts per transaction: lock the contacts (contactLockKeySql; a batch never
 * waits for a lock while it holds others, so batches of several replicas never deadlock), then in rounds take each contact's oldest pending inbound message, run the flows,
 * and write every step of the round with one statement: the contacts' sequence numbers and opt-out state, the
 * outbound rows (exact Graph API bodies), the sessions, the messages processed. The contact lock makes steps of
 * one contact strictly sequential across replicas; a crash before commit leaves nothing behind, a re-run after
 * commit finds nothing pending.
 */
@Injectable()
export class FlowStepService {
  constructor(
    private readonly prisma: PrismaService,
    private readonly store: FlowRunnerStore,
    private readonly catalog: FlowCatalogService,
    private readonly engine: FlowEngineService,
  ) {}

  /**
   * Processes each contact's pending messages, oldest first, until none of its listed messages is pending (a
   * message listed but already processed elsewhere lets the contact run until nothing is pending). The batch
   * takes the contacts no other transaction holds; those it skipped are taken after, one at a time, waiting for
   * their lock while holding no other (so a batch never waits while holding locks: no deadlock with ingress or
   * another replica). A batch that fails is taken again one contact at a time, so one contact's failure does not
   * hold the others; the first failure is then thrown (the job is retried, and finds the others done).
   */
  async process(work: ContactWork[]): Promise<StepResult[]> {
    const results: StepResult[] = [];
    let left: Pending[] = work.map((w) => ({ contactId: w.contactId, listed: new Set(w.inboundIds) }));
    while (left.length > 1) {
      let next: { left: Pending[]; skipped: Pending[] };
      try {
        next = await this.transaction(left, results, true);
      } catch {
        left = await this.oneByOne(left, results);
        break;
      }
      left = [...next.left, ...next.skipped];
      if (next.skipped.length === left.length) break; // nothing taken: wait for each in turn
    }
    if (left.length) await this.oneByOne(left, results);
    return results;
  }

  /** Each contact in a transaction of its own (waiting for its lock); throws the first failure after trying all. */
  private async oneByOne(work: Pending[], results: StepResult[]): Promise<Pending[]> {
    let first: unknown;
    for (const w of work) {
      try {
        let left = [w];
        while (left.length) left = (await this.transaction(left, results, false)).left;
      } catch (err) {
        first ??= err;
      }
    }
    if (first) throw first;
    return [];
  }

  /**
   * One transaction of up to MAX_ROUNDS rounds: BEGIN, the contacts' locks (with `skipLocked`, those another
   * transaction holds are skipped; without, the one contact's lock is waited for), then per round one read and one write, COMMIT. Returns the contacts
   * with listed messages still pending (one that reached MAX_ROUNDS) and those skipped.
   */
  private async transaction(work: Pending[], results: StepResult[], skipLocked: boolean): Promise<{ left: Pending[]; skipped: Pending[] }> {
    const db = await this.prisma.pool.connect();
    // A connection lost while checked out (Postgres restarted) errors here; the failing query reports it too.
    const onError = () => undefined;
    db.on('error', onError);
    const done: StepResult[] = [];
    try {
      await this.store.begin(db);
      // The locks come first, in a statement of their own: each read below then takes its snapshot after a
      // concurrent step of these contacts committed, so it never picks up a message that step just processed.
      // Advisory locks (contactLockKeySql): ingress keeps writing the contact rows meanwhile.
      const locked = await this.store.lockContacts(db, work.map((w) => w.contactId), skipLocked);
      const mine = new Set(locked);
      let active = work.filter((w) => mine.has(w.contactId));
      for (let round = 0; round < MAX_ROUNDS && active.length; round++) {
        const steps = await this.round(db, active.map((w) => w.contactId));
        done.push(...steps);
        const stepped = new Map(steps.map((s) => [s.contactId, s.inboundId]));
        active = active.filter((w) => {
          const id = stepped.get(w.contactId);
          if (id === undefined) return false; // nothing pending
          w.listed.delete(id);
          return w.listed.size > 0;
        });
      }
      await this.store.commit(db);
      db.off('error', onError);
      db.release();
      results.push(...done);
      // Not locked: held by another transaction (or deleted meanwhile: taken alone later, it has nothing pending).
      return { left: active, skipped: skipLocked ? work.filter((w) => !mine.has(w.contactId)) : [] };
    } catch (err) {
      await this.store.rollback(db).catch(() => undefined);
      db.off('error', onError);
      // The connection may be broken: destroy it rather than hand it out again.
      db.release(err as Error);
      throw err;
    }
  }

  /** One step for each of the contacts that has a pending message: one read, the flows, one write. */
  private async round(db: PoolClient, contactIds: string[]): Promise<StepResult[]> {
    const rows = await this.store.readRound(db, contactIds);
    if (!rows.length) return [];
    const steps = await Promise.all(rows.map((r) => this.prepare(db, r)));
    const outbound = await this.write(db, steps);
    return steps.map((w) => ({
      contactId: w.row.id,
      tenantId: w.row.tenant_id,
      inboundId: w.row.message_id,
      outcome: w.plan.outcome,
      // causeAt: webhook → reply latency, counted for replies to a user's message (not a flow the admin API started).
      outbound: (outbound.get(w.row.id) ?? []).map(({ id, heldMs }) => ({
        messageId: id,
        recipient: w.to,
        businessInitiated: w.plan.businessInitiated,
        causeAt: w.row.type === 'flow_start' ? undefined : w.row.received_at.getTime(),
        ...(heldMs !== null && { heldMs }),
      })),
      limits: w.limits,
      receivedAt: w.row.received_at,
    }));
  }

  /** Plans one contact's step (flows in the engine's threads) and builds its replies' Graph API bodies. */
  private async prepare(db: PoolClient, r: StepRow): Promise<StepWrite> {
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
    const bodies: StepWrite['bodies'] = [];
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
    const s = plan.session;
    const flowId = s?.status === 'waiting' && s.flowName ? (team?.flowIds.get(s.flowName) ?? null) : null;
    return { row: r, plan, bodies, flowId, to, limits: team?.limits };
  }

  /**
   * Writes a round's steps in one statement (one row per contact in each table it touches). Returns the outbound
   * rows written, per contact, in reply order, each with how long its recipient's ordering gate holds it (null: it
   * may go), as the sender's gate would say now: a later reply of the step waits for the first.
   */
  private async write(db: PoolClient, steps: StepWrite[]): Promise<Map<string, { id: string; heldMs: number | null }[]>> {
    const replies = steps.flatMap((w) => w.bodies.map((b, ordinal) => ({ contactId: w.row.id, ordinal, ...b })));
    const rows = await this.store.writeRound(
      db,
      steps.map((w) => ({
        contactId: w.row.id,
        tenantId: w.row.tenant_id,
        providerId: w.row.provider_id,
        messageId: w.row.message_id,
        n: w.bodies.length,
        optedOut: w.plan.optedOut ?? null,
        businessInitiated: w.plan.businessInitiated,
        hasSession: !!w.plan.session,
        flowId: w.flowId,
        nodeId: w.plan.session?.nodeId ?? null,
        status: w.plan.session?.status ?? 'idle',
        vars: JSON.stringify(w.plan.session?.vars ?? {}),
        error: w.plan.error ?? null,
        state: w.plan.outcome === 'error' || w.plan.outcome === 'refused_opted_out' ? 'failed' : 'processed',
        flowRun: JSON.stringify({ outcome: w.plan.outcome, flow: w.plan.flowName ?? null, trace: w.plan.trace ?? [], replies: w.bodies.length, ...(w.plan.reason && { reason: w.plan.reason }) }),
        eventType: stepEvent(w)?.type ?? null,
        eventExtra: JSON.stringify(stepEvent(w)?.extra ?? {}),
      })),
      replies,
    );
    const byContact = new Map<string, { id: string; heldMs: number | null }[]>();
    const now = Date.now();
    for (const r of rows) {
      if (!r.id || !r.contact_id) continue;
      const heldMs = gateWait(r, now, r.ordinal ? [STEP_REPLY_BEFORE] : []);
      byContact.set(r.contact_id, [...(byContact.get(r.contact_id) ?? []), { id: r.id, heldMs }]);
    }
    return byContact;
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
   * Runs the engine off the event loop (FlowEngineService); a step whose engine work fails or overruns its budget becomes a
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
