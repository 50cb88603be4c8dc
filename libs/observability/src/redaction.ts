/**
 * Log paths that never reach a log line in clear: credentials in headers and in any object we log
 * (provider configs, Graph API requests, admin payloads). Pino's wildcard matches one level, so common depths are listed.
 */
export const REDACT_PATHS: string[] = [
  'req.headers.authorization',
  'req.headers.cookie',
  'req.headers["x-hub-signature-256"]',
  'req.headers["x-api-key"]',
  ...['access_token', 'accessToken', 'app_secret', 'appSecret', 'token', 'secret', 'password', 'key', 'authorization', 'accessTokenEnc', 'appSecretEnc'].flatMap(
    (k) => [k, `*.${k}`, `*.*.${k}`],
  ),
];
