import { randomUUID } from 'node:crypto';
import { Injectable } from '@nestjs/common';
import { Flow, Prisma, PrismaService, Team, Tenant } from '@gtc/db';
import { FlowIssue, loadFlow } from '@gtc/flows';
import { formatPath } from '@gtc/whatsapp';
import { JobPayloads, QueueName, QueueService, jobIds } from '@gtc/queue';
import { z } from 'zod';
import { AdminStore } from '../admin.store';
import { ApiError, conflict, notFound } from '../common/api-error';
import { Page } from '../common/pagination';
import { TenantScopeService } from '../common/tenant-scope.service';
import { jsonProblem } from '../common/validation';
import { ContactsService } from '../contacts/contacts.service';
import { checkFlowTemplates } from '../templates/template-check';
import { TemplatesService } from '../templates/templates.service';
import { flowDetailSchema, flowSchema, flowStartSchema, flowSummarySchema, flowUploadSchema, flowValidationSchema } from './flows.schemas';

/** A flow revision as the API shows it. */
export function flowView(f: Flow): z.input<typeof flowSchema> {
  return {
    id: f.id,
    name: f.name,
    version: f.version,
    revision: f.revision,
    file_name: f.fileName,
    active: f.active,
    created_at: f.createdAt,
  };
}

/** A flow revision with its source and compiled form. */
export function flowDetailView(f: Flow): z.input<typeof flowDetailSchema> {
  return { ...flowView(f), source: f.source, compiled: f.compiled };
}

/** A validated flow ready to store, with its warnings. */
interface Checked {
  name: string;
  version: string;
  compiled: Prisma.InputJsonValue;
  warnings: FlowIssue[];
}

/** The line (1-based) where node `id` is declared, for template errors found on the compiled form. */
function nodeLine(source: string, nodeId: string): { line: number; column: number } {
  const lines = source.split(/\r?\n/);
  const escaped = nodeId.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  // One way to split the indent (spaces, then an optional `- ` and spaces): linear on any line, however long.
  const re = new RegExp(`^([ \\t]*(?:-[ \\t]*)?)id:[ \\t]*["']?${escaped}["']?[ \\t]*(#.*)?$`);
  for (let i = 0; i < lines.length; i++) {
    const m = re.exec(lines[i]);
    if (m) return { line: i + 1, column: m[1].length + 1 };
  }
  return { line: 1, column: 1 };
}

/** Flows of a team: validate, upload revisions, list, read, activate/deactivate, delete, start for a contact. */
@Injectable()
export class FlowsService {
  constructor(
    private readonly prisma: PrismaService,
    private readonly store: AdminStore,
    private readonly scope: TenantScopeService,
    private readonly templates: TemplatesService,
    private readonly contacts: ContactsService,
    private readonly queues: QueueService,
  ) {}

  /** Loads and checks a flow (language + templates); 400 `invalid_flow` with every error (file, line, column, path). */
  async check(tenant: Tenant, team: Team, source: string, fileName: string): Promise<Checked> {
    const result = loadFlow(source, fileName);
    if (!result.ok) {
      throw new ApiError(400, 'invalid_flow', `${fileName}: ${result.errors.length} error(s)`, result.errors.map((e) => ({ ...e })));
    }
    // YAML escapes ("\0", "\ud800") can produce text Postgres cannot store even from a storable source.
    const unstorable = jsonProblem(result.flow);
    if (unstorable) {
      const path = formatPath(unstorable.path);
      throw new ApiError(400, 'invalid_flow', `${fileName}: ${path} ${unstorable.message}`, [{ file: fileName, ...(unstorable.path[0] === 'nodes' ? nodeLine(source, String(unstorable.path[1])) : { line: 1, column: 1 }), path, message: unstorable.message }]);
    }
    const synced = await this.templates.forCheck(tenant.id, team.id);
    const tpl = checkFlowTemplates(result.flow, synced);
    const toIssue = (i: { nodeId: string; path: string; message: string }): FlowIssue => ({ file: fileName, ...nodeLine(source, i.nodeId), path: i.path, message: i.message });
    if (tpl.errors.length) {
      throw new ApiError(400, 'invalid_flow', `${fileName}: ${tpl.errors.length} template error(s)`, tpl.errors.map((e) => ({ ...toIssue(e) })));
    }
    return {
      name: result.flow.name,
      version: result.flow.version,
      compiled: result.flow as unknown as Prisma.InputJsonValue,
      warnings: [...result.warnings, ...tpl.warnings.map(toIssue)],
    };
  }

