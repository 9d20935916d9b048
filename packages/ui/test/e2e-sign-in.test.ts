// End-to-end: sign-in with OpenID Connect on the admin page, in headless Chromium, against a real OpenID provider
// (`oidc-provider`, a certified implementation, started here) and `vexil serve --oidc-issuer …`: the authorization
// code flow with PKCE, roles from the `groups` claim, the HTTP-only session cookie, CSRF on writes, a user without a
// role refused, sign-out.
// Run from the repository root: node --conditions=source --import tsx --test packages/ui/test/e2e-sign-in.test.ts
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import { join } from 'node:path';
import type { BrowserContext, Page } from 'playwright-core';
import Provider from 'oidc-provider';
import { ADMIN_KEY, SHOTS, freePort, skip, startPageHarness, type PageHarness } from './page-harness.js';

const USERS: Record<string, { groups: string[]; name: string }> = {
  'ada@example.com': { groups: ['vexil-editors', 'staff'], name: 'Ada' },
  'rita@example.com': { groups: ['vexil-readers'], name: 'Rita' },
  'eve@example.com': { groups: ['contractors'], name: 'Eve' },
};

let harness: PageHarness | undefined;
let providerServer: Server | undefined;
let base: string;
let page: Page;

before(async () => {
  if (skip) return;
  const vexilPort = await freePort();
  const providerPort = await freePort();
  const issuer = `http://127.0.0.1:${providerPort}`;
  const provider = new Provider(issuer, {
    clients: [
      {
        client_id: 'vexil',
        client_secret: 'vexil-client-secret',
        redirect_uris: [`http://127.0.0.1:${vexilPort}/auth/callback`],
        grant_types: ['authorization_code'],
        response_types: ['code'],
      },
    ],
    async findAccount(_ctx: unknown, id: string) {
      const user = USERS[id];
      if (!user) return undefined;
      return { accountId: id, claims: async () => ({ sub: id, email: id, name: user.name, groups: user.groups }) };
    },
    claims: { openid: ['sub'], email: ['email'], profile: ['name'], groups: ['groups'] },
    // The role claim in the ID token itself (providers differ; Vexil also reads UserInfo).
    conformIdTokenClaims: false,
    pkce: { required: () => true },
    cookies: { keys: ['test-cookie-key-0123456789'] },
  });
  providerServer = createServer(provider.callback());
  await new Promise<void>((resolve) => providerServer!.listen(providerPort, '127.0.0.1', resolve));
  harness = await startPageHarness('sign-in', {
    port: vexilPort,
    args: ['--oidc-issuer', issuer, '--oidc-client-id', 'vexil', '--oidc-scopes', 'openid email profile groups', '--oidc-role', 'vexil-editors=editor', '--oidc-role', 'vexil-readers=reader'],
    env: { VEXIL_OIDC_CLIENT_SECRET: 'vexil-client-secret', VEXIL_SESSION_SECRET: 'e2e-session-secret-0123456789abcdef' },
  });
  ({ base, page } = harness);
  assert.equal((await harness.http('PUT', '/admin/v1/flags/banner', ADMIN_KEY, { variations: { on: true, off: false }, defaultRule: { variation: 'off' } })).status, 201);
});

after(async () => {
  await harness?.close();
  await new Promise((resolve) => providerServer?.close(resolve) ?? resolve(undefined));
});

/** Signs in through the provider's own login and consent pages. */
async function signIn(target: Page, user: string, screenshot?: string): Promise<void> {
  await target.goto(`${base}/`);
  const sso = target.getByRole('link', { name: 'Sign in with single sign-on' });
  await sso.waitFor();
  if (screenshot) await target.screenshot({ path: join(SHOTS, screenshot) });
  await sso.click();
  await target.locator('input[name="login"]').fill(user);
  await target.locator('input[name="password"]').fill('any password');
  await target.getByRole('button', { name: 'Sign-in' }).click();
  const consent = target.getByRole('button', { name: 'Continue' });
  // The provider asks for consent the first time a user signs in to this client.
  await consent.click({ timeout: 10_000 }).catch(() => undefined);
}

async function cookieHeader(context: BrowserContext): Promise<string> {
  return (await context.cookies(base)).map((cookie) => `${cookie.name}=${cookie.value}`).join('; ');
}

