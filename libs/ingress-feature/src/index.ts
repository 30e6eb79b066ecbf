export * from './ingress-feature.module';
export * from './ingress.service';
export * from './ingress.metrics';
