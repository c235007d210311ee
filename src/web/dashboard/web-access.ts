import { randomBytes } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import { safeEqual } from '../../notify/timing-safe.ts';

/** The header every mutating request must carry (a cross-site page cannot set it without a CORS preflight, never granted). */
export const CsrfHeader = 'x-kedge-request';
/** The cookie a browser keeps the token in after opening `/?token=…` (HttpOnly, SameSite=Strict). */
export const TokenCookie = 'kedge_token';

/** True for addresses only this machine can reach: 127.0.0.0/8, ::1, localhost. */
export function isLoopbackHost(host: string): boolean {
  const bare = host.replace(/^\[|\]$/g, '').toLowerCase();
  return (
    bare === 'localhost' ||
    bare === '::1' ||
    /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(bare) ||
    bare === '::ffff:127.0.0.1'
  );
}

/** A fresh token for a dashboard served off loopback without one (printed at start). */
export function generateWebToken(): string {
  return randomBytes(24).toString('base64url');
}

/** Why a request was refused: the HTTP status and a message for the caller. */
export interface Refusal {
  status: 401 | 403;
  message: string;
}

/**
 * Who may use the dashboard: with a token (always off loopback), only requests carrying it (`Authorization:
 * Bearer`, or the cookie set by `/?token=`); on loopback without a token, only requests whose Host names
 * loopback (a DNS-rebinding page has its own host name). Mutations additionally need the CSRF header and, when
 * the browser sends one, an Origin of this very host.
 */
export class WebAccess {
  constructor(
    private readonly token: string | undefined,
    private readonly loopback: boolean,
  ) {
    if (!loopback && !token)
      throw new Error('a dashboard served off loopback needs a token (--web-token or KEDGE_WEB_TOKEN)');
  }

  /** Refusal of a read, or undefined when allowed. */
  checkRead(req: IncomingMessage): Refusal | undefined {
    if (this.token) {
      const given = bearer(req) ?? cookie(req, TokenCookie);
      if (!given || !safeEqual(given, this.token))
        return {
          status: 401,
          message:
            'this dashboard needs its token: open /?token=<token> or send Authorization: Bearer <token>',
        };
      return undefined;
    }
    const host = hostName(req.headers.host ?? '');
    if (this.loopback && !isLoopbackHost(host))
      return { status: 403, message: `host '${host}' is not a loopback name` };
    return undefined;
  }

  /** Refusal of a mutation (POST), or undefined when allowed. */
  checkWrite(req: IncomingMessage): Refusal | undefined {
    const read = this.checkRead(req);
    if (read) return read;
    if (req.headers[CsrfHeader] !== '1')
      return { status: 403, message: `mutations need the header ${CsrfHeader}: 1` };
    const origin = req.headers.origin;
    if (origin !== undefined && origin !== `http://${req.headers.host ?? ''}`)
      return { status: 403, message: `cross-origin request from ${origin} refused` };
    const site = req.headers['sec-fetch-site'];
    if (site !== undefined && site !== 'same-origin' && site !== 'none')
      return { status: 403, message: `cross-site request refused (${String(site)})` };
    return undefined;
  }

  /** True when `candidate` is the token (for `/?token=`). */
  matches(candidate: string): boolean {
    return this.token !== undefined && safeEqual(candidate, this.token);
  }
}

function bearer(req: IncomingMessage): string | undefined {
  const match = /^Bearer (.+)$/i.exec(req.headers.authorization ?? '');
  return match?.[1];
}

function cookie(req: IncomingMessage, name: string): string | undefined {
  for (const part of (req.headers.cookie ?? '').split(';')) {
    const [key, ...value] = part.trim().split('=');
    if (key === name) return decodeURIComponent(value.join('='));
  }
  return undefined;
}

/** The host of a Host header, without its port. */
function hostName(header: string): string {
  const ipv6 = /^\[([^\]]+)\]/.exec(header);
  if (ipv6) return ipv6[1] ?? '';
  return header.split(':')[0] ?? '';
}
