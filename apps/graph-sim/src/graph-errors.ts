import { randomBytes } from 'node:crypto';
import { GRAPH_ERROR_CODES } from '@gtc/whatsapp';

// Graph API error answers, shaped as Meta sends them.
// https://developers.facebook.com/docs/whatsapp/cloud-api/support/error-codes

/** Body of a Graph API error answer. */
export interface GraphErrorBody {
  error: {
    message: string;
    type: string;
    code: number;
    error_subcode?: number;
    error_data?: { messaging_product: 'whatsapp'; details: string };
    fbtrace_id: string;
  };
}

/** An HTTP status with a Graph error body. */
export interface GraphErrorAnswer {
  status: number;
  body: GraphErrorBody;
}

/**
 * Meta's wording (title, used in `message` and status errors, and details) where the simulator has more than the
 * title of @gtc/whatsapp's GRAPH_ERROR_CODES, which covers every other code the platform handles.
 */
export const GRAPH_ERROR_TEXT: Record<number, { title: string; details: string }> = {
  4: { title: 'Application request limit reached', details: 'The app has reached its API call rate limit.' },
  100: { title: 'Invalid parameter', details: 'Invalid parameter' },
  131000: { title: 'Something went wrong', details: 'Message failed to send due to an unknown error.' },
  131008: { title: 'Required parameter is missing', details: 'A required parameter is missing.' },
  131026: { title: 'Message undeliverable', details: 'Message failed to send because the recipient could not be reached.' },
  131047: {
    title: 'Re-engagement message',
    details: 'Message failed to send because more than 24 hours have passed since the customer last replied to this number.',
  },
  131048: { title: 'Spam rate limit hit', details: 'Message failed to send because there are restrictions on how many messages can be sent from this phone number.' },
  131051: { title: 'Unsupported message type', details: 'Message type is not currently supported.' },
  131056: {
    title: '(Business Account, Consumer Account) pair rate limit hit',
    details: 'Message failed to send because there were too many messages sent from this phone number to the same phone number in a short period of time.',
  },
  130429: { title: 'Rate limit hit', details: 'Cloud API message throughput has been reached.' },
  132000: { title: 'Number of parameters does not match the expected number of params', details: 'The number of parameters provided does not match the template.' },
  132001: { title: 'Template name does not exist in the translation', details: 'The template does not exist in this language.' },
  133010: { title: 'Phone number not registered', details: 'The phone number is not registered on the WhatsApp Business Platform.' },
  190: { title: 'Invalid OAuth access token', details: 'Invalid OAuth access token - Cannot parse access token' },
};

/** A random trace id like Meta's `fbtrace_id`. */
export function fbtraceId(): string {
  return randomBytes(12).toString('base64').replace(/[+/=]/g, 'A');
}

/** The HTTP status Meta answers a send failing with `code` with (400 for a code the table does not know). */
export function graphErrorStatus(code: number): number {
  return GRAPH_ERROR_CODES[code]?.httpStatus ?? 400;
}

/** A Graph error answer; `message` defaults to `(#code) <title>` as Meta writes it. */
export function graphError(
  status: number,
  code: number,
  options: { message?: string; details?: string; type?: string; subcode?: number } = {},
): GraphErrorAnswer {
  const text = GRAPH_ERROR_TEXT[code];
  const title = text?.title ?? GRAPH_ERROR_CODES[code]?.title;
  const message = options.message ?? `(#${code}) ${title ?? 'Error'}`;
  const details = options.details ?? text?.details ?? title;
  return {
    status,
    body: {
      error: {
        message,
        type: options.type ?? 'OAuthException',
        code,
        ...(options.subcode !== undefined ? { error_subcode: options.subcode } : {}),
        ...(details !== undefined && code !== 190 ? { error_data: { messaging_product: 'whatsapp' as const, details } } : {}),
        fbtrace_id: fbtraceId(),
      },
    },
  };
}

/** 401 / 190: unknown phone number, missing or wrong token. */
export function authError(detail = 'Invalid OAuth access token - Cannot parse access token'): GraphErrorAnswer {
  return graphError(401, 190, { message: detail });
}

/** 400 / 100: the request body is not a valid message. */
export function invalidParameter(details: string): GraphErrorAnswer {
  return graphError(400, 100, { message: '(#100) Invalid parameter', details });
}
