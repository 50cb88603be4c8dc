import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseWebhook } from './webhook.parser';
import type { InboundMessageEvent, ParsedWebhook, StatusUpdate, WebhookChange } from './webhook.types';

const FIXTURES = join(__dirname, '..', 'test', 'fixtures');

/** Each pywa fixture file maps a scenario name to one webhook body. */
function fixture(file: string, scenario: string): unknown {
  const all = JSON.parse(readFileSync(join(FIXTURES, file), 'utf8')) as Record<string, unknown>;
  if (!(scenario in all)) throw new Error(`no scenario ${scenario} in ${file}`);
  return all[scenario];
}

function parsed(body: unknown): ParsedWebhook {
  const result = parseWebhook(body);
  if (!result.ok) throw new Error(`rejected: ${result.reason}`);
  return result;
}

function onlyChange(body: unknown): WebhookChange {
  const result = parsed(body);
  expect(result.invalid).toEqual([]);
  expect(result.changes).toHaveLength(1);
  return result.changes[0]!;
}

/** The first raw element of `value.<key>` of the first change, to compare with `raw`. */
function rawItem(body: unknown, key: 'messages' | 'statuses'): unknown {
  return (body as { entry: { changes: { value: Record<string, unknown[]> }[] }[] }).entry[0]!.changes[0]!
    .value[key]![0];
}

const TEST_USER = {
  from: '972987654321',
  userId: 'US.13491208655302741918',
  parentUserId: 'US.ENT.11815799212886844830',
  profileName: 'Test Name',
} as const;
const TEST_CONTACT = {
  waId: '972987654321',
  userId: 'US.13491208655302741918',
  parentUserId: 'US.ENT.11815799212886844830',
  profileName: 'Test Name',
};
const METADATA = { phoneNumberId: '1122334455667', displayPhoneNumber: '972123456789' };

type Expected = Omit<InboundMessageEvent, 'raw'>;

interface MessageCase {
  file: string;
  scenario: string;
  wabaId: string;
  metadata?: object;
  expected: Expected;
}

/**
 * One pywa message scenario: by default in message.json (WABA 1234567890987654321), message wamid.xyzxyz from the
 * test user, a known type whose raw type is the same; `fields` are the type's own (and any default they replace).
 */
function pywa(
  scenario: string,
  timestamp: number,
  type: Expected['type'],
  fields: Partial<Expected> = {},
  where: { file?: string; wabaId?: string; metadata?: object; user?: Partial<Expected> } = {},
): MessageCase {
  return {
    file: where.file ?? 'pywa/message.json',
    scenario,
    wabaId: where.wabaId ?? '1234567890987654321',
    ...(where.metadata && { metadata: where.metadata }),
    expected: { wamid: 'wamid.xyzxyz', timestamp, type, rawType: type, known: true, ...(where.user ?? TEST_USER), ...fields },
  };
}

const BUTTONS = { file: 'pywa/callback_button.json', wabaId: '5467539754836534' };
const SELECTION = { file: 'pywa/callback_selection.json' };
const FLOW_COMPLETION = { file: 'pywa/flow_completion.json' };
const FORWARDED = { context: { forwarded: true } };
const UNSUPPORTED_ERROR = { code: 131051, title: 'Message type unknown', message: 'Message type unknown', details: 'Message type is currently not supported.' };
const FLOW_ANSWERS = { comment_text: 'Comment Text', delivery_rating: '4', purchase_rating: '2', recommend_radio: '0', cs_rating: '0' };

