// The part of @gtc/whatsapp this package relies on: reply content types and kinds, media kinds, WhatsApp's content
// limits, and the shared JSON helpers (record check, field paths).
import { buildMessageBody, type ContentError, type ReplyContent } from '@gtc/whatsapp';

export {
  MEDIA_KINDS,
  REPLY_CONTENT_DESCRIPTIONS,
  REPLY_CONTENT_KEYS,
  formatPath,
  isMediaKind,
  isRecord,
  replyContentJsonSchemas,
  validateReplyContent,
  type ContentError,
  type MediaKind,
  type ReplyContent,
  type ReplyKind,
} from '@gtc/whatsapp';

/** Checks rendered reply content (placeholders substituted) against the limits that apply when it is sent. */
export function validateRenderedContent(content: ReplyContent): ContentError[] {
  const built = buildMessageBody(content, 'recipient');
  return built.ok ? [] : built.errors.filter((e) => e.path !== 'to');
}