  /** Validates without saving. */
  async validate(tenantSlug: string, teamSlug: string, source: string, fileName: string): Promise<z.input<typeof flowValidationSchema>> {
    const { tenant, team } = await this.scope.team(tenantSlug, teamSlug);
    const checked = await this.check(tenant, team, source, fileName);
    return { valid: true, name: checked.name, version: checked.version, warnings: checked.warnings };
  }

  /**
   * Stores a new revision (revision = previous + 1 per team and name) and, unless activate is false, makes it the
   * active one. Uploading the source of the latest revision again stores nothing (re-activating it if asked).
   */
  async upload(tenantSlug: string, teamSlug: string, source: string, fileName: string | undefined, activate: boolean): Promise<z.input<typeof flowUploadSchema>> {
    const { tenant, team } = await this.scope.team(tenantSlug, teamSlug);
    const file = fileName ?? 'flow.ygtc';
    const checked = await this.check(tenant, team, source, file);
    const { row, created, changed } = await this.prisma.client.$transaction(async (tx) => {
      // Serialise uploads of one team so revisions never collide.
      await this.store.lockTeam(tx, team.id);
      const latest = await tx.flow.findFirst({ where: { teamId: team.id, tenantId: tenant.id, name: checked.name }, orderBy: { revision: 'desc' } });
      if (latest && latest.source === source) {
        if (!activate || latest.active) return { row: latest, created: false, changed: false };
        await tx.flow.updateMany({ where: { teamId: team.id, name: checked.name, active: true }, data: { active: false } });
        return { row: await tx.flow.update({ where: { id: latest.id }, data: { active: true } }), created: false, changed: true };
      }
      if (activate) await tx.flow.updateMany({ where: { teamId: team.id, name: checked.name, active: true }, data: { active: false } });
      const row = await tx.flow.create({
        data: {
          tenantId: tenant.id,
          teamId: team.id,
          name: checked.name,
          version: checked.version,
          revision: (latest?.revision ?? 0) + 1,
          fileName: file,
          source,
          compiled: checked.compiled,
          active: activate,
        },
      });
      return { row, created: true, changed: true };
    });
    return { created, changed, flow: flowView(row), warnings: checked.warnings };
  }

  /** The latest revision of each flow name, with whether (and which revision) is active. */
  async list(tenantSlug: string, teamSlug: string): Promise<Page<z.input<typeof flowSummarySchema>>> {
    const { tenant, team } = await this.scope.team(tenantSlug, teamSlug);
    const rows = await this.prisma.client.flow.findMany({
      where: { teamId: team.id, tenantId: tenant.id },
      orderBy: [{ name: 'asc' }, { revision: 'desc' }],
      select: { id: true, name: true, version: true, revision: true, fileName: true, active: true, createdAt: true },
    });
    const byName = new Map<string, z.input<typeof flowSummarySchema>>();
    for (const r of rows) {
      const entry = byName.get(r.name);
      if (!entry) byName.set(r.name, { ...flowView(r as Flow), active_revision: r.active ? r.revision : null, revisions: 1 });
      else {
        entry.revisions++;
        if (r.active) entry.active_revision = r.revision;
      }
    }
    const data = [...byName.values()].map((e) => ({ ...e, active: e.active_revision !== null }));
    return { data, next_cursor: null };
  }

  /** One revision (the latest unless `revision` is given), with source and compiled form. */
  async get(tenantSlug: string, teamSlug: string, name: string, revision?: number) {
    const row = await this.find(tenantSlug, teamSlug, name, revision);
    return flowDetailView(row);
  }

  /** Every revision of a flow, newest first. */
  async versions(tenantSlug: string, teamSlug: string, name: string): Promise<Page<z.input<typeof flowSchema>>> {
    const { tenant, team } = await this.scope.team(tenantSlug, teamSlug);
    const rows = await this.prisma.client.flow.findMany({ where: { teamId: team.id, tenantId: tenant.id, name }, orderBy: { revision: 'desc' } });
    if (!rows.length) throw notFound(`flow '${name}' not found`);
    return { data: rows.map((r) => flowView(r)), next_cursor: null };
  }