const messageCases: MessageCase[] = [
  pywa('text', 1697043223, 'text', { text: 'Body Text' }),
  pywa('image', 1697043379, 'image', { media: { kind: 'image', id: '65463453', mimeType: 'image/jpeg', sha256: '4654+8g=' } }),
  pywa('media_with_url', 1697043379, 'image', {
    media: {
      kind: 'image',
      id: '65463453',
      mimeType: 'image/jpeg',
      sha256: '4654+8g=',
      url: 'https://lookaside.fbsbx.com/whatsapp_business/attachments/?mid=65463453&source=webhook&ext=487r9re&hash=heiwchueowbcew-dnedcw',
    },
  }),
  pywa('video', 1697044362, 'video', {
    ...FORWARDED,
    media: { kind: 'video', id: '765756756', mimeType: 'video/mp4', sha256: 'Jh+2ij6PzUv/J2y+grrtegr/ZMzRxkEPwc24Oyib4s03w9Jc=', caption: 'caption' },
  }),
  pywa('document', 1697043666, 'document', {
    ...FORWARDED,
    media: {
      kind: 'document',
      id: '1234567890987654321',
      mimeType: 'application/pdf',
      sha256: 'grwfwe/ZPx0wAbdfbdeFUNItPZ0RylL8gGUvdt3YFqc18SY=',
      caption: 'caption',
      filename: 'filename.pdf',
    },
  }),
  pywa('audio', 1697043509, 'audio', {
    ...FORWARDED,
    media: { kind: 'audio', id: '1234567890987654321', mimeType: 'audio/ogg; codecs=opus', sha256: 'E3dxS/PdYZE7ppA3pQ4mpCFaXBJ8pX4SRN/dsfvds/iPGA=', voice: false },
  }),
  pywa('voice', 1697043473, 'audio', {
    media: { kind: 'audio', id: '1234567890987654321', mimeType: 'audio/ogg; codecs=opus', sha256: 'm04pFf2ERdaopTyFkGPA0+bX3i+YY2dYgVFwOgDLSDI=', voice: true },
  }),
  pywa('static_sticker', 1697043760, 'sticker', {
    media: { kind: 'sticker', id: '1234567890987654321', mimeType: 'image/webp', sha256: 'OmT4nhjUhCMIPNmj7eeOZeCYjTXkLxoOv85OMCFwSuc=', animated: false },
  }),
  pywa('animated_sticker', 1697043785, 'sticker', {
    media: { kind: 'sticker', id: '1234567890987654321', mimeType: 'image/webp', sha256: 'HcwyCKrTKXHk0a00ms4HWIA76GY0Du6q4Z/iuwevw=', animated: true },
  }),
  pywa('reaction', 1697044456, 'reaction', { reaction: { messageId: 'wamid.yzxyzx=', emoji: '😮', removed: false } }),
  pywa('unreaction_empty', 1697044456, 'reaction', { reaction: { messageId: 'wamid.yzxyzx=', removed: true } }),
  pywa('unreaction_no_emoji', 1697044456, 'reaction', { reaction: { messageId: 'wamid.yzxyzx=', removed: true } }),
  pywa('current_location', 1697044557, 'location', { ...FORWARDED, location: { latitude: 12.25089, longitude: 43.90539 } }),
  pywa('chosen_location', 1697044557, 'location', {
    ...FORWARDED,
    location: {
      latitude: 37.4611978,
      longitude: -122.2164385,
      name: 'Facebook HQ',
      address: '1 Hacker Way, Menlo Park, CA 94025',
      url: 'https://maps.google.com/?cid=2000000000000000000',
    },
  }),
  pywa('contacts', 1697044621, 'contacts', {
    contacts: [
      { name: { first_name: 'Chandler', last_name: 'Bing', formatted_name: 'Chandler Bing' }, phones: [{ phone: '+1 555-555-5555', wa_id: '972987654321', type: 'CELL' }] },
      { name: { first_name: 'Monica', formatted_name: 'Monica' }, phones: [{ phone: '+1 666-666-6666', wa_id: '972987654321', type: 'HOME' }] },
      { name: { first_name: 'Rachel', last_name: 'Green', formatted_name: 'Rachel Green' }, phones: [{ phone: '+1 777-777-7777', wa_id: '972987654321', type: 'WORK' }] },
    ],
  }),
  pywa('order', 1697044668, 'order', {
    order: {
      catalogId: '354160437058781',
      text: '',
      productItems: [
        { productRetailerId: 'HAMBURGER', quantity: 3, itemPrice: 30, currency: 'ILS' },
        { productRetailerId: 'FRENCH_FRIES', quantity: 2, itemPrice: 35, currency: 'ILS' },
        { productRetailerId: 'SODA', quantity: 2, itemPrice: 10, currency: 'ILS' },
      ],
    },
  }),
  pywa('unsupported', 1697044706, 'unsupported', { errors: [UNSUPPORTED_ERROR] }),
  pywa('unsupported_with_type', 1697044706, 'unsupported', { errors: [UNSUPPORTED_ERROR] }),
  pywa('reply', 1697044746, 'text', { context: { from: '972123456789', id: 'wamid.xyzxyz==' }, text: 'replied text' }),
  pywa('forwarded', 1697044815, 'text', { ...FORWARDED, text: 'forwarded text' }),
  pywa('forwarded_many_times', 1697044968, 'text', { context: { frequentlyForwarded: true }, text: 'text forwarded many times' }),
  // Meta sends an interactive message with no `interactive` object and the error on the change.
  pywa('interactive_message_with_err', 1700505494, 'interactive', { wamid: 'wamid.wegrchytvwcggt=', known: false, context: { from: '972123456789', id: 'wamid.gvwegfretge==' } }),
  pywa('referral', 1697045000, 'text', {
    wamid: 'wamid.ID',
    text: 'BODY',
    referral: {
      sourceUrl: 'AD_OR_POST_FB_URL',
      sourceId: 'ADID',
      sourceType: 'ad or post',
      headline: 'AD_TITLE',
      body: 'AD_DESCRIPTION',
      mediaType: 'image or video',
      imageUrl: 'RAW_IMAGE_URL',
      videoUrl: 'RAW_VIDEO_URL',
      thumbnailUrl: 'RAW_THUMBNAIL_URL',
      ctwaClid: 'CTWA_CLID',
    },
  }),
  pywa('button', 1698266730, 'interactive', { context: { from: '1122334455667', id: 'wamid.xyzxyz' }, interactiveType: 'button_reply', buttonReply: { id: 'callback_data', title: 'title' } }, BUTTONS),
  pywa('quick_reply', 1698269027, 'button', { wamid: 'wamid.xsidjw', context: { from: '972123456789', id: 'wamid.xyzxyz==' }, button: { payload: 'callback_data', text: 'title' } }, BUTTONS),
  pywa('quick_reply_without_context', 1698269027, 'button', { wamid: 'wamid.xsidjx', button: { payload: 'callback_data', text: 'title' } }, BUTTONS),
  pywa('callback', 1698266905, 'interactive', { wamid: 'wamid.zyzxyz', context: { from: '1122334455667', id: 'wamid.xyzxyz' }, interactiveType: 'list_reply', listReply: { id: 'callback_data', title: 'title' } }, SELECTION),
  pywa(
    'description',
    1698266905,
    'interactive',
    { wamid: 'wamid.zyzxyz', context: { from: '1122334455667', id: 'wamid.xyzxyz' }, interactiveType: 'list_reply', listReply: { id: 'callback_data', title: 'title', description: 'description' } },
    SELECTION,
  ),
  pywa(
    'completion',
    1702502473,
    'interactive',
    {
      wamid: 'wamid.wegrchytvwcggt==',
      context: { from: '972123456789', id: 'wamid.gvwegfretge==' },
      interactiveType: 'nfm_reply',
      nfmReply: {
        name: 'flow',
        body: 'Sent',
        responseJson:
          '{"comment_text":"Comment Text","delivery_rating":"4","flow_token":"AQAAAAACS5FpgQ_cAAAAAD0QI3s.","purchase_rating":"2","recommend_radio":"0","cs_rating":"0"}',
        response: { ...FLOW_ANSWERS, flow_token: 'AQAAAAACS5FpgQ_cAAAAAD0QI3s.' },
      },
    },
    FLOW_COMPLETION,
  ),
  pywa(
    'without_flow_token',
    1702502473,
    'interactive',
    {
      wamid: 'wamid.wegrchytvwcggt==',
      context: { from: '972123456789', id: 'wamid.gvwegfretge==' },
      interactiveType: 'nfm_reply',
      nfmReply: {
        name: 'flow',
        body: 'Sent',
        responseJson: '{"comment_text":"Comment Text","delivery_rating":"4","purchase_rating":"2","recommend_radio":"0","cs_rating":"0"}',
        response: FLOW_ANSWERS,
      },
    },
    FLOW_COMPLETION,
  ),
  // No contacts[] at all: no profile name or user id to attach.
  pywa(
    'phone_number_change',
    1753851315,
    'system',
    { wamid: 'wamid.xyzxyz==', system: { type: 'user_changed_number', body: 'User A changed from 972987654321 to 972912345678', newWaId: '972912345678' } },
    { file: 'pywa/system.json', user: { from: '972987654321' } },
  ),
  pywa(
    'identity_change',
    1697044706,
    'system',
    { system: { type: 'customer_identity_changed', body: 'User identity changed' } },
    { file: 'pywa/system.json', user: { from: '972987654321', profileName: 'User A' } },
  ),
  // Unknown message type: kept, flagged, raw available.
  pywa(
    'revoke',
    1697043223,
    'revoke',
    { wamid: '<WHATSAPP_MESSAGE_ID>', revoke: { originalMessageId: '<ORIGINAL_WHATSAPP_MESSAGE_ID>' } },
    {
      file: 'pywa/deleted_message.json',
      wabaId: '<WHATSAPP_BUSINESS_ACCOUNT_ID>',
      metadata: { phoneNumberId: '<BUSINESS_PHONE_NUMBER_ID>', displayPhoneNumber: '<BUSINESS_DISPLAY_PHONE_NUMBER>' },
      user: { from: '<WHATSAPP_USER_PHONE_NUMBER>' },
    },
  ),
  // `from` matches no contact: the lone contact is not attributed to another sender.
  pywa(
    'image',
    1749854575,
    'edit',
    {
      wamid: 'wamid.HBgLMTY1MDM4Nzk0MzkVAgASGBQzQUFERjg0NDEzNDdFODU3MUMxMAA=',
      edit: {
        originalMessageId: 'wamid.HBgLMTQxMjU1NTA4MjkVAgASGBQzQUNCNjk5RDUwNUZGMUZEM0VBRAA=',
        type: 'image',
        text: 'Updated image caption',
        media: { kind: 'image', id: '1234567890', mimeType: 'image/jpeg', caption: 'Updated image caption', url: 'https://media.example.com/updated-image.jpg' },
      },
    },
    {
      file: 'pywa/edited_message.json',
      wabaId: '102290129340398',
      metadata: { phoneNumberId: '106540352242922', displayPhoneNumber: '15550783881' },
      user: { from: '16505551234' },
    },
  ),
];

