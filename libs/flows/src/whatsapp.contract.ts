// The part of @gtc/whatsapp this package relies on: reply content types and WhatsApp's content limits.
import { buildMessageBody, type ContentError, type ReplyContent } from '@gtc/whatsapp';

export { replyContentJsonSchemas, validateReplyContent, type ContentError, type ReplyContent } from '@gtc/whatsapp';

/** Checks rendered reply content (placeholders substituted) against the limits that apply when it is sent. */
export function validateRenderedContent(content: ReplyContent): ContentError[] {
  const built = buildMessageBody(content, 'recipient');
  return built.ok ? [] : built.errors.filter((e) => e.path !== 'to');
}
