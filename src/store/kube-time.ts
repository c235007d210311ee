/** RFC 3339 UTC with second precision, the way Kubernetes writes timestamps (`2024-05-01T12:00:00Z`). */
export function toKubeTime(date: Date): string {
  return date.toISOString().replace(/\.\d{3}Z$/, 'Z');
}
