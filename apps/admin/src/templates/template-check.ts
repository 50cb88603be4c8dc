// Checks the template replies of a flow against the team's synced templates (at upload).
import type { CompiledFlow } from '@gtc/flows';
import { checkTemplateSend, SyncedTemplate, TemplateSend } from '@gtc/whatsapp';

export type { SyncedTemplate } from '@gtc/whatsapp';

/** A finding about one template reply of a flow. */
export interface TemplateIssue {
  nodeId: string;
  /** Path in the flow file, e.g. `nodes[1].config.template`. */
  path: string;
  message: string;
}

/**
 * Checks every template reply of a compiled flow. `synced` null or empty means nothing was synced yet:
 * then each template reply yields a warning instead of an error.
 */
export function checkFlowTemplates(flow: CompiledFlow, synced: SyncedTemplate[] | null): { errors: TemplateIssue[]; warnings: TemplateIssue[] } {
  const errors: TemplateIssue[] = [];
  const warnings: TemplateIssue[] = [];
  flow.order.forEach((nodeId, index) => {
    const node = flow.nodes[nodeId];
    if (node?.type !== 'reply' || !('template' in node.content)) return;
    const send = node.content.template as unknown as TemplateSend;
    const path = `nodes[${index}].config.template`;
    if (!synced || !synced.length) {
      warnings.push({ nodeId, path, message: `node ${nodeId}: template "${send.name}" not checked: no templates synced for this team yet (POST …/templates/sync)` });
      return;
    }
    for (const problem of checkTemplateSend(send, synced)) errors.push({ nodeId, path, message: `node ${nodeId}: ${problem}` });
  });
  return { errors, warnings };
}
