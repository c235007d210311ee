/** Condition types and reasons. Flux's names wherever Flux has one, so dashboards and `flux` tooling agree. */
export const Conditions = {
  Ready: 'Ready',
  Reconciling: 'Reconciling',
  Stalled: 'Stalled',
  ArtifactInStorage: 'ArtifactInStorage',
  ArtifactOutdated: 'ArtifactOutdated',
  FetchFailed: 'FetchFailed',
  SourceVerified: 'SourceVerified',
  StorageOperationFailed: 'StorageOperationFailed',
  BuildFailed: 'BuildFailed',
  Healthy: 'Healthy',
  // Deployment's conditions, owned by the host runtime's App reconciler.
  Available: 'Available',
  Progressing: 'Progressing',
} as const;

export const Reasons = {
  Succeeded: 'Succeeded',
  Failed: 'Failed',
  Progressing: 'Progressing',
  ProgressingWithRetry: 'ProgressingWithRetry',
  Suspended: 'Suspended',
  DependencyNotReady: 'DependencyNotReady',
  InvalidSpec: 'InvalidSpec',
  NewRevision: 'NewRevision',
  ArtifactUpToDate: 'ArtifactUpToDate',
  GitOperationSucceeded: 'GitOperationSucceeded',
  GitOperationFailed: 'GitOperationFailed',
  BucketOperationSucceeded: 'BucketOperationSucceeded',
  BucketOperationFailed: 'BucketOperationFailed',
  // source-controller's OCIRepository reasons.
  OCIArtifactPullFailed: 'OCIArtifactPullFailed',
  OCIArtifactLayerOperationFailed: 'OCIArtifactLayerOperationFailed',
  ReadOperationFailed: 'ReadOperationFailed',
  AuthenticationFailed: 'AuthenticationFailed',
  URLInvalid: 'URLInvalid',
  StorageOperationFailed: 'StorageOperationFailed',
  ArchiveOperationFailed: 'ArchiveOperationFailed',
  VerificationError: 'VerificationError',
  // source-controller's Helm reasons.
  IndexationFailed: 'IndexationFailed',
  ChartPullSucceeded: 'ChartPullSucceeded',
  ChartPackageSucceeded: 'ChartPackageSucceeded',
  NewChart: 'NewChart',
  NoSourceArtifact: 'NoSourceArtifact',
  SourceUnavailable: 'SourceUnavailable',
  ReconciliationSucceeded: 'ReconciliationSucceeded',
  ReconciliationFailed: 'ReconciliationFailed',
  // kustomize-controller's reasons.
  BuildFailed: 'BuildFailed',
  DecryptionFailed: 'DecryptionFailed',
  HealthCheckFailed: 'HealthCheckFailed',
  PruneFailed: 'PruneFailed',
  // Deployment's reasons, and the host runtime's own (App).
  MinimumReplicasAvailable: 'MinimumReplicasAvailable',
  MinimumReplicasUnavailable: 'MinimumReplicasUnavailable',
  NewReplicaSetAvailable: 'NewReplicaSetAvailable',
  ReplicaSetUpdated: 'ReplicaSetUpdated',
  ProgressDeadlineExceeded: 'ProgressDeadlineExceeded',
  CrashLoopBackOff: 'CrashLoopBackOff',
  SetupFailed: 'SetupFailed',
  ArtifactFailed: 'ArtifactFailed',
  CreateContainerConfigError: 'CreateContainerConfigError',
  // Canary releases (Flagger's vocabulary for phases; the reason is the App's own).
  CanaryFailed: 'CanaryFailed',
  CanaryProgressing: 'CanaryProgressing',
} as const;

/** Annotation the CLI (and `flux reconcile`) sets to ask for an immediate reconcile. */
export const ReconcileRequestAnnotation = 'reconcile.fluxcd.io/requestedAt';
