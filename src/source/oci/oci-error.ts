/** What kind of failure a registry operation met, for the condition reason it maps to. */
export type OciErrorKind = 'authentication' | 'not-found' | 'unreachable' | 'protocol' | 'digest-mismatch';

/**
 * A registry operation that failed, with what a person needs to fix it: the operation, the registry's own
 * error code and message when it sent one. Never carries credentials or tokens.
 */
export class OciError extends Error {
  override readonly name = 'OciError';

  constructor(
    readonly kind: OciErrorKind,
    message: string,
    readonly status?: number,
    options?: ErrorOptions,
  ) {
    super(message, options);
  }

  get isAuthentication(): boolean {
    return this.kind === 'authentication';
  }

  get isNotFound(): boolean {
    return this.kind === 'not-found';
  }
}

/** The distribution spec's error body: `{"errors":[{"code","message","detail"}]}`. */
export function registryErrorText(body: string): string | undefined {
  try {
    const parsed = JSON.parse(body) as { errors?: Array<{ code?: string; message?: string }> };
    const errors = parsed.errors?.map((e) => [e.code, e.message].filter(Boolean).join(': ')).filter(Boolean);
    return errors && errors.length > 0 ? errors.join('; ') : undefined;
  } catch {
    return undefined;
  }
}
