/**
 * A URL safe to show in logs, events and status: scheme, host and port only (`https://hooks.slack.com/…`).
 * Webhook addresses carry their secret in the path or query (Slack, Teams, Discord), so nothing past the
 * host is kept; an unparsable address becomes `<invalid address>`.
 */
export function scrubUrl(address: string): string {
  try {
    const url = new URL(address);
    const rest = url.pathname !== '/' || url.search ? '/…' : '';
    return `${url.protocol}//${url.host}${rest}`;
  } catch {
    return '<invalid address>';
  }
}

/** `text` with every given secret replaced by `*****` (Flux redacts tokens the same way). */
export function redact(text: string, secrets: ReadonlyArray<string | undefined>): string {
  let out = text;
  for (const secret of secrets) if (secret && secret.length >= 4) out = out.split(secret).join('*****');
  return out;
}
