import { type Message, type TopicMessages } from 'kafkajs';
import { type OutgoingMessage } from '../event-bus.port';

/** Groups port messages by topic for kafkajs `sendBatch`, keeping each topic's order (per-key order). */
export function toTopicMessages(messages: readonly OutgoingMessage[]): TopicMessages[] {
  const byTopic = new Map<string, Message[]>();
  for (const m of messages) {
    let list = byTopic.get(m.topic);
    if (!list) byTopic.set(m.topic, (list = []));
    list.push({ key: m.key, value: m.value, headers: m.headers });
  }
  return [...byTopic].map(([topic, msgs]) => ({ topic, messages: msgs }));
}
