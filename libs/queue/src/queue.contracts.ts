/** The queues between services. Jobs carry row ids only: Postgres is the truth, Redis the transport. */
export enum QueueName {
  /** ingress → flow-runner: an inbound message row to run through the team's flows. */
  Inbound = 'inbound',
  /** flow-runner / admin → sender: an outbound message row to send. */
  Outbound = 'outbound',
  /**
   * ingress → sender: a status event row with work left (ingress applies the others itself): one whose message was
   * not known yet, or one whose move needs a follow-up (wake the recipient's next message, maybe pause the number).
   */
  Status = 'status',
}

/** One recorded inbound message and its contact. */
export interface InboundItem {
  inboundId: string;
  contactId: string;
}

/**
 * inbound: the messages one ingress group commit recorded (job id `i_<batch id>`), or a single message (admin's
 * flow start, the reconciler; job id `i_<row id>`). Items are in arrival order; the flow-runner takes the batch's
 * contacts together, each up to its last listed message.
 */
export interface InboundJob {
  items: InboundItem[];
}

/** outbound: one outbound message row (job id = `o_<row id>`; retries reuse the row). */
export interface OutboundJob {
  outboundId: string;
  /** Send slot (epoch ms) already reserved under the number's limits, if any. */
  slotAt?: number;
  /**
   * When the inbound message this replies to reached ingress (epoch ms; a flow's reply only): the sender observes
   * webhook → reply latency (`gtc_reply_seconds`) when it records the send.
   */
  causeAt?: number;
}

/** status: one status event row still unapplied (job id = the row id). */
export interface StatusJob {
  statusEventId: string;
}

/** Payload type of each queue. */
export interface JobPayloads {
  [QueueName.Inbound]: InboundJob;
  [QueueName.Outbound]: OutboundJob;
  [QueueName.Status]: StatusJob;
}

/** Deterministic job ids: the same row never has two live jobs. */
export const jobIds = {
  /** A batch (by its batch id) or a single message (by its row id). */
  inbound: (batchOrInboundId: string) => `i_${batchOrInboundId}`,
  outbound: (outboundId: string) => `o_${outboundId}`,
  status: (statusEventId: string) => `s_${statusEventId}`,
};
