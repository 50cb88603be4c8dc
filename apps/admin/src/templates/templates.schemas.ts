import { z } from 'zod';
import { apiModel } from '../docs/api-doc';

/** A synced message template as the API shows it. */
export const templateSchema = z.object({
  id: z.uuid(),
  name: z.string().meta({ example: 'order_confirmation' }),
  language: z.string().meta({ example: 'en_US' }),
  status: z.string().meta({ description: "Meta's review status: APPROVED, PENDING, REJECTED, PAUSED, …", example: 'APPROVED' }),
  category: z.string().nullable().meta({ example: 'UTILITY' }),
  components: z.unknown().meta({ description: "The template's components as Meta gives them (header, body, footer, buttons)." }),
  synced_at: z.date(),
});

/** The answer of a template sync. */
export const templateSyncSchema = z.object({
  synced: z.number().int().meta({ description: 'How many templates (name and language) the team has now.' }),
  synced_at: z.date(),
});

/** The answer schemas of templates, in the document. */
export const TemplateModel = apiModel('Template', templateSchema);
export const TemplateSyncModel = apiModel('TemplateSync', templateSyncSchema);
