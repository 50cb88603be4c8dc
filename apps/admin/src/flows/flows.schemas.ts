import { z } from 'zod';
import { INBOUND_STATES } from '@gtc/db';
import { MAX_FLOW_SOURCE, MAX_VARS_JSON_BYTES } from '@gtc/flows';
import { INT4_MAX, pgJsonObject, pgText } from '../common/validation';
import { apiModel } from '../docs/api-doc';

/** An example flow, as the document shows it. */
const EXAMPLE_FLOW = `name: support
version: "1.0"
nodes:
  - id: greet
    type: reply
    config:
      message: "Hello! How can I help you today?"
triggers:
  - type: message
    keyword: [hi, hello]
    target: greet
`;

/** Body of POST …/flows and …/flows/validate (JSON form; a text/yaml body is the source itself). */
export const uploadFlowSchema = z
  .strictObject({
    file_name: pgText().trim().min(1).max(255).optional().meta({ description: 'Named in errors and warnings; `flow.ygtc` when left out.' }),
    source: pgText()
      .min(1, 'must be the flow YAML')
      .max(MAX_FLOW_SOURCE, `must be at most ${MAX_FLOW_SOURCE} characters`)
      .meta({ description: 'The flow file (`.ygtc` YAML); its `name:` names the flow.' }),
    activate: z.boolean().default(true).meta({ description: 'Make the new revision the active one of its name (the default).' }),
  })
  .meta({ example: { file_name: 'flows/support.ygtc', source: EXAMPLE_FLOW, activate: true } });

/** Query of a text/yaml upload: `?file_name=…&activate=false`. */
export const uploadQuerySchema = z.object({
  file_name: pgText()
    .trim()
    .min(1)
    .max(255)
    .optional()
    .meta({ description: 'With a `text/yaml` body: the file name, named in errors and warnings (`flow.ygtc` when left out). Ignored with a JSON body.' }),
  activate: z
    .enum(['true', 'false'])
    .default('true')
    .transform((v) => v === 'true')
    .meta({ description: 'With a `text/yaml` body: `false` stores the revision without activating it. Ignored with a JSON body.' }),
});

/** Body of POST …/flows/:name/activate. */
export const activateFlowSchema = z.strictObject({
  revision: z.number().int().min(1).max(INT4_MAX).optional().meta({ description: 'The revision to activate; the latest when left out.' }),
});

/** Query `?revision=` of GET/DELETE …/flows/:name (a flow revision is an int4 column). */
export const revisionQuerySchema = z.object({
  revision: z.coerce.number().int().min(1).max(INT4_MAX).optional().meta({ description: 'One revision of the flow; left out: the latest (GET) or every revision (DELETE).' }),
});

/**
 * Variables handed to a flow start: a JSON object Postgres can store, bounded like the session variables the flow
 * engine accepts (MAX_VARS_JSON_BYTES, measured as serialized JSON characters).
 */
export const flowVariablesSchema = pgJsonObject(MAX_VARS_JSON_BYTES);

/** A recipient: the WhatsApp id (phone number with country code, digits, optional leading +). */
export const waIdSchema = z
  .string()
  .trim()
  .regex(/^\+?[0-9]{5,20}$/, 'must be a phone number with country code, digits only (e.g. 4915112345678)')
  .transform((v) => v.replace(/^\+/, ''));

/** Body of POST …/teams/:team/flows/:name/start. */
export const startFlowSchema = z.strictObject({
  to: waIdSchema.meta({ description: "The contact's phone number with country code (a leading + is dropped).", example: '4915112345678' }),
  variables: flowVariablesSchema.default({}).meta({ description: `The flow's variables at its start: a JSON object, at most ${MAX_VARS_JSON_BYTES} characters as JSON.` }),
});

