export { parseLeaveReason } from './leave-reason';
export {
  ATTENDANCE_EVENT_NAMES,
  type AttendanceInput,
  type MeetingInput,
  type ParticipantInput,
  parseAttendanceInput,
  type Room,
} from './participant-event';
export {
  type AppUserLookup,
  DEFAULT_END_STEP_BYTES,
  type DeviceState,
  type EndStep,
  type Mark,
  type MeetingHeader,
  type MeetingOutputs,
  MeetingTracker,
  type TrackerOptions,
  identityKey,
  pairingKey,
  personIdentity,
} from './meeting-tracker';
export { type AppUserMaps, resolveAppUser } from './app-user';