describe('parseWebhook: inbound messages (pywa fixtures)', () => {
  it.each(messageCases)('$file $scenario', ({ file, scenario, wabaId, metadata, expected }) => {
    const body = fixture(file, scenario);
    const change = onlyChange(body);
    expect(change).toMatchObject({ wabaId, field: 'messages', known: true, ...(metadata ?? METADATA) });
    expect(change.statuses).toEqual([]);
    expect(change.invalid).toEqual([]);
    expect(change.messages).toHaveLength(1);
    const { raw, ...event } = change.messages[0]!;
    expect(event).toEqual(expected);
    expect(raw).toBe(rawItem(body, 'messages'));
  });

  const contactsOfChange: { file: string; scenario: string; contacts: WebhookChange['contacts'] }[] = [
    { file: 'pywa/message.json', scenario: 'text', contacts: [TEST_CONTACT] },
    {
      file: 'pywa/message_status.json',
      scenario: 'group',
      contacts: [{ waId: '<USER_PHONE_NUMBER>', userId: 'US.123456', parentUserId: '<PARENT_BSUID>', profileName: '<USER_DISPLAY_NAME>', username: '<USERNAME>' }],
    },
    { file: 'pywa/system.json', scenario: 'phone_number_change', contacts: [] },
  ];

  it.each(contactsOfChange)('keeps the contacts of a change, including user ids: $file $scenario', ({ file, scenario, contacts }) => {
    expect(onlyChange(fixture(file, scenario)).contacts).toEqual(contacts);
  });

  const changeErrors: { scenario: string; errors: WebhookChange['errors'] }[] = [
    // Meta could not read an interactive message: the error comes on the change.
    { scenario: 'interactive_message_with_err', errors: [{ code: 131000, title: 'Something went wrong', message: 'Something went wrong', details: 'Unsupported webhook payload' }] },
    // An unsupported message carries its error on the message, not the change.
    { scenario: 'unsupported', errors: [] },
    { scenario: 'text', errors: [] },
  ];

  it.each(changeErrors)('keeps the change-level errors Meta sends: message.json $scenario', ({ scenario, errors }) => {
    expect(onlyChange(fixture('pywa/message.json', scenario)).errors).toEqual(errors);
  });
});

