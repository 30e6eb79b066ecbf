// The dedup e2e suite (dedup.suite.ts) with the default consumer client (KAFKA_CLIENT), @platformatic/kafka.
import { dedupSuite } from './dedup.suite';

dedupSuite('platformatic');
