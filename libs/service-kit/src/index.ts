export * from './http-error';
export * from './http-error.filter';
export * from './health';
export * from './metrics';
export * from './service-kit.module';
export * from './run-app';
export * from './start-service';
export * from './connection-errors';
