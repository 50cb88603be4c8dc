import { publicEventId } from '@gtc/db';
import type { ClaimedDelivery } from './delivery.store';

/**
 * What one delivery POSTs (the same at every attempt): its public event id, also the `webhook-id` header, and the
 * body `{ id, type, created_at, tenant, team, data }` (tenant and team by slug).
 */
export function eventBody(d: Pick<ClaimedDelivery, 'eventId' | 'type' | 'createdAt' | 'tenant' | 'team' | 'data'>): { id: string; body: string } {
  const id = publicEventId(d.eventId);
  return { id, body: JSON.stringify({ id, type: d.type, created_at: d.createdAt, tenant: d.tenant, team: d.team, data: d.data }) };
}
