export { AttendanceFeatureModule } from './attendance-feature.module';
export { ATTENDANCE_GROUP_ID, ATTENDANCE_TRACKER_OPTIONS, AttendanceService } from './attendance.service';
export { AttendanceController, parseRegistration } from './attendance.controller';
export {
  AttendanceRegistrar,
  type RegistrationRequest,
  type RegistrationResult,
  parseRegistrationRequest,
} from './attendance-registrar';
export { readChangelog, rebuild, type PartitionState } from './attendance-state';
