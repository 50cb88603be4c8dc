// Public types of the .ygtc flow language: compiled flows (plain JSON), issues, inbound events, run results.
import type { MediaKind, ReplyContent } from './whatsapp.contract';

/** A validation finding pointing at a YAML node: `file:line:column path: message`. */
export interface FlowIssue {
  file: string;
  /** 1-based line of the offending YAML node. */
  line: number;
  /** 1-based column of the offending YAML node. */
  column: number;
  /** Path inside the document, e.g. `nodes[0].config.conditions[1].next`; `` for the document itself. */
  path: string;
  message: string;
}

/** A reply node after compilation: the content to send (still with `{{placeholders}}`). */
export interface CompiledReplyNode {
  id: string;
  type: 'reply';
  content: ReplyContent;
  retryOnRateLimit: boolean;
  next?: string;
}

/** A branch node: the first condition that evaluates to true wins, else `default`, else the run ends. */
export interface CompiledBranchNode {
  id: string;
  type: 'branch';
  conditions: Array<{ expression: string; next: string }>;
  default?: string;
}

/** A set node: assigns session variables from expressions, in the order written. */
export interface CompiledSetNode {
  id: string;
  type: 'set';
  vars: Array<{ name: string; expression: string }>;
  next?: string;
}

/** A wait node: pauses until the contact's next message, stores its text in `vars[var]`, continues at `next`. */
export interface CompiledWaitNode {
  id: string;
  type: 'wait';
  var: string;
  next: string;
}

/** A handoff node: stops the bot for this contact until an operator releases it. */
export interface CompiledHandoffNode {
  id: string;
  type: 'handoff';
  reason?: string;
}

/** An end node: ends the run. */
export interface CompiledEndNode {
  id: string;
  type: 'end';
}

/** Any compiled node. */
export type CompiledNode =
  | CompiledReplyNode
  | CompiledBranchNode
  | CompiledSetNode
  | CompiledWaitNode
  | CompiledHandoffNode
  | CompiledEndNode;

/** Trigger kinds; `default` is an alias of `any` and is compiled to `any`. */
export type TriggerType = 'interactive' | 'button' | 'message' | 'media' | 'location' | 'any';

/** Media message kinds a `media` trigger can filter on. */
export type MediaType = MediaKind;

/** A compiled trigger; filters are normalised to lists (lower-cased keywords). */
export interface CompiledTrigger {
  type: TriggerType;
  target: string;
  /** interactive: reply ids to match (button_reply or list_reply id). */
  ids?: string[];
  /** interactive: only this kind of reply. */
  replyType?: 'button_reply' | 'list_reply';
  /** button (template quick reply): payloads to match. */
  payloads?: string[];
  /** message: keywords, lower-cased, whitespace collapsed. */
  keywords?: string[];
  /** message: a JavaScript regular expression source (matched case-insensitively, unicode). */
  regex?: string;
  /** media: only these media kinds. */
  mediaTypes?: MediaType[];
}

/** A flow after validation; plain JSON so it can be stored and reloaded. */
export interface CompiledFlow {
  name: string;
  version: string;
  /** Node ids in file order; the first one is the entry for runs started without a trigger. */
  order: string[];
  nodes: Record<string, CompiledNode>;
  triggers: CompiledTrigger[];
}

/** Result of loading a flow file. */
export type LoadResult =
  | { ok: true; flow: CompiledFlow; warnings: FlowIssue[] }
  | { ok: false; errors: FlowIssue[]; warnings: FlowIssue[] };

/** A normalised inbound WhatsApp message, as the flow-runner hands it to the engine. */
export interface FlowEvent {
  /** The message id (wamid). */
  id: string;
  /** Epoch seconds (Meta's `timestamp`). */
  timestamp: number;
  /** Meta's message type: text, interactive, button, image, video, audio, document, sticker, location, … */
  type: string;
  /** Text body (for `text` messages). */
  text?: string;
  /** Interactive reply (button_reply or list_reply). */
  interactive?: { type: 'button_reply' | 'list_reply'; id: string; title: string; description?: string };
  /** Template quick-reply button. */
  button?: { payload: string; text: string };
  /** Shared location. */
  location?: { latitude: number; longitude: number; name?: string; address?: string };
  /** Media of image/video/audio/document/sticker messages. */
  media?: { id?: string; mime_type?: string; caption?: string; filename?: string };
  /** The click-to-WhatsApp ad or post the user came from (Meta's `referral`). */
  referral?: FlowReferral;
  /** The catalog product the user asked about (Meta's `context.referred_product`). */
  referred_product?: { catalog_id: string; product_retailer_id: string };
}

/** Meta's `referral` of a message, as flows read it (`referral.*`). */
export interface FlowReferral {
  source_url?: string;
  source_id?: string;
  source_type?: string;
  headline?: string;
  body?: string;
  media_type?: string;
  ctwa_clid?: string;
}

/** The contact a run is for. */
export interface FlowContact {
  wa_id?: string;
  user_id?: string;
  name?: string;
  opted_out?: boolean;
}

/** Everything a run may read besides the session: the inbound message (absent for API-started runs) and clocks. */
export interface RunContext {
  event?: FlowEvent;
  contact: FlowContact;
  /** Epoch seconds of the contact's last inbound message before this one; 0 if none. */
  lastMessageTime: number;
  /** Epoch seconds now. */
  now: number;
}

/** A contact's position in the flows plus its variables; persisted by the flow-runner between runs. */
export interface FlowSession {
  status: 'idle' | 'waiting' | 'handoff';
  flowName?: string;
  nodeId?: string;
  vars: Record<string, unknown>;
}

/** One reply to send, content already interpolated. */
export interface RunReply {
  nodeId: string;
  content: ReplyContent;
  retryOnRateLimit: boolean;
}

/** The outcome of one run: replies to send, the new session, the visited node ids and an error if the run failed. */
export interface RunResult {
  replies: RunReply[];
  session: FlowSession;
  trace: string[];
  error?: { nodeId: string; message: string };
}
