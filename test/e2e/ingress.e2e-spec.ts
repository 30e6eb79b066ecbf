// The ingress e2e suite (ingress.suite.ts) with the default publish client, @platformatic/kafka.
import { ingressSuite } from './ingress.suite';

ingressSuite('platformatic');
