import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { FastifyInstance, FastifyReply } from 'fastify';
import fastifyStatic from '@fastify/static';

/** `packages/server/` whether this module runs from `src/ui/` (sources) or `dist/ui/` (built). */
const PACKAGE_ROOT = fileURLToPath(new URL('../../', import.meta.url));

/** Where `npm run build -w @vexil/ui` puts the admin page: `packages/ui/dist`, beside this package. */
export const DEFAULT_UI_ROOT = resolve(PACKAGE_ROOT, '..', 'ui', 'dist');

/** Headers of the page itself: it must not be framed by other sites (it holds an admin key once signed in). */
function pageHeaders(reply: FastifyReply): void {
  reply.header('x-frame-options', 'DENY');
  reply.header('content-security-policy', "frame-ancestors 'none'");
  reply.header('x-content-type-options', 'nosniff');
  reply.header('referrer-policy', 'no-referrer');
}

const NOT_BUILT_PAGE = (root: string) => `<!doctype html>
<html lang="en">
<head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1"><title>Vexil</title>
<style>body{font:16px/1.5 system-ui,sans-serif;max-width:42rem;margin:3rem auto;padding:0 1rem;color:#1f2430}code{background:#f1f3f7;padding:.1em .3em;border-radius:3px}</style>
</head>
<body>
<h1>Vexil is running</h1>
<p>The admin page is not built, so this server cannot show it (no <code>${escapeHtml(join(root, 'index.html'))}</code>).
Build it, then restart the server:</p>
<pre><code>npm run build -w @vexil/ui</code></pre>
<p>Everything else works without it:</p>
<ul>
<li><a href="/health">/health</a>: the server and store status</li>
<li><a href="/openapi.json">/openapi.json</a>: every endpoint (OFREP, the GO Feature Flag relay API, the stream, the admin API)</li>
<li><a href="/metrics">/metrics</a>: Prometheus metrics</li>
</ul>
</body>
</html>
`;

function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (ch) => `&#${ch.charCodeAt(0)};`);
}

export interface AdminPageResult {
  /** The folder served at `/`, or undefined when the page is not built (a hint page answers `/` instead). */
  root: string | undefined;
}

/**
 * Serves the admin page (a Vite build: `index.html` and hashed files under `assets/`) at `/`, without auth: the page
 * asks for the admin key itself and sends it to the admin API. Top-level files are routed one by one
 * (`wildcard: false`, so no catch-all route shadows the API's 404s); `/assets/*` is a wildcard so a rebuilt page's
 * new file names are found. The page uses hash routes, so there is no SPA fallback. When the folder has no
 * `index.html`, `/` answers a small page saying how to build it.
 */
export async function registerAdminPage(app: FastifyInstance, uiRoot: string): Promise<AdminPageResult> {
  const root = resolve(uiRoot);
  if (!existsSync(join(root, 'index.html'))) {
    app.log.warn({ uiRoot: root }, 'the admin page is not built (no index.html): run `npm run build -w @vexil/ui` to serve it at /');
    app.get('/', { schema: { hide: true } }, (_request, reply) => {
      pageHeaders(reply);
      reply.header('cache-control', 'no-cache');
      return reply.type('text/html; charset=utf-8').send(NOT_BUILT_PAGE(root));
    });
    return { root: undefined };
  }

  await app.register(fastifyStatic, {
    root,
    prefix: '/',
    wildcard: false,
    index: ['index.html'],
    globIgnore: ['assets/**'],
    decorateReply: false,
    // Revalidate the page itself every time: a rebuilt page names new assets.
    setHeaders: (reply) => {
      pageHeaders(reply);
      reply.header('cache-control', 'no-cache');
    },
  });
  const assets = join(root, 'assets');
  if (existsSync(assets)) {
    await app.register(fastifyStatic, {
      root: assets,
      prefix: '/assets/',
      decorateReply: false,
      // Vite puts a content hash in every asset name: cache them for good.
      immutable: true,
      maxAge: '365d',
    });
  }
  return { root };
}
