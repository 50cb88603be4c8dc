import { Injectable } from '@nestjs/common';
import { releasesNext } from '@gtc/db';
import { jobIds, QueueName, QueueService } from '@gtc/queue';
import { OutboundStore } from './outbound.store';
import { ProviderService } from './provider.service';

/** A message whose recipient's next message may be waiting behind it. */
export interface GateHolder {
  contactId: string;
  seq: number;
}

/**
 * Wakes a recipient's next message when the one before it lets it go (the ordering gate's release): its job,
 * waiting in BullMQ's delayed set, goes to the head of the queue (QueueService.wakeDelayed). Used by the outbound
 * worker after a send or a failure and right after it holds a message, and by the status worker after a status. A
 * wake-up lost in a crash costs only time: the waiting job looks again on its own (ORDERING_RECHECK_MS).
 */
@Injectable()
export class RecipientWaker {
  constructor(
    private readonly store: OutboundStore,
    private readonly queues: QueueService,
    private readonly providers: ProviderService,
  ) {}

  /** The next message to the same recipient may go now: brings its job to the head of the queue if it is waiting. */
  async wakeNext(m: GateHolder): Promise<void> {
    const next = await this.store.nextQueued(m.contactId, m.seq);
    if (next) await this.queues.wakeDelayed(QueueName.Outbound, [jobIds.outbound(next)]);
  }

  /** Wakes those of these held messages whose gate is open now (libs/db openGates): a release they may have missed. */
  async wakeIfOpen(outboundIds: string[]): Promise<void> {
    const free = await this.store.withOpenGate(outboundIds);
    if (free.length) await this.queues.wakeDelayed(QueueName.Outbound, free.map((id) => jobIds.outbound(id)));
  }

  /** Wakes the next message when any of the states the message reached releases it under the number's ordering. */
  async wakeIfReleased(m: GateHolder, ordering: string, states: string[]): Promise<void> {
    if (states.some((state) => releasesNext(ordering, state))) await this.wakeNext(m);
  }

  /** After a status moved a message: wakes the next one if its number's ordering policy released it. */
  async afterStatus(applied: GateHolder & { providerId: string; state: string }): Promise<void> {
    const p = await this.providers.get(applied.providerId);
    if (p) await this.wakeIfReleased(applied, p.ordering, [applied.state]);
  }
}
