// The structure of a .ygtc file as a zod schema; also published as JSON Schema (schema/ygtc.schema.json).
import { z } from 'zod';
import { MEDIA_KINDS, REPLY_CONTENT_DESCRIPTIONS, REPLY_CONTENT_KEYS, type ReplyKind, replyContentJsonSchemas } from './whatsapp.contract';

/** Node ids: a letter or underscore, then letters, digits, `_` or `-` (at most 64 characters). */
export const NODE_ID_PATTERN = /^[A-Za-z_][A-Za-z0-9_-]{0,63}$/;
/** Session variable names: identifiers usable as `vars.<name>` and `{{name}}`. */
export const VAR_NAME_PATTERN = /^[A-Za-z_][A-Za-z0-9_]{0,63}$/;

const nodeId = z
  .string()
  .regex(NODE_ID_PATTERN, 'node id must start with a letter or _ and contain only letters, digits, _ or -')
  .describe('A node id in this flow');
const varName = z
  .string()
  .regex(VAR_NAME_PATTERN, 'variable name must be an identifier (letters, digits, _; not starting with a digit)');
const expression = z.string().min(1, 'expression must not be empty').describe('A CEL expression');
const oneOrMany = (s: z.ZodString) => z.union([s, z.array(s).min(1)]);
const CONTENT_JSON = replyContentJsonSchemas();
/**
 * A reply content key: loose here (the loader checks it with validateReplyContent, for messages that name the
 * field), published to editors with @gtc/whatsapp's description and JSON Schema of it, which carries Meta's content
 * limits. `message` may be a string; every other kind is an object.
 */
const content = (key: ReplyKind) =>
  (key === 'message' ? z.union([z.string(), z.looseObject({})]) : z.looseObject({}))
    .meta({ description: REPLY_CONTENT_DESCRIPTIONS[key], ...CONTENT_JSON[key] })
    .optional();
/** One optional field per reply kind, in REPLY_CONTENT_KEYS order (a new kind appears here without an edit). */
const contentFields = Object.fromEntries(REPLY_CONTENT_KEYS.map((key) => [key, content(key)])) as Record<
  ReplyKind,
  ReturnType<typeof content>
>;
const CONTENT_KEY_LIST = REPLY_CONTENT_KEYS.join(', ');

/** Config of a `reply` node: exactly one content key plus `retry_on_rate_limit`. */
export const replyConfigSchema = z
  .object({
    ...contentFields,
    retry_on_rate_limit: z
      .boolean()
      .optional()
      .describe('Retry when WhatsApp rate-limits the send (default true)'),
  })
  .strict()
  .superRefine((c, ctx) => {
    const keys = REPLY_CONTENT_KEYS.filter((k) => c[k] !== undefined);
    if (keys.length !== 1) {
      ctx.addIssue({
        code: 'custom',
        message:
          keys.length === 0
            ? `reply config needs one of ${CONTENT_KEY_LIST}`
            : `reply config must have exactly one of ${CONTENT_KEY_LIST} (found ${keys.join(', ')})`,
      });
    }
  });

const replyNode = z
  .object({ id: nodeId, type: z.literal('reply'), config: replyConfigSchema, next: nodeId.optional() })
  .strict()
  .describe('Sends a message; without `next` the run ends after it');

const branchNode = z
  .object({
    id: nodeId,
    type: z.literal('branch'),
    config: z
      .object({
        conditions: z
          .array(z.object({ expression, next: nodeId }).strict())
          .min(1, 'a branch needs at least one condition'),
        default: nodeId.optional(),
      })
      .strict(),
  })
  .strict()
  .describe('Goes to the `next` of the first condition that is true, else to `default`');

const setNode = z
  .object({
    id: nodeId,
    type: z.literal('set'),
    config: z.object({ vars: z.record(varName, expression) }).strict(),
    next: nodeId.optional(),
  })
  .strict()
  .describe('Assigns session variables from CEL expressions, in order');

