import type { CanonicalEvent } from '@zoom-pipeline/contracts';
import { type ZoomEnvelope, accountIdOf, meetingUuidOf } from '@zoom-pipeline/zoom-webhook';

export interface CanonicalEventInput {
  envelope: ZoomEnvelope;
  /** canonicalId(canonicalKey(envelope)). */
  canonicalId: string;
  /** Zoom app name (`default` for `/webhooks/zoom`). */
  app: string;
  /** Id of the raw delivery that became canonical. */
  deliveryId: string;
  /** Deliveries of this occurrence seen so far, 1 for the first. */
  deliveryCount: number;
  /** ISO time the canonical delivery was received: the CloudEvent `time`. */
  receivedAt: string;
  /** The newest download token seen among all copies; a later copy's token lives longer (24 h from receipt). */
  freshestDownloadToken?: string;
}

/** Subject for an event with neither a meeting UUID nor an account id. */
export const UNKNOWN_SUBJECT = 'unknown';

/** The `zoom.events` value (SPEC §5): a CloudEvents 1.0 envelope around the Zoom body. The input is not modified. */
export function buildCanonicalEvent(input: CanonicalEventInput): CanonicalEvent {
  const { envelope } = input;
  const data: Record<string, unknown> = { ...envelope };
  if (input.freshestDownloadToken !== undefined) data.download_token = input.freshestDownloadToken;
  return {
    specversion: '1.0',
    id: input.canonicalId,
    source: `zoom-pipeline/${input.app}`,
    type: `us.zoom.${envelope.event}`,
    subject: meetingUuidOf(envelope) ?? accountIdOf(envelope) ?? UNKNOWN_SUBJECT,
    time: input.receivedAt,
    datacontenttype: 'application/json',
    data,
    deliverycount: input.deliveryCount,
    zoomdeliveryid: input.deliveryId,
    zoomapp: input.app,
  };
}
