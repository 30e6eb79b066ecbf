import { Controller } from '@nestjs/common';
import { HEADERS, TOPICS, decodeCanonicalEvent, encodeAccountLinkEvent, topicSpec } from '@zoom-pipeline/contracts';
import { type BatchResult, BusHandler, type HandlerBatch, type OutgoingMessage } from '@zoom-pipeline/event-bus';
import { AccountsService } from './accounts.service';

export const ACCOUNTS_GROUP_ID = 'zoom-pipeline-accounts';

/**
 * zoom.events `us.zoom.app_deauthorized` → tokens deleted, link revoked → zoom.accounts.links (same transaction as the
 * offset).
 */
@Controller()
export class DeauthorizationConsumer {
  constructor(private readonly accounts: AccountsService) {}

  @BusHandler(TOPICS.events, {
    name: 'accounts',
    groupId: ACCOUNTS_GROUP_ID,
    ensureTopics: [TOPICS.events, TOPICS.accountLinks].map(topicSpec),
  })
  async handle(batch: HandlerBatch): Promise<BatchResult> {
    const outputs: OutgoingMessage[] = [];
    for (const msg of batch.messages) {
      // Only the type is needed to skip the rest; a record that is not a canonical event is not this consumer's
      // business.
      if (!msg.value.includes('app_deauthorized')) continue;
      const event = decodeCanonicalEvent(msg.value);
      if (event.type !== 'us.zoom.app_deauthorized') continue;
      const payload = (event.data.payload ?? {}) as Record<string, unknown>;
      const str = (v: unknown): string | undefined => (typeof v === 'string' && v !== '' ? v : undefined);
      const at = str(payload.deauthorization_time) ?? event.time;
      const linkEvent = await batch.withRecord(msg, () =>
        this.accounts.deauthorized(str(payload.user_id), str(payload.account_id), at),
      );
      if (linkEvent) {
        outputs.push({
          topic: TOPICS.accountLinks,
          key: linkEvent.zoomUserId,
          value: encodeAccountLinkEvent(linkEvent),
          headers: { [HEADERS.contentType]: 'application/json' },
        });
      }
    }
    return { outputs };
  }
}
