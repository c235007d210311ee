/** Shorter pieces are not redacted: they would blank out ordinary words of a message. */
const MIN_PIECE = 4;

/**
 * `message` with every piece of the `plaintexts` it quotes replaced by `<redacted>`: each line, and for
 * `key=value` / `key: value` lines each value. For messages of a build that read decrypted files (kustomize may
 * quote a line of an env file it cannot parse), so that no decrypted value reaches a status or an event.
 */
export function redactPlaintexts(message: string, plaintexts: Buffer[]): string {
  const pieces = new Set<string>();
  for (const plain of plaintexts) {
    for (const raw of plain.toString('utf8').split(/\r?\n/)) {
      const line = raw.trim();
      if (line.length >= MIN_PIECE) pieces.add(line);
      const value = /^[^=:]+[=:]\s*(.*)$/.exec(line)?.[1]?.trim();
      if (value && value.length >= MIN_PIECE) pieces.add(value);
    }
  }
  let out = message;
  // Longest first, so a line is replaced whole before a value inside it.
  for (const piece of [...pieces].sort((a, b) => b.length - a.length))
    out = out.split(piece).join('<redacted>');
  return out;
}
