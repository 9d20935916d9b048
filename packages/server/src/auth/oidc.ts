import { randomBytes } from 'node:crypto';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import cookie from '@fastify/cookie';
import * as client from 'openid-client';
import { SCOPE_KEY_PATTERN, type RoleGrant } from '@vexil/store';
import { HttpError } from '../http/errors.js';
import { highestGrant, type KeyRole, type Principal } from './keys.js';
import { baseUrl } from '../ofrep/routes.js';

/** Sign-in with OpenID Connect on the admin page (authorization code flow with PKCE). */
export interface OidcOptions {
  /** The provider's issuer URL (its discovery document is `<issuer>/.well-known/openid-configuration`). */
  issuer: string;
  clientId: string;
  /** Absent: a public client (PKCE only, no client authentication). */
  clientSecret?: string;
  /** Where the provider sends the browser back. Default `<publicUrl, else the request's origin>/auth/callback`. */
  redirectUrl?: string;
  /** Default `openid profile email`; add the scope that makes your provider send the role claim (e.g. `groups`). */
  scopes?: string;
  /** The claim holding the user's groups or roles (a dot path: `realm_access.roles`). Default `groups`. */
  roleClaim?: string;
  /**
   * Claim value → what it grants: a role everywhere (`admin`) or roles per project × environment. `*` applies to
   * every signed-in user. A user whose claim grants nothing is refused.
   */
  roles: Record<string, RoleGrant[]>;
  /** Signs the session cookie; servers behind one address need the same one. Default: random per process. */
  sessionSecret?: string;
  /** How long a sign-in lasts. Default 8 hours. */
  sessionTtlMs?: number;
}

const SESSION_COOKIE = 'vexil_session';
const LOGIN_COOKIE = 'vexil_oidc';
const LOGIN_TTL_S = 600;
const DEFAULT_TTL_MS = 8 * 3600_000;
const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);

/** What the signed session cookie holds: who, what they may do, until when, and the CSRF token of this session. */
interface SessionPayload {
  sub: string;
  name: string;
  grants: RoleGrant[];
  csrf: string;
  exp: number;
}

interface LoginState {
  verifier: string;
  state: string;
  nonce: string;
  returnTo: string;
  redirectUri: string;
}

/**
 * Parses `--oidc-role` values: `GROUP=ROLE` (everywhere) or `GROUP=PROJECT/ENV:ROLE[,PROJECT/ENV:ROLE…]` (`*` for any
 * project or environment). Several values for one group add up.
 */
export function parseOidcRoles(values: readonly string[]): Record<string, RoleGrant[]> {
  const roles: Record<string, RoleGrant[]> = {};
  const ROLES: readonly string[] = ['reader', 'editor', 'admin'];
  for (const value of values) {
    const at = value.indexOf('=');
    if (at <= 0) throw new TypeError(`--oidc-role "${value}": use GROUP=ROLE or GROUP=PROJECT/ENV:ROLE`);
    const group = value.slice(0, at).trim();
    const grants = (roles[group] ??= []);
    for (const part of value.slice(at + 1).split(',')) {
      const item = part.trim();
      const [where, role] = item.includes(':') ? [item.slice(0, item.lastIndexOf(':')), item.slice(item.lastIndexOf(':') + 1)] : ['*/*', item];
      const [project, environment = '*'] = where.split('/');
      if (!ROLES.includes(role)) throw new TypeError(`--oidc-role "${value}": "${role}" is not a role (reader, editor or admin)`);
      for (const key of [project, environment])
        if (key === undefined || (key !== '*' && !SCOPE_KEY_PATTERN.test(key))) throw new TypeError(`--oidc-role "${value}": "${where}" is not PROJECT/ENV (keys or *)`);
      grants.push({ project: project!, environment, role: role as KeyRole });
    }
  }
  return roles;
}

/** The claim at a dot path, as a list of strings. */
function claimValues(claims: Record<string, unknown>, path: string): string[] {
  let value: unknown = claims;
  for (const part of path.split('.')) value = value !== null && typeof value === 'object' ? (value as Record<string, unknown>)[part] : undefined;
  if (typeof value === 'string') return [value];
  return Array.isArray(value) ? value.filter((item): item is string => typeof item === 'string') : [];
}

/** The grants a user's claims give (`*` entries for everyone), merged. */
export function grantsFromClaims(claims: Record<string, unknown>, roleClaim: string, roles: Record<string, RoleGrant[]>): RoleGrant[] {
  const grants: RoleGrant[] = [...(roles['*'] ?? [])];
  for (const value of claimValues(claims, roleClaim)) if (Object.hasOwn(roles, value) && value !== '*') grants.push(...roles[value]!);
  const seen = new Set<string>();
  return grants.filter((grant) => {
    const id = `${grant.project}\u0000${grant.environment}\u0000${grant.role}`;
    return seen.has(id) ? false : (seen.add(id), true);
  });
}

