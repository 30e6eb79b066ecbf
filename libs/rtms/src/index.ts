export * from './protocol';
export * from './audio';
