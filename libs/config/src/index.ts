export * from './app-config';
export * from './parse';
export * from './load-config';
export * from './config.module';