const waitNode = z
  .object({
    id: nodeId,
    type: z.literal('wait'),
    config: z.object({ var: varName.describe("Variable that receives the contact's next message text") }).strict(),
    next: nodeId,
  })
  .strict()
  .describe("Pauses until the contact's next message, stores it in `vars`, continues at `next`");

const handoffNode = z
  .object({
    id: nodeId,
    type: z.literal('handoff'),
    config: z.object({ reason: z.string().optional() }).strict().optional(),
  })
  .strict()
  .describe('Stops the bot for this contact until an operator releases it');

const endNode = z
  .object({ id: nodeId, type: z.literal('end'), config: z.object({}).strict().optional() })
  .strict()
  .describe('Ends the run');

/** Any node of a flow, discriminated by `type`. */
export const nodeSchema = z.discriminatedUnion('type', [replyNode, branchNode, setNode, waitNode, handoffNode, endNode]);

const target = nodeId.describe('The node a matching message starts at');
const mediaType = z.enum(MEDIA_KINDS);

/** Any trigger of a flow, discriminated by `type`. */
export const triggerSchema = z.discriminatedUnion('type', [
  z
    .object({
      type: z.literal('interactive'),
      target,
      id: oneOrMany(z.string().min(1)).optional().describe('Only these button_reply / list_reply ids'),
      reply_type: z.enum(['button_reply', 'list_reply']).optional(),
    })
    .strict(),
  z
    .object({
      type: z.literal('button'),
      target,
      payload: oneOrMany(z.string().min(1)).optional().describe('Only these template quick-reply payloads'),
    })
    .strict(),
  z
    .object({
      type: z.literal('message'),
      target,
      keyword: oneOrMany(z.string().min(1)).optional().describe('Case-insensitive whole-text or whole-word match'),
      regex: z.string().min(1).optional().describe('Case-insensitive RE2 regular expression (linear-time; no backreferences or lookaround) on the first 4096 characters of the text'),
    })
    .strict(),
  z
    .object({ type: z.literal('media'), target, media_type: z.union([mediaType, z.array(mediaType).min(1)]).optional() })
    .strict(),
  z.object({ type: z.literal('location'), target }).strict(),
  z.object({ type: z.literal('any'), target }).strict(),
  z.object({ type: z.literal('default'), target }).strict(),
]);

/** A whole .ygtc file. */
export const flowFileSchema = z
  .object({
    name: z
      .string()
      .regex(/^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$/, 'flow name must contain only letters, digits, _, . or -')
      .describe('Flow name, unique per team'),
    version: z.union([z.string().min(1), z.number()]).describe('Flow version, e.g. "1.0" (quote it)'),
    nodes: z.array(nodeSchema).min(1, 'a flow needs at least one node'),
    triggers: z.array(triggerSchema).optional(),
  })
  .strict()
  .describe('A gtc conversation flow (.ygtc)');

/** A fragment: a bare list of nodes, as the provider page shows them. */
export const fragmentSchema = z.array(nodeSchema).min(1, 'a fragment needs at least one node');

/** The parsed shape of a .ygtc file. */
export type FlowFile = z.infer<typeof flowFileSchema>;
/** The parsed shape of one node. */
export type FlowNodeInput = z.infer<typeof nodeSchema>;
/** The parsed shape of one trigger. */
export type FlowTriggerInput = z.infer<typeof triggerSchema>;

/** The JSON Schema of a .ygtc file, for editors (committed at schema/ygtc.schema.json). */
export function flowJsonSchema(): Record<string, unknown> {
  const schema = z.toJSONSchema(flowFileSchema, { target: 'draft-2020-12', io: 'input', unrepresentable: 'any' });
  return {
    $id: 'https://gtc.dev/schema/ygtc.schema.json',
    title: 'gtc flow (.ygtc)',
    ...schema,
  };
}
