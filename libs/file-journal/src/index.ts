export { fsyncDirectory, replaceFile, writeFully } from './durable-file';
export { type GroupCommitOptions, GroupCommitter } from './group-commit';
export {
  DEFAULT_SEGMENT_BYTES,
  FRAME_HEADER_BYTES,
  Journal,
  JournalCorruptError,
  type JournalLogger,
  type JournalOptions,
  type JournalStats,
  MAX_FRAME_PAYLOAD_BYTES,
  type ScannedFrame,
  encodeFrame,
  listSegments,
  processAlive,
  scanFrames,
  segmentFileName,
} from './journal';
