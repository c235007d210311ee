/** Credentials for one remote, as Flux reads them from `spec.secretRef`. */
export interface GitCredentials {
  username?: string;
  password?: string;
  bearerToken?: string;
  /** PEM bundle of extra certificate authorities trusted for HTTPS (added to the system ones). */
  caPem?: string;
  /** SSH private key (PEM or OpenSSH format). */
  sshIdentity?: string;
  /** known_hosts lines for the SSH server; required for SSH: unknown hosts are never accepted. */
  sshKnownHosts?: string;
  /** Passphrase of `sshIdentity`. */
  sshPassphrase?: string;
}

/**
 * Reads credentials from a Secret's decoded data with Flux's keys: `username`, `password`, `bearerToken`,
 * `ca.crt` (or the older `caFile`), `identity`, `known_hosts`. With an `identity`, `password` is the key's
 * passphrase (as in Flux) and is not used for HTTP basic auth. Empty values count as absent.
 */
export function credentialsFromSecret(data: Record<string, string>): GitCredentials {
  const value = (key: string): string | undefined => (data[key] ? data[key] : undefined);
  const creds: GitCredentials = {};
  const identity = value('identity');
  const assign = (key: keyof GitCredentials, v: string | undefined): void => {
    if (v !== undefined) creds[key] = v;
  };
  assign('username', value('username'));
  assign('bearerToken', value('bearerToken'));
  assign('caPem', value('ca.crt') ?? value('caFile'));
  assign('sshKnownHosts', value('known_hosts'));
  if (identity) {
    assign('sshIdentity', identity);
    assign('sshPassphrase', value('password'));
  } else {
    assign('password', value('password'));
  }
  return creds;
}

/** The secret values in `creds` that must never appear in a message. */
export function secretValues(creds: GitCredentials): string[] {
  return [creds.password, creds.bearerToken, creds.sshPassphrase, creds.sshIdentity].filter(
    (v): v is string => typeof v === 'string' && v.length >= 4,
  );
}