test('an editor signs in through the provider, gets an HTTP-only session, and writes with the CSRF token', { skip }, async () => {
  await signIn(page, 'ada@example.com', 'sign-in.png');
  await page.getByRole('heading', { name: 'Flags' }).waitFor();
  await page.getByText('ada@example.com').waitFor();
  await page.screenshot({ path: join(SHOTS, 'signed-in.png') });

  const session = (await page.context().cookies(base)).find((cookie) => cookie.name === 'vexil_session');
  assert.ok(session, 'a session cookie');
  assert.equal(session.httpOnly, true, 'scripts cannot read it');
  assert.equal(session.sameSite, 'Lax');
  assert.equal(await page.evaluate(() => document.cookie.includes('vexil_session')), false);

  // The page writes with the session: the toggle goes through, audited with the user's name.
  await page.getByRole('link', { name: 'banner' }).waitFor();
  const cookies = await cookieHeader(page.context());
  const me = await (await fetch(`${base}/admin/v1/me`, { headers: { cookie: cookies } })).json();
  assert.equal(me.via, 'session');
  assert.equal(me.name, 'ada@example.com');
  assert.equal(me.role, 'editor');
  assert.ok(typeof me.csrfToken === 'string' && me.csrfToken.length > 10);

  const body = JSON.stringify({ variations: { on: true, off: false }, defaultRule: { variation: 'on' } });
  const withoutToken = await fetch(`${base}/admin/v1/flags/banner`, { method: 'PUT', headers: { cookie: cookies, 'content-type': 'application/json' }, body });
  assert.equal(withoutToken.status, 403, 'a cookie alone cannot write (CSRF)');
  assert.equal((await withoutToken.json()).error, 'csrf');
  const withToken = await fetch(`${base}/admin/v1/flags/banner`, { method: 'PUT', headers: { cookie: cookies, 'content-type': 'application/json', 'x-csrf-token': me.csrfToken }, body });
  assert.equal(withToken.status, 200, await withToken.text());
  const audit = await harness!.http('GET', '/admin/v1/flags/banner/audit', ADMIN_KEY);
  assert.match(audit.body.entries[0].actor, /^ada@example\.com \(user:ada@example\.com\)$/);

  // A forged cookie (the payload changed to claim more) is not a session.
  const forged = cookies.replace(/vexil_session=([^;]+)/, (_all, value: string) => `vexil_session=${encodeURIComponent(decodeURIComponent(value).replace('"editor"', '"admin"'))}`);
  assert.notEqual(forged, cookies);
  assert.equal((await fetch(`${base}/admin/v1/keys`, { headers: { cookie: forged } })).status, 401);
  assert.equal((await fetch(`${base}/admin/v1/keys`, { headers: { cookie: cookies } })).status, 403, 'an editor cannot manage keys');

  await page.getByRole('button', { name: 'Sign out' }).click();
  await page.getByRole('link', { name: 'Sign in with single sign-on' }).waitFor();
  assert.equal((await page.context().cookies(base)).some((cookie) => cookie.name === 'vexil_session'), false, 'sign-out clears the session');
});

test('a reader sees no save button; a user whose groups give no role is refused', { skip }, async () => {
  const browser = page.context().browser()!;
  const readerContext = await browser.newContext({ viewport: { width: 1280, height: 900 } });
  const strangerContext = await browser.newContext({ viewport: { width: 1280, height: 900 } });
  try {
    const reader = await readerContext.newPage();
    reader.setDefaultTimeout(20_000);
    await signIn(reader, 'rita@example.com');
    await reader.getByRole('heading', { name: 'Flags' }).waitFor();
    await reader.goto(`${base}/#/flags/banner`);
    await reader.getByRole('heading', { name: 'banner' }).waitFor();
    assert.equal(await reader.getByRole('button', { name: /Review and save/ }).count(), 0);

    const stranger = await strangerContext.newPage();
    stranger.setDefaultTimeout(20_000);
    await signIn(stranger, 'eve@example.com');
    await stranger.getByRole('heading', { name: 'No access' }).waitFor();
    assert.match(await stranger.textContent('body') ?? '', /contractors/);
    assert.equal((await strangerContext.cookies(base)).some((cookie) => cookie.name === 'vexil_session'), false);
  } finally {
    await readerContext.close();
    await strangerContext.close();
  }
});