/** Body of POST /v1/tenants/:tenant/flows/start. */
export const startFlowByTenantSchema = z.strictObject({
  team: pgText().min(1).max(200).meta({ description: "The team's slug." }),
  flow: pgText().min(1).max(200).meta({ description: "The flow's name." }),
  to: startFlowSchema.shape.to,
  variables: startFlowSchema.shape.variables,
});

/** A finding of the flow check: where (file, 1-based line and column, path in the document) and what. */
export const flowIssueSchema = z.object({
  file: z.string().meta({ example: 'flows/support.ygtc' }),
  line: z.number().int(),
  column: z.number().int(),
  path: z.string().meta({ description: 'Path in the document, e.g. `nodes[0].config.message`; empty for the document itself.' }),
  message: z.string(),
});

/** A flow revision as the API shows it. */
export const flowSchema = z.object({
  id: z.uuid().meta({ description: 'The id of this revision.' }),
  name: z.string().meta({ description: "The flow's `name:`.", example: 'support' }),
  version: z.string().meta({ description: "The flow's `version:`.", example: '1.0' }),
  revision: z.number().int().meta({ description: 'Upload number of this name in the team: 1, 2, …' }),
  file_name: z.string().nullable(),
  active: z.boolean().meta({ description: 'Whether this revision is the one that runs (at most one per name).' }),
  created_at: z.date(),
});

/** A flow revision with its source and compiled form. */
export const flowDetailSchema = flowSchema.extend({
  source: z.string().meta({ description: 'The uploaded YAML.' }),
  compiled: z.unknown().meta({ description: 'The compiled form the flow-runner executes (JSON).' }),
});

/** A flow in the list: its latest revision, with which revision is active and how many there are. */
export const flowSummarySchema = flowSchema.extend({
  active: z.boolean().meta({ description: 'Whether some revision of the flow is active.' }),
  active_revision: z.number().int().nullable().meta({ description: 'The active revision; null when none is.' }),
  revisions: z.number().int().meta({ description: 'How many revisions the flow has.' }),
});

/** The answer of an upload. */
export const flowUploadSchema = z.object({
  created: z.boolean().meta({ description: 'Whether a new revision was stored (false: the source is that of the latest revision).' }),
  changed: z.boolean().meta({ description: 'Whether anything was written (a new revision, or the latest one activated).' }),
  flow: flowSchema,
  warnings: z.array(flowIssueSchema).meta({ description: 'Findings that do not stop the upload (e.g. templates not checked: none synced yet).' }),
});

/** The answer of a validation: the flow is valid (an invalid one answers 400 `invalid_flow`). */
export const flowValidationSchema = z.object({
  valid: z.literal(true),
  name: z.string(),
  version: z.string(),
  warnings: z.array(flowIssueSchema),
});

/** The answer of a flow start: the inbound row that starts the flow, queued for the flow-runner. */
export const flowStartSchema = z.object({
  created: z.boolean().meta({ description: 'False when this Idempotency-Key had already started it (the first start is answered).' }),
  inbound_id: z.uuid().meta({ description: 'The inbound message row that carries the start.' }),
  wamid: z.string().meta({ description: '`api.<Idempotency-Key>` (or `api.<uuid>` without a key).', example: 'api.order-1234-welcome' }),
  flow: z.string(),
  contact_id: z.uuid(),
  state: z
    .enum(INBOUND_STATES)
    .meta({ description: 'Of the inbound row: `pending` until the flow-runner takes it (a repeated start shows where the first one is).' }),
});

/** The answer schemas of flows, in the document. */
export const FlowModel = apiModel('Flow', flowSchema);
export const FlowDetailModel = apiModel('FlowDetail', flowDetailSchema);
export const FlowSummaryModel = apiModel('FlowSummary', flowSummarySchema);
export const FlowUploadModel = apiModel('FlowUpload', flowUploadSchema);
export const FlowValidationModel = apiModel('FlowValidation', flowValidationSchema);
export const FlowStartModel = apiModel('FlowStart', flowStartSchema);