  /** Makes one revision (default: the latest) the active one of its name. */
  async activate(tenantSlug: string, teamSlug: string, name: string, revision?: number) {
    const row = await this.find(tenantSlug, teamSlug, name, revision);
    const updated = await this.prisma.client.$transaction(async (tx) => {
      await tx.flow.updateMany({ where: { teamId: row.teamId, name, active: true, NOT: { id: row.id } }, data: { active: false } });
      return row.active ? row : tx.flow.update({ where: { id: row.id }, data: { active: true } });
    });
    return flowView(updated);
  }

  /** Deactivates every revision of a flow (it no longer runs). */
  async deactivate(tenantSlug: string, teamSlug: string, name: string) {
    const row = await this.find(tenantSlug, teamSlug, name);
    await this.prisma.client.flow.updateMany({ where: { teamId: row.teamId, tenantId: row.tenantId, name, active: true }, data: { active: false } });
    return flowView({ ...row, active: false });
  }

  /** Deletes one revision, or every revision of the flow. */
  async remove(tenantSlug: string, teamSlug: string, name: string, revision?: number): Promise<void> {
    const row = await this.find(tenantSlug, teamSlug, name, revision);
    if (revision !== undefined) await this.prisma.client.flow.delete({ where: { id: row.id } });
    else await this.prisma.client.flow.deleteMany({ where: { teamId: row.teamId, tenantId: row.tenantId, name } });
  }

  /**
   * Starts flow `name` for the contact `to` with variables (contract with the flow-runner): an inbound row
   * `type = 'flow_start'`, `wamid = 'api.<key>'`, `payload = { flow, vars }`, then a job on the inbound queue.
   * The same idempotency key starts it once. An opted-out contact → 409.
   */
  async start(
    tenantSlug: string,
    teamSlug: string,
    name: string,
    to: string,
    variables: Record<string, unknown>,
    idempotencyKey?: string,
  ): Promise<z.input<typeof flowStartSchema>> {
    const { tenant, team, provider } = await this.scope.provider(tenantSlug, teamSlug);
    const active = await this.prisma.client.flow.findFirst({ where: { teamId: team.id, tenantId: tenant.id, name, active: true } });
    if (!active) {
      const any = await this.prisma.client.flow.findFirst({ where: { teamId: team.id, tenantId: tenant.id, name } });
      throw any ? conflict(`flow '${name}' has no active revision`, 'flow_inactive') : notFound(`flow '${name}' not found`);
    }
    const contact = await this.contacts.upsertByWaId(tenant.id, provider.id, to);
    if (contact.optedOut) throw conflict(`contact ${to} has opted out of messages from this number; the flow was not started`, 'contact_opted_out');
    const wamid = `api.${idempotencyKey ?? randomUUID()}`;
    let row = await this.prisma.client.inboundMessage.findUnique({ where: { providerId_wamid: { providerId: provider.id, wamid } } });
    const created = !row;
    if (!row) {
      try {
        row = await this.prisma.client.inboundMessage.create({
          data: {
            tenantId: tenant.id,
            providerId: provider.id,
            contactId: contact.id,
            wamid,
            type: 'flow_start',
            payload: { flow: name, vars: variables } as Prisma.InputJsonValue,
            state: 'pending',
          },
        });
      } catch (err) {
        if (!(err instanceof Prisma.PrismaClientKnownRequestError && err.code === 'P2002')) throw err;
        row = await this.prisma.client.inboundMessage.findUniqueOrThrow({ where: { providerId_wamid: { providerId: provider.id, wamid } } });
      }
    }
    const data: JobPayloads[QueueName.Inbound] = { items: [{ inboundId: row.id, contactId: contact.id }] };
    await this.queues.addBulk(QueueName.Inbound, [{ id: jobIds.inbound(row.id), data }]);
    // The inbound state column holds one of the values the answer schema names.
    return { created, inbound_id: row.id, wamid: row.wamid, flow: name, contact_id: contact.id, state: row.state as z.input<typeof flowStartSchema>['state'] };
  }

  private async find(tenantSlug: string, teamSlug: string, name: string, revision?: number): Promise<Flow> {
    const { tenant, team } = await this.scope.team(tenantSlug, teamSlug);
    const row = await this.prisma.client.flow.findFirst({
      where: { teamId: team.id, tenantId: tenant.id, name, ...(revision !== undefined ? { revision } : {}) },
      orderBy: { revision: 'desc' },
    });
    if (!row) throw notFound(revision !== undefined ? `flow '${name}' has no revision ${revision}` : `flow '${name}' not found`);
    return row;
  }
}
