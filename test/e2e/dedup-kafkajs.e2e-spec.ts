// The dedup e2e suite (dedup.suite.ts) with KAFKA_CLIENT=kafkajs: the same exactly-once guarantees (one event per
// occurrence through duplicate storms, a rebalance, a crash after the claim and a Redis restart).
import { dedupSuite } from './dedup.suite';

dedupSuite('kafkajs');
