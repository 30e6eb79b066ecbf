export * from './endpoints';
export * from './app-process';
