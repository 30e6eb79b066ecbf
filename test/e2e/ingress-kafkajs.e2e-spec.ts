// The ingress e2e suite (ingress.suite.ts) with KAFKA_PUBLISH_CLIENT=kafkajs: the same guarantees (broker down → 503
// in time and back without a restart, no acknowledged delivery lost on SIGKILL, one meeting → one partition).
import { ingressSuite } from './ingress.suite';

ingressSuite('kafkajs');
