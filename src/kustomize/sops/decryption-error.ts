/**
 * Decryption failed: no key for a file, a wrong key, tampered ciphertext, an unreadable key Secret, or no sops to
 * decrypt with. The message names the file (relative to the artifact root) or the object, never a secret value.
 */
export class DecryptionError extends Error {
  override name = 'DecryptionError';
  readonly reason = 'DecryptionFailed';
}
