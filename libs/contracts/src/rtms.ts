import { encodeJson } from './validate';

/** Value of zoom.rtms.transcripts and zoom.rtms.chat (key: the meeting, webinar or session instance id). */
export interface RtmsTextMessage {
  v: 1;
  media: 'transcript' | 'chat';
  product: 'meeting' | 'webinar' | 'session';
  instanceId: string;
  streamId: string;
  accountId?: string;
  userId?: string;
  userName?: string;
  text: string;
  /** Zoom's timestamp of the message (ms). */
  timestamp?: number;
  /** The fencing token of the connection that received it: a consumer drops a lower one seen after a higher one. */
  fence: number;
}

export function encodeRtmsTextMessage(message: RtmsTextMessage): Buffer {
  return encodeJson(message);
}
