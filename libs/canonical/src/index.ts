export { canonicalKey, canonicalId } from './canonical-key';
export { VOLATILE_FIELDS, canonicalJson, withoutVolatile } from './canonical-json';
export {
  type CanonicalEventInput,
  UNKNOWN_SUBJECT,
  REDACTED,
  DEFAULT_REDACT_FIELDS,
  buildCanonicalEvent,
  zoomUserOf,
} from './canonical-event';
export {
  type FileSkipReason,
  type SkippedFile,
  type FileWorkItemsInput,
  type FileWorkItems,
  type DeliveryCopy,
  FILE_EVENTS,
  fileWorkItems,
} from './file-work-items';
export {
  type ObjectKeyPlaceholder,
  DEFAULT_OBJECT_KEY_TEMPLATE,
  OBJECT_KEY_PLACEHOLDERS,
  MAX_KEY_VALUE_LENGTH,
  MAX_OBJECT_KEY_LENGTH,
  ObjectKeyTemplateError,
  validateObjectKeyTemplate,
  compileObjectKeyTemplate,
  objectKey,
  findObjectKeyCollisions,
  sanitiseKeyValue,
  sanitiseKeyId,
  MAX_KEY_SEGMENT_BYTES,
} from './object-key';
export { uploadFileTypeFilter } from './file-type-filter';
export {
  type FileReadiness,
  type FileReadinessInput,
  DEFAULT_UNFINISHED_WAIT_MS,
  fileReadiness,
} from './file-readiness';
