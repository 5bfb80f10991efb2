/**
 * Browser mode's guard, after Jupyter's: the API is as powerful as the user's shell (it reads and
 * writes files), so a page from anywhere else must not reach it.
 * - A random token, printed in the URL once, is exchanged for an HttpOnly SameSite=Strict cookie
 *   (per port: cookies are not isolated by port, and two servers may run side by side).
 * - The Host header must name the address we bound (loopback by default): a DNS-rebinding page
 *   reaches us under its own host name and is refused.
 * - An Origin header, when present, must be our own origin: no cross-site calls, no CSRF.
 * - The page is served with a strict Content-Security-Policy: nothing remote, no inline script.
 */
import { randomBytes, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import { PAGE_DIRECTIVES, SCRIPT_CSP } from '../content-security-policy.js';

export const newToken = (): string => randomBytes(24).toString('hex');

export const cookieName = (port: number): string => `foolprint-token-${port}`;

const LOOPBACK_NAMES = ['127.0.0.1', 'localhost', '[::1]'];

/** Host header values we answer to: loopback names, plus the bound host when --host named another. */
export function allowedHosts(bindHost: string, port: number): Set<string> {
  const names = new Set(LOOPBACK_NAMES);
  if (!['127.0.0.1', 'localhost', '::1'].includes(bindHost)) names.add(bindHost.includes(':') ? `[${bindHost}]` : bindHost);
  return new Set([...names].map((name) => `${name}:${port}`));
}

export function tokensEqual(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

export function parseCookies(header: string | undefined): Map<string, string> {
  const cookies = new Map<string, string>();
  for (const part of (header ?? '').split(';')) {
    const eq = part.indexOf('=');
    if (eq <= 0) continue;
    // A value that is not valid percent-encoding ("%E0%A4%A") is not our cookie: skip it, so the
    // request is answered 401 like any other without a session, never 500 "URI malformed".
    try {
      cookies.set(part.slice(0, eq).trim(), decodeURIComponent(part.slice(eq + 1).trim()));
    } catch {
      continue;
    }
  }
  return cookies;
}

export type Verdict = { ok: true } | { ok: false; status: 401 | 403; message: string };

/** Host and Origin: checked on every request, before anything else. */
export function checkHostAndOrigin(request: IncomingMessage, hosts: Set<string>): Verdict {
  const host = request.headers.host;
  if (!host || !hosts.has(host.toLowerCase())) {
    return { ok: false, status: 403, message: `Host "${host ?? ''}" is not this server (DNS rebinding protection): open ${[...hosts][0]}` };
  }
  const origin = request.headers.origin;
  if (origin !== undefined && !(origin.startsWith('http://') && hosts.has(origin.slice('http://'.length).toLowerCase()))) {
    return { ok: false, status: 403, message: `cross-origin request from ${origin} refused` };
  }
  return { ok: true };
}

/** The session: our cookie, or `Authorization: Bearer <token>` for scripts and tests. */
export function isAuthenticated(request: IncomingMessage, token: string, port: number): boolean {
  const cookie = parseCookies(request.headers.cookie).get(cookieName(port));
  if (cookie !== undefined && tokensEqual(cookie, token)) return true;
  const authorization = request.headers.authorization;
  if (authorization?.startsWith('Bearer ')) return tokensEqual(authorization.slice('Bearer '.length).trim(), token);
  return false;
}

export function sessionCookie(token: string, port: number): string {
  return `${cookieName(port)}=${token}; HttpOnly; SameSite=Strict; Path=/`;
}

/** Browser mode: never framed by another site; no form ever posts (as the page's own meta policy says). */
export const PAGE_CSP = [...PAGE_DIRECTIVES, "form-action 'none'", "frame-ancestors 'none'"].join('; ');

export { SCRIPT_CSP };

export const COMMON_HEADERS: Record<string, string> = {
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
  'x-frame-options': 'DENY',
  'cross-origin-opener-policy': 'same-origin',
  'cross-origin-resource-policy': 'same-origin',
  'permissions-policy': 'camera=(self), microphone=(), geolocation=()',
};