const CONVERSATION = { id: '7270432eae37498234f4444b35ffc5', origin: { type: 'service' } };
const PRICING = { billable: true, pricing_model: 'CBP', category: 'service' };

type ExpectedStatus = Omit<StatusUpdate, 'raw'>;
/** A message_status.json scenario: wamid.xyzxyz to the test user, a known status; `fields` add to or replace that. */
const status = (scenario: string, s: ExpectedStatus['status'], timestamp: number, fields: Partial<ExpectedStatus> = {}) => ({
  scenario,
  expected: { wamid: 'wamid.xyzxyz', status: s, known: true, timestamp, recipientId: '972987654321', ...fields } as ExpectedStatus,
});

const statusCases: { scenario: string; expected: ExpectedStatus }[] = [
  status('sent', 'sent', 1698266945, { conversation: { ...CONVERSATION, expiration_timestamp: '1698339900' }, pricing: PRICING }),
  status('delivered', 'delivered', 1698266945, { conversation: CONVERSATION, pricing: PRICING }),
  status('read', 'read', 1689380458, { conversation: CONVERSATION, pricing: PRICING }),
  status('played', 'played', 1689380458, { conversation: CONVERSATION, pricing: PRICING }),
  status('failed', 'failed', 1689380458, {
    errors: [
      {
        code: 130472,
        title: "User's number is part of an experiment",
        message: "User's number is part of an experiment",
        details: "Failed to send message because this user's phone number is part of an experiment",
        href: 'https://developers.facebook.com/docs/whatsapp/cloud-api/support/error-codes/',
      },
    ],
  }),
  status('with_tracker', 'sent', 1698266945, { callbackData: 'some data', conversation: { ...CONVERSATION, expiration_timestamp: '1698339900' }, pricing: PRICING }),
  status('group', 'read', 1698266945, {
    wamid: '<WHATSAPP_MESSAGE_ID>',
    recipientId: 'fowefinoewcnw',
    recipientType: 'group',
    recipientParticipantId: '<GROUP_PARTICIPANT_USER_PHONE_NUMBER>',
    recipientParticipantUserId: 'US.123456',
    recipientParticipantParentUserId: '<PARENT_BSUID>',
  }),
];

