import { z } from 'zod';
import { pgText } from '../common/validation';
import { apiModel } from '../docs/api-doc';

/** Body of POST /v1/tenants/:tenant/api-keys (optional). */
export const createKeySchema = z.strictObject({ name: pgText().trim().min(1).max(200).optional() }).meta({ example: { name: 'CRM integration' } });

/** An API key as the API lists it: never the key itself. */
export const apiKeySchema = z.object({
  id: z.uuid(),
  name: z.string().nullable(),
  prefix: z.string().meta({ description: 'The first characters of the key, to recognise it.', example: 'gtc_3kq9' }),
  created_at: z.date(),
  last_used_at: z.date().nullable(),
  revoked_at: z.date().nullable(),
});

/** A key just created: with the key, shown this once. */
export const apiKeyWithSecretSchema = apiKeySchema.extend({ key: z.string().meta({ description: 'The API key: send it as `Authorization: Bearer <key>`. Shown only here.' }) });

/** The answer schemas of API keys, in the document. */
export const ApiKeyModel = apiModel('ApiKey', apiKeySchema);
export const ApiKeyWithSecretModel = apiModel('ApiKeyWithSecret', apiKeyWithSecretSchema);
