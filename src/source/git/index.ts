export { checkout, type CheckoutOptions, type CheckoutResult } from './checkout.ts';
export { credentialsFromSecret, type GitCredentials } from './git-credentials.ts';
export { GitError, type GitErrorCode } from './git-error.ts';
export { DEFAULT_BRANCH, type GitReference, type ResolvedRevision } from './git-reference.ts';
export { scrubUrl } from './git-url.ts';
export { resolveRemote, type RemoteOptions } from './resolve-remote.ts';
export { verifyCheckout, type VerificationMode } from './verify-checkout.ts';
