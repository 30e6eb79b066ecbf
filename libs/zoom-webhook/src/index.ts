export {
  type VerifyFailure,
  type VerifyInput,
  type VerifyResult,
  verifySignature,
  signDelivery,
  describeVerifyFailure,
} from './verify-signature';
export {
  URL_VALIDATION_EVENT,
  MAX_PLAIN_TOKEN_LENGTH,
  type UrlValidationAnswer,
  answerUrlValidation,
  plainTokenOf,
} from './url-validation';
export {
  type ZoomEnvelope,
  type EnvelopeFailure,
  type ParseEnvelopeResult,
  parseEnvelope,
  meetingUuidOf,
  accountIdOf,
} from './envelope';
export { UNKEYED_PARTITION, partitionKey } from './partition-key';
export {
  MAX_JSON_DEPTH,
  type JsonBodyFailure,
  type JsonBodyText,
  jsonBodyText,
  jsonDepthExceeds,
  describeJsonBodyFailure,
} from './json-body';
export { OTHER_LABEL, KNOWN_ZOOM_EVENTS, KNOWN_FILE_TYPES, eventLabel, fileTypeLabel } from './metric-labels';
