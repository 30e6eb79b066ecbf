export * from './topics';
export * from './validate';
export * from './raw-delivery';
export * from './canonical-event';
export * from './recording-file';
export * from './account-link';
export * from './attendance';
export * from './rtms';