describe('parseWebhook: statuses (pywa fixtures)', () => {
  it.each(statusCases)('message_status.json $scenario', ({ scenario, expected }) => {
    const body = fixture('pywa/message_status.json', scenario);
    const change = onlyChange(body);
    expect(change.field).toBe('messages');
    expect(change.messages).toEqual([]);
    expect(change.statuses).toHaveLength(1);
    const { raw, ...status } = change.statuses[0]!;
    expect(status).toEqual(expected);
    expect(raw).toBe(rawItem(body, 'statuses'));
  });
});

describe('parseWebhook: other fields are accepted, kept raw and flagged unknown', () => {
  const cases = [
    ...[
      'account_deleted',
      'account_restriction',
      'account_violation',
      'ad_account_linked',
      'authentication_international_eligibility',
      'account_disabled',
      'mm_api_for_wa_terms_of_service',
      'partner_added',
      'partner_app_installed',
      'partner_app_uninstalled',
      'partner_led_business_verification_status',
      'partner_removed',
      'partner_removed_wa_app_disconnection',
      'primary_business_location_set',
      'pricing_tiering_update',
      'account_offboarded',
      'account_reconnected',
    ].map((scenario) => ({ file: 'pywa/account_update.json', scenario, field: 'account_update' })),
    {
      file: 'pywa/template_status_update.json',
      scenario: 'approved',
      field: 'message_template_status_update',
    },
    {
      file: 'pywa/template_status_update.json',
      scenario: 'rejected',
      field: 'message_template_status_update',
    },
    { file: 'pywa/user_marketing_preferences.json', scenario: 'resume', field: 'user_preferences' },
    { file: 'pywa/user_marketing_preferences.json', scenario: 'signup', field: 'user_preferences' },
    { file: 'pywa/outgoing_message.json', scenario: 'text', field: 'smb_message_echoes' },
    { file: 'pywa/outgoing_message.json', scenario: 'delete', field: 'smb_message_echoes' },
    { file: 'pywa/outgoing_message.json', scenario: 'edit', field: 'smb_message_echoes' },
  ];

  it.each(cases)('$file $scenario', ({ file, scenario, field }) => {
    const body = fixture(file, scenario) as { entry: { id: string; changes: { value: { metadata?: Record<string, string> } }[] }[] };
    const change = onlyChange(body);
    const metadata = body.entry[0]!.changes[0]!.value.metadata;
    expect(change).toEqual({
      wabaId: body.entry[0]!.id,
      field,
      known: false,
      // metadata is read on every field, so the per-number filter applies to all of them
      ...(metadata?.phone_number_id !== undefined && { phoneNumberId: metadata.phone_number_id }),
      ...(metadata?.display_phone_number !== undefined && { displayPhoneNumber: metadata.display_phone_number }),
      contacts: [],
      messages: [],
      statuses: [],
      errors: [],
      userActions: [],
      invalid: [],
      raw: body.entry[0]!.changes[0]!.value,
    });
  });

  it('keeps the template status event in raw', () => {
    const change = onlyChange(fixture('pywa/template_status_update.json', 'rejected'));
    expect(change.raw).toMatchObject({
      event: 'REJECTED',
      message_template_name: 'abandoned_cart',
      reason: 'INVALID_FORMAT',
    });
  });
});

