export { ReconcileFeatureModule } from './reconcile-feature.module';
export { ReconcileMetrics } from './reconcile.metrics';
export {
  ReconcileService,
  ReconcileBusyError,
  ReconcileUnavailableError,
  REQUEUE_AFTER_MS,
  type ReconcileRequest,
  type ReconcileRun,
  type ReconcileTrigger,
} from './reconcile.service';
export { RedriveService, type RedriveRequest, type RedriveSummary } from './redrive.service';
export { LEDGER_GROUP_ID, UploadedLedgerConsumer } from './uploaded-ledger.consumer';
export { STORED_OWNER, queuedKey, storedKey } from './stored-ledger';
export { TrashService, trashedKey, type TrashOutcome } from './trash.service';
