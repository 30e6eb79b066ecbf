export * from './endpoints';
export * from './app-process';
export * from './kafka';
export * from './fault-proxy';
export * from './otlp-receiver';
export * from './s3';