describe('parseWebhook: batches', () => {
  it('yields every entry, change, message and status of one POST, in order', () => {
    const body = fixture('scenarios/batch_several_entries.json', 'batch');
    const result = parsed(body);
    expect(result.invalid).toEqual([]);
    expect(result.changes.map((c) => [c.wabaId, c.field, c.phoneNumberId])).toEqual([
      ['111', 'messages', 'PN1'],
      ['111', 'messages', 'PN1'],
      ['222', 'messages', 'PN2'],
      ['222', 'message_template_status_update', undefined],
    ]);
    const [first, second, third] = result.changes;
    expect(first!.messages.map((m) => [m.wamid, m.from, m.profileName, m.text])).toEqual([
      ['wamid.A1', '15550001', 'Ann', 'hi'],
      ['wamid.A2', '15550002', 'Bob', 'hello'],
      ['wamid.A3', '15550001', 'Ann', 'again'],
    ]);
    expect(second!.statuses.map((s) => [s.wamid, s.status, s.callbackData])).toEqual([
      ['wamid.O1', 'delivered', 'msg-1'],
      ['wamid.O1', 'sent', 'msg-1'],
      ['wamid.O2', 'read', undefined],
    ]);
    expect(third!.messages.map((m) => m.wamid)).toEqual(['wamid.B1']);
    expect(third!.statuses.map((s) => s.wamid)).toEqual(['wamid.O3']);
  });
});

