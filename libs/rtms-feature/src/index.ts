export { RtmsFeatureModule } from './rtms-feature.module';
export { RtmsService } from './rtms.service';
export { RtmsEventsConsumer, RTMS_GROUP_PREFIX } from './rtms.consumer';
export { RtmsConnector, rtmsLeaseName, type RtmsConnectorDeps } from './rtms-connector';
export { RtmsSession, type SessionEnd, type SessionHandlers, type SessionOptions } from './rtms-session';
export { MediaSink, RTMS_HEADERS, rtmsObjectPrefix, type RtmsTextMessage, type StoredSegment } from './media-sink';
export { RtmsMetrics } from './rtms.metrics';
export { rtmsLifecycle, type RtmsLifecycle, type RtmsStreamInfo } from './stream-event';
