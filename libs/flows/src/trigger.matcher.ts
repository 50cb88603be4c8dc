// Chooses the flow and node an inbound message starts, across all of a team's flows, deterministically.
import type { CompiledFlow, CompiledTrigger, FlowEvent } from './flow.types';
import { MAX_PATTERN_INPUT, compilePattern } from './safe-regex';
import { isMediaKind } from './whatsapp.contract';

/** Normalises a keyword, and the text it is matched against: lower case, collapsed whitespace. */
export function normalizeText(s: string): string {
  return s.toLocaleLowerCase('en').replace(/\s+/gu, ' ').trim();
}

/** How specific a matching trigger is; lower wins. */
export enum MatchRank {
  /** An id, payload or keyword equal to the whole message. */
  Exact = 0,
  /** A keyword found as whole word(s), a regex, or a reply_type / media_type filter. */
  Filtered = 1,
  /** A trigger of the message's type with no filter. */
  Unfiltered = 2,
  /** `any` / `default`. */
  CatchAll = 3,
}

/** The start of a run chosen by matchTrigger. */
export interface TriggerMatch {
  flowName: string;
  nodeId: string;
}

/** True if the trigger's pattern (RE2, case-insensitive) occurs in `text`; a stored pattern RE2 refuses never matches. */
function regexMatches(source: string, text: string): boolean {
  const r = compilePattern(source, true);
  return r.ok && r.re.test(text);
}

function escapeRegExp(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/** True if `keyword` (normalised) occurs in `text` (normalised) as whole word(s). */
export function keywordInText(keyword: string, text: string): boolean {
  if (keyword === text) return true;
  return new RegExp(`(?:^|[^\\p{L}\\p{N}_])${escapeRegExp(keyword)}(?:$|[^\\p{L}\\p{N}_])`, 'u').test(text);
}

/** Returns how specifically `trigger` matches `event`, or null if it does not match. */
export function rankTrigger(trigger: CompiledTrigger, event: FlowEvent): MatchRank | null {
  switch (trigger.type) {
    case 'interactive': {
      const reply = event.type === 'interactive' ? event.interactive : undefined;
      if (!reply) return null;
      if (trigger.replyType && trigger.replyType !== reply.type) return null;
      if (trigger.ids) return trigger.ids.includes(reply.id) ? MatchRank.Exact : null;
      return trigger.replyType ? MatchRank.Filtered : MatchRank.Unfiltered;
    }
    case 'button': {
      const button = event.type === 'button' ? event.button : undefined;
      if (!button) return null;
      if (trigger.payloads) return trigger.payloads.includes(button.payload) ? MatchRank.Exact : null;
      return MatchRank.Unfiltered;
    }
    case 'message': {
      if (event.type !== 'text') return null;
      const raw = (event.text ?? '').slice(0, MAX_PATTERN_INPUT);
      if (trigger.keywords) {
        const text = normalizeText(raw);
        if (trigger.keywords.includes(text)) return MatchRank.Exact;
        return trigger.keywords.some((k) => keywordInText(k, text)) ? MatchRank.Filtered : null;
      }
      if (trigger.regex !== undefined) return regexMatches(trigger.regex, raw) ? MatchRank.Filtered : null;
      return MatchRank.Unfiltered;
    }
    case 'media': {
      if (!isMediaKind(event.type)) return null;
      if (trigger.mediaTypes) return trigger.mediaTypes.includes(event.type) ? MatchRank.Filtered : null;
      return MatchRank.Unfiltered;
    }
    case 'location':
      return event.type === 'location' ? MatchRank.Unfiltered : null;
    case 'any':
      return MatchRank.CatchAll;
  }
}

/**
 * Picks the trigger for an inbound message across all flows: the most specific rank wins
 * (exact id/payload/keyword, then other filters, then unfiltered, then catch-all), ties broken by
 * flow name (code-point order), then by the trigger's position in its file.
 */
export function matchTrigger(flows: CompiledFlow[], event: FlowEvent): TriggerMatch | null {
  let best: { rank: MatchRank; flowName: string; index: number; nodeId: string } | null = null;
  for (const flow of flows) {
    flow.triggers.forEach((trigger, index) => {
      const rank = rankTrigger(trigger, event);
      if (rank === null) return;
      const better =
        !best ||
        rank < best.rank ||
        (rank === best.rank && (flow.name < best.flowName || (flow.name === best.flowName && index < best.index)));
      if (better) best = { rank, flowName: flow.name, index, nodeId: trigger.target };
    });
  }
  const chosen = best as { flowName: string; nodeId: string } | null;
  return chosen ? { flowName: chosen.flowName, nodeId: chosen.nodeId } : null;
}
