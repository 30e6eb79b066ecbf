export * from './endpoints';
export * from './app-process';
export * from './kafka';
