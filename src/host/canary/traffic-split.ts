import type { IncomingHttpHeaders } from 'node:http';

/** How the proxy splits requests between the stable and the canary backends. */
export interface TrafficSplit {
  /** Ready backends of the new revision. */
  canaryPorts: readonly number[];
  /** % of requests (0–100) sent to the canary. */
  weight: number;
  /** Requests with this field and value always go to the canary. */
  header?: { name: string; value: string };
  /** Cookie that pins a client to the side its first answer came from (`canary` or `stable`). */
  cookie?: { name: string };
}

export type Side = 'stable' | 'canary';

/** The side chosen for one request, and the cookie to set on its answer when the client was not pinned yet. */
export interface SideChoice {
  side: Side;
  setCookie?: string;
}

/**
 * Chooses a side per request: the pinning header first, then the pinning cookie, then a weighted draw.
 * Pure and cheap: a field lookup, a cookie scan only when a cookie is configured, one random number.
 */
export function chooseSide(
  split: TrafficSplit,
  headers: IncomingHttpHeaders,
  random = Math.random,
): SideChoice {
  if (split.header && headers[split.header.name.toLowerCase()] === split.header.value)
    return { side: 'canary' };
  if (split.cookie) {
    const pinned = cookieValue(headers.cookie, split.cookie.name);
    if (pinned === 'canary' || pinned === 'stable') return { side: pinned };
    const side = draw(split.weight, random);
    return { side, setCookie: `${split.cookie.name}=${side}; Path=/; HttpOnly; SameSite=Lax` };
  }
  return { side: draw(split.weight, random) };
}

function draw(weight: number, random: () => number): Side {
  if (weight <= 0) return 'stable';
  if (weight >= 100) return 'canary';
  return random() * 100 < weight ? 'canary' : 'stable';
}

function cookieValue(header: string | undefined, name: string): string | undefined {
  if (!header) return undefined;
  for (const part of header.split(';')) {
    const eq = part.indexOf('=');
    if (eq > 0 && part.slice(0, eq).trim() === name) return part.slice(eq + 1).trim();
  }
  return undefined;
}
