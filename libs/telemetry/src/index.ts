export * from './logger';
export * from './tracing';
export { shutdownTelemetry } from './shutdown';