describe('parseWebhook: identity', () => {
  it('takes a username-only user (no wa_id) by user_id', () => {
    const change = onlyChange(fixture('scenarios/username_only_user.json', 'username_only'));
    expect(change.contacts).toEqual([{ userId: 'US.99887766554433', profileName: 'Zed', username: 'zed.k' }]);
    const { raw, ...event } = change.messages[0]!;
    expect(raw).toEqual(rawItem(fixture('scenarios/username_only_user.json', 'username_only'), 'messages'));
    expect(event).toEqual({
      wamid: 'wamid.U1',
      timestamp: 1750000000,
      type: 'text',
      rawType: 'text',
      known: true,
      userId: 'US.99887766554433',
      profileName: 'Zed',
      username: 'zed.k',
      text: 'hi from a username',
    });
    const { raw: rawStatus, ...status } = change.statuses[0]!;
    expect(rawStatus).toMatchObject({ id: 'wamid.O9' });
    expect(status).toEqual({
      wamid: 'wamid.O9',
      status: 'delivered',
      known: true,
      timestamp: 1750000001,
      recipientUserId: 'US.99887766554433',
    });
  });
});

/** Position of a wamid in the malformed_items fixture (messages keep the order they were sent in). */
const order = (wamid: string) => ['wamid.GOOD1', 'wamid.NOBODY', 'wamid.GOOD2', 'wamid.BADLOC'].indexOf(wamid);

describe('parseWebhook: malformed items are reported, the rest still parses', () => {
  it('reports each bad message, status and contact as invalid with its raw JSON; a message whose content is unreadable is kept with its problem', () => {
    const body = fixture('scenarios/malformed_items.json', 'mixed');
    const result = parsed(body);
    const change = result.changes[0]!;
    expect(change.messages.map((m) => m.wamid)).toEqual(['wamid.NOBODY', 'wamid.GOOD1', 'wamid.GOOD2', 'wamid.BADLOC'].sort((a, b) => order(a) - order(b)));
    expect(change.messages.filter((m) => m.problems).map((m) => [m.wamid, m.type, m.known, m.problems])).toEqual([
      ['wamid.NOBODY', 'text', false, ['text.body: expected a string']],
      ['wamid.BADLOC', 'location', false, ['location.latitude: expected a number']],
    ]);
    expect(change.statuses.map((s) => [s.wamid, s.status, s.known])).toEqual([
      ['wamid.S1', 'sent', true],
      ['wamid.S3', 'pending_future_status', false],
    ]);
    const items = (
      body as {
        entry: { changes: { value: { messages: unknown[]; statuses: unknown[]; contacts: unknown[] } }[] }[];
      }
    ).entry[0]!.changes[0]!.value;
    expect(change.invalid).toEqual([
      {
        kind: 'contact',
        path: 'entry[0].changes[0].value.contacts[1]',
        reason: 'needs wa_id or user_id',
        raw: items.contacts[1],
      },
      {
        kind: 'message',
        path: 'entry[0].changes[0].value.messages[1]',
        reason: 'timestamp: expected a number of seconds',
        id: 'wamid.BADTS',
        raw: items.messages[1],
      },
      {
        kind: 'message',
        path: 'entry[0].changes[0].value.messages[3]',
        reason: 'id: expected a string',
        raw: items.messages[3],
      },
      {
        kind: 'message',
        path: 'entry[0].changes[0].value.messages[4]',
        reason: 'expected an object',
        raw: 'garbage',
      },
      {
        kind: 'status',
        path: 'entry[0].changes[0].value.statuses[1]',
        reason: 'errors[0].code: expected a number',
        id: 'wamid.S2',
        raw: items.statuses[1],
      },
    ]);
  });

  it('reports malformed entries and changes at the top level', () => {
    const result = parsed({
      object: 'whatsapp_business_account',
      entry: [
        'nope',
        { id: 'W1', changes: [{ value: {} }, null, { field: 'messages', value: 'text' }] },
        { id: 'W2', changes: [{ field: 'messages', value: { messages: {} } }] },
      ],
    });
    expect(result.invalid).toEqual([
      { kind: 'entry', path: 'entry[0]', reason: 'expected { id: string, changes: [] }', raw: 'nope' },
      {
        kind: 'change',
        path: 'entry[1].changes[0]',
        reason: 'expected { field: string, value }',
        raw: { value: {} },
      },
      { kind: 'change', path: 'entry[1].changes[1]', reason: 'expected { field: string, value }', raw: null },
    ]);
    expect(result.changes).toHaveLength(2);
    expect(result.changes[0]!.invalid).toEqual([
      {
        kind: 'change',
        path: 'entry[1].changes[2].value',
        reason: 'value is a string, not an object',
        raw: 'text',
      },
    ]);
    expect(result.changes[1]!.invalid).toEqual([
      {
        kind: 'message',
        path: 'entry[2].changes[0].value.messages',
        reason: 'expected an array, got an object',
        raw: {},
      },
    ]);
  });
});