/** A user's principal: with only `*`/`*` grants, the highest role everywhere (no grants), else the grants. */
export function sessionPrincipal(payload: Pick<SessionPayload, 'sub' | 'name' | 'grants'>): Principal {
  const everywhere = payload.grants.every((grant) => grant.project === '*' && grant.environment === '*');
  const role = highestGrant(payload.grants) ?? 'reader';
  return { id: `user:${payload.sub}`, name: payload.name, kind: 'admin', role, grants: everywhere ? [] : payload.grants, via: 'session' };
}

/** A return path that stays on this server: a relative path (never `//host`), else the page's root. */
function safeReturnTo(value: unknown): string {
  return typeof value === 'string' && value.startsWith('/') && !value.startsWith('//') && !value.startsWith('/\\') && value.length <= 2000 ? value : '/';
}

function htmlPage(title: string, text: string): string {
  const escape = (value: string) => value.replace(/[&<>"']/g, (char) => `&#${char.charCodeAt(0)};`);
  return `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>${escape(title)} · Vexil</title></head><body style="font-family:system-ui;max-width:40rem;margin:4rem auto;line-height:1.5"><h1>${escape(title)}</h1><p>${escape(text)}</p><p><a href="/">Back to Vexil</a></p></body></html>`;
}

const isLoopback = (url: URL) => ['localhost', '127.0.0.1', '[::1]'].includes(url.hostname);

/**
 * Sign-in with OpenID Connect: `/auth/login` → the provider → `/auth/callback` → a signed, HTTP-only session cookie
 * (`SameSite=Lax`, `Secure` over HTTPS) holding the user's grants; writes also need the session's CSRF token in
 * `X-CSRF-Token` (from `/admin/v1/me`). Admin keys keep working beside it. Register before the auth hook (the cookie
 * parser runs first); the returned reader is the auth hook's session branch.
 */
export async function registerOidc(
  app: FastifyInstance,
  options: OidcOptions,
  publicUrl: string | undefined,
): Promise<(request: FastifyRequest) => { principal: Principal; csrf: string } | undefined> {
  const issuer = new URL(options.issuer);
  const secret = options.sessionSecret ?? randomBytes(32).toString('base64url');
  const ttlMs = options.sessionTtlMs ?? DEFAULT_TTL_MS;
  const roleClaim = options.roleClaim ?? 'groups';
  await app.register(cookie, { secret, hook: 'onRequest' });

  // Discovery once, lazily (the provider may start after the server); a failure is retried at the next sign-in.
  let configuration: Promise<client.Configuration> | undefined;
  const config = (): Promise<client.Configuration> => {
    configuration ??= client
      .discovery(issuer, options.clientId, options.clientSecret ?? { token_endpoint_auth_method: 'none' }, options.clientSecret ? client.ClientSecretPost(options.clientSecret) : client.None(), {
        // Plain HTTP only for a provider on this machine (tests, development).
        ...(issuer.protocol === 'http:' && isLoopback(issuer) ? { execute: [client.allowInsecureRequests] } : {}),
      })
      .catch((error: unknown) => {
        configuration = undefined;
        throw error;
      });
    return configuration;
  };

  const secure = (request: FastifyRequest) => request.protocol === 'https';
  const redirectUri = (request: FastifyRequest) => options.redirectUrl ?? `${baseUrl(request, publicUrl)}/auth/callback`;

  app.get(
    '/auth/config',
    { config: { auth: 'none', rateLimit: false }, schema: { hide: true } },
    () => ({ oidc: { enabled: true, loginUrl: '/auth/login', issuer: issuer.origin } }),
  );

  app.get<{ Querystring: { returnTo?: string } }>('/auth/login', { config: { auth: 'none' }, schema: { hide: true } }, async (request, reply) => {
    let found: client.Configuration;
    try {
      found = await config();
    } catch (error) {
      request.log.error({ err: error }, 'OpenID provider discovery failed');
      return reply.code(503).type('text/html; charset=utf-8').send(htmlPage('Sign-in unavailable', `The OpenID provider at ${issuer.origin} does not answer. Sign in with an admin key, or try again later.`));
    }
    const login: LoginState = {
      verifier: client.randomPKCECodeVerifier(),
      state: client.randomState(),
      nonce: client.randomNonce(),
      returnTo: safeReturnTo(request.query.returnTo),
      redirectUri: redirectUri(request),
    };
    const url = client.buildAuthorizationUrl(found, {
      redirect_uri: login.redirectUri,
      scope: options.scopes ?? 'openid profile email',
      code_challenge: await client.calculatePKCECodeChallenge(login.verifier),
      code_challenge_method: 'S256',
      state: login.state,
      nonce: login.nonce,
    });
    reply.setCookie(LOGIN_COOKIE, JSON.stringify(login), { signed: true, httpOnly: true, sameSite: 'lax', secure: secure(request), path: '/auth', maxAge: LOGIN_TTL_S });
    return reply.redirect(url.href, 302);
  });

  app.get('/auth/callback', { config: { auth: 'none' }, schema: { hide: true } }, async (request, reply) => {
    const page = (status: number, title: string, text: string) => reply.code(status).type('text/html; charset=utf-8').send(htmlPage(title, text));
    const raw = request.cookies[LOGIN_COOKIE];
    const unsigned = raw === undefined ? undefined : request.unsignCookie(raw);
    reply.clearCookie(LOGIN_COOKIE, { path: '/auth' });
    if (!unsigned?.valid || unsigned.value === null) return page(400, 'Sign-in expired', 'This sign-in was not started here or took too long: start again.');
    const login = JSON.parse(unsigned.value) as LoginState;
    const query = new URL(request.url, 'http://callback').searchParams;
    if (query.has('error')) return page(403, 'Sign-in refused', `The provider said: ${query.get('error_description') ?? query.get('error')}`);
    let claims: Record<string, unknown>;
    try {
      const found = await config();
      const current = new URL(login.redirectUri);
      current.search = query.toString();
      const tokens = await client.authorizationCodeGrant(found, current, { pkceCodeVerifier: login.verifier, expectedState: login.state, expectedNonce: login.nonce, idTokenExpected: true });
      claims = { ...(tokens.claims() ?? {}) } as Record<string, unknown>;
      // Providers that keep the role claim out of the ID token give it in UserInfo.
      if (claimValues(claims, roleClaim).length === 0 && tokens.access_token) {
        const info = await client.fetchUserInfo(found, tokens.access_token, String(claims.sub)).catch(() => undefined);
        if (info) claims = { ...info, ...claims, [roleClaim]: (info as Record<string, unknown>)[roleClaim] ?? claims[roleClaim] };
      }
    } catch (error) {
      request.log.warn({ err: error }, 'OpenID sign-in failed');
      return page(400, 'Sign-in failed', `The answer of the OpenID provider could not be verified: ${(error as Error).message}`);
    }
    const sub = String(claims.sub);
    const name = [claims.email, claims.preferred_username, claims.name, sub].find((value): value is string => typeof value === 'string' && value !== '')!;
    const grants = grantsFromClaims(claims, roleClaim, options.roles);
    if (grants.length === 0) {
      request.log.warn({ user: name, claim: roleClaim, values: claimValues(claims, roleClaim) }, 'signed in without a Vexil role');
      return page(403, 'No access', `You are signed in as ${name}, but none of your ${roleClaim} (${claimValues(claims, roleClaim).join(', ') || 'none'}) gives a role in Vexil. Ask an administrator.`);
    }
    const payload: SessionPayload = { sub, name, grants, csrf: randomBytes(24).toString('base64url'), exp: Date.now() + ttlMs };
    reply.setCookie(SESSION_COOKIE, JSON.stringify(payload), { signed: true, httpOnly: true, sameSite: 'lax', secure: secure(request), path: '/', maxAge: Math.floor(ttlMs / 1000) });
    request.log.info({ user: name, grants }, 'signed in with OpenID Connect');
    return reply.redirect(login.returnTo, 302);
  });

  app.post('/auth/logout', { config: { auth: 'none' }, schema: { hide: true } }, (request, reply) => {
    const session = readSession(request);
    if (session && request.headers['x-csrf-token'] !== session.csrf) throw new HttpError(403, 'csrf', 'sign-out needs the session\'s X-CSRF-Token');
    reply.clearCookie(SESSION_COOKIE, { path: '/' });
    return { signedOut: true };
  });

  const readSession = (request: FastifyRequest): SessionPayload | undefined => {
    const raw = request.cookies?.[SESSION_COOKIE];
    if (raw === undefined) return undefined;
    const unsigned = request.unsignCookie(raw);
    if (!unsigned.valid || unsigned.value === null) return undefined;
    try {
      const payload = JSON.parse(unsigned.value) as SessionPayload;
      return typeof payload.exp === 'number' && payload.exp > Date.now() && Array.isArray(payload.grants) ? payload : undefined;
    } catch {
      return undefined;
    }
  };

  return (request) => {
    const session = readSession(request);
    return session ? { principal: sessionPrincipal(session), csrf: session.csrf } : undefined;
  };
}

/** The session branch of the auth hook: the principal, or a refusal when a write lacks the CSRF token. */
export function authorizeSession(request: FastifyRequest, session: { principal: Principal; csrf: string }): HttpError | undefined {
  request.csrfToken = session.csrf;
  if (!SAFE_METHODS.has(request.method) && request.headers['x-csrf-token'] !== session.csrf)
    return new HttpError(403, 'csrf', 'a signed-in write needs the X-CSRF-Token header of its session (from GET /admin/v1/me)');
  return undefined;
}