describe('parseWebhook: never throws', () => {
  const cases: { name: string; body: unknown; reason: RegExp }[] = [
    { name: 'null', body: null, reason: /body is null/ },
    { name: 'undefined', body: undefined, reason: /body is missing/ },
    { name: 'number', body: 42, reason: /body is a number/ },
    { name: 'string', body: 'whatsapp_business_account', reason: /body is a string/ },
    { name: 'array', body: [{ object: 'whatsapp_business_account' }], reason: /body is an array/ },
    {
      name: 'other object',
      body: { object: 'page', entry: [] },
      reason: /object is "page", not "whatsapp_business_account"/,
    },
    { name: 'no object', body: { entry: [] }, reason: /object is missing/ },
    {
      name: 'entry not an array',
      body: { object: 'whatsapp_business_account', entry: {} },
      reason: /entry is an object, not an array/,
    },
  ];

  it.each(cases)('rejects $name with a reason', ({ body, reason }) => {
    const result = parseWebhook(body);
    expect(result.ok).toBe(false);
    if (!result.ok) expect(result.reason).toMatch(reason);
  });

  it('accepts an empty entry list', () => {
    expect(parseWebhook({ object: 'whatsapp_business_account', entry: [] })).toEqual({
      ok: true,
      object: 'whatsapp_business_account',
      changes: [],
      invalid: [],
    });
  });

  it('survives every value in every position of a real payload', () => {
    const base = fixture('pywa/message.json', 'chosen_location');
    const weird: unknown[] = [null, 0, -1, 1e308, '', 'x', true, [], {}, [null], { id: 5 }];
    const paths: string[][] = [];
    const walk = (node: unknown, path: string[]): void => {
      paths.push(path);
      if (node && typeof node === 'object') {
        for (const [k, v] of Object.entries(node)) walk(v, [...path, k]);
      }
    };
    walk(base, []);
    for (const path of paths.slice(1)) {
      for (const value of weird) {
        const copy = structuredClone(base) as Record<string, unknown>;
        let node: Record<string, unknown> = copy;
        for (const key of path.slice(0, -1)) node = node[key] as Record<string, unknown>;
        node[path[path.length - 1]!] = value;
        expect(() => parseWebhook(copy)).not.toThrow();
      }
    }
    expect(paths.length).toBeGreaterThan(20);
  });
});

/** One Meta 2026 scenario: a documented payload and what parsing it must give (see test/fixtures/meta-2026/README.md). */
interface Scenario {
  description: string;
  source: string;
  payload: unknown;
  expect: { rejected: string } | Record<string, unknown>;
}

const META_2026 = join(FIXTURES, 'meta-2026');
const scenarios = readdirSync(META_2026)
  .filter((f) => f.endsWith('.json'))
  .map((f) => [f.replace(/\.json$/, ''), JSON.parse(readFileSync(join(META_2026, f), 'utf8')) as Scenario] as const);

describe('parseWebhook: Meta 2026 scenarios (payload in, normalized events out)', () => {
  it('has scenarios to run', () => {
    expect(scenarios.length).toBeGreaterThanOrEqual(20);
  });

  it.each(scenarios)('%s', (_name, scenario) => {
    const result = parseWebhook(scenario.payload);
    if ('rejected' in scenario.expect) {
      expect(result).toEqual({ ok: false, reason: scenario.expect.rejected });
      return;
    }
    expect(result.ok).toBe(true);
    expect(result).toMatchObject(scenario.expect);
  });
});
