import { createRequire } from 'node:module';
import { randomBytes } from 'node:crypto';
import Fastify, { LogController, type FastifyInstance, type FastifyReply, type FastifyRequest, type FastifyServerOptions } from 'fastify';
import cors from '@fastify/cors';
import rateLimit from '@fastify/rate-limit';
import swagger from '@fastify/swagger';
import { openStore, type FlagStore } from '@vexil/store';
import type { ServerContext } from './context.js';
import {
  DEFAULT_AUTH_FAILURE_LIMIT,
  DEFAULT_BODY_LIMIT,
  DEFAULT_RATE_LIMIT,
  DEFAULT_STREAM_BACKLOG_BYTES,
  DEFAULT_STREAM_DRAIN_TIMEOUT_MS,
  DEFAULT_STREAMS_PER_ADDRESS,
  DEFAULT_STREAMS_PER_KEY,
  type ServerOptions,
} from './options.js';
import { AuthFailureLimiter } from './auth/failure-limiter.js';
import { SnapshotHolder } from './snapshot/holder.js';
import { SourceProblems } from './snapshot/source-problems.js';
import { KeyRing } from './auth/keys.js';
import { MemoryKeyStore } from './auth/key-stores.js';
import { registerAuth } from './auth/hook.js';
import { registerAccess } from './auth/access.js';
import { authorizeSession, registerOidc } from './auth/oidc.js';
import { ServerMetrics, UNKNOWN_FLAG } from './metrics/metrics.js';
import { EventCollector } from './relay/collector.js';
import { SseHub } from './stream/sse.js';
import { registerBodyParsing } from './http/body.js';
import { documentObject, documentRoute } from './http/openapi.js';
import { HttpError, registerErrorHandling, sendError } from './http/errors.js';
import { registerOfrepRoutes } from './ofrep/routes.js';
import { OfrepFastLane } from './ofrep/fast-lane.js';
import { RateWindows } from './http/rate-windows.js';
import { createServer as createHttpServer } from 'node:http';
import { registerRelayRoutes } from './relay/routes.js';
import { registerHealthRoutes } from './health/routes.js';
import { registerStreamRoutes } from './stream/routes.js';
import { registerAdminRoutes } from './admin/routes.js';
import { registerChangeRoutes } from './changes/routes.js';
import { registerPromoteRoutes } from './promote/routes.js';
import { registerContextSample } from './admin/context-sample.js';
import { DEFAULT_UI_ROOT, registerAdminPage } from './ui/admin-page.js';
import { isStoreId, storeIdentity } from './stream/store-id.js';
import { Notifier } from './notify/notifier.js';
import { createRolloutController } from './rollout/setup.js';
import { rolloutLeaseName } from './rollout/controller.js';
import { registerRolloutRoutes } from './rollout/routes.js';
import { EventsMeasurementSource } from './rollout/events-source.js';
import { EventsPipeline } from './events/pipeline.js';
import { EventsMetrics } from './events/metrics.js';
import { ReconnectingEventsStore } from './events/open.js';
import { registerEventsRoutes } from './events/routes.js';
import { registerExperimentRoutes } from './experiments/routes.js';
import { EventsWebhookExporter } from './events/webhook-exporter.js';
import { Counter } from 'prom-client';
import { EnvironmentRegistry } from './environments/registry.js';
import { registerEnvironmentRouting } from './environments/request.js';
import { registerEnvironmentRoutes } from './environments/routes.js';
import { registerSharedFields } from './environments/shared-fields.js';
import { clientAddressOf, rateLimitKey } from './http/client-address.js';

const require = createRequire(import.meta.url);
export const VERSION: string = (require('../package.json') as { version: string }).version;

/** Routes called per evaluation: logged at debug level only (an info line per evaluation would cost throughput). */
const QUIET_ROUTES = new Set([
  '/ofrep/v1/evaluate/flags/:key',
  '/ofrep/v1/evaluate/flags',
  '/v1/feature/:key/eval',
  '/v1/allflags',
  '/v1/data/collector',
  '/v1/flag/change',
  '/v1/flag/configuration',
  '/health',
  '/admin/v1/health',
  '/metrics',
]);

/** What browsers may read of an answer (CORS). */
const EXPOSED_HEADERS = ['ETag', 'Retry-After', 'Last-Modified', 'Location', 'X-Request-Id', 'X-RateLimit-Limit', 'X-RateLimit-Remaining', 'X-RateLimit-Reset'];

const LEVELS: Record<string, number> = { trace: 10, debug: 20, info: 30, warn: 40, error: 50, fatal: 60, silent: Infinity };

/** Keys and secrets never reach the logs: `?key=…`, `?apiKey=…` and `?token=…` are masked. */
export function redactUrl(url: string): string {
  return url.includes('?') ? url.replace(/([?&](?:key|apiKey|token)=)[^&]*/gi, '$1***') : url;
}

function loggerOptions(logger: ServerOptions['logger']): Pick<FastifyServerOptions, 'logger' | 'loggerInstance'> {
  if (logger === undefined || logger === false) return { logger: false };
  if (typeof logger === 'object' && typeof (logger as { child?: unknown }).child === 'function') {
    return { loggerInstance: logger as NonNullable<FastifyServerOptions['loggerInstance']> };
  }
  const base = logger === true ? {} : (logger as Record<string, unknown>);
  return {
    logger: {
      level: 'info',
      ...base,
      serializers: {
        req: (request: FastifyRequest) => ({ method: request.method, url: redactUrl(request.url), remoteAddress: request.ip }),
        ...((base.serializers as object | undefined) ?? {}),
      },
    },
  };
}

/**
 * Builds the Vexil HTTP server (not listening): OFREP, the GO Feature Flag relay API, the SSE stream, the admin API,
 * metrics and the OpenAPI document, over one store. Resolves once the first snapshot is loaded. Use `app.inject()` in
 * tests, or `app.listen()`; `app.close()` closes streams, flushes events and (when the server opened it) the store.
 */
export async function buildServer(options: ServerOptions): Promise<FastifyInstance> {
  let store: FlagStore;
  if (options.store) store = options.store;
  else if (options.storeUrl) store = await openStore(options.storeUrl, options.storeOptions ?? {});
  else throw new TypeError('buildServer needs a store or a storeUrl');
  const closeStore = options.closeStore ?? !options.store;

  const idPrefix = randomBytes(4).toString('hex');
  let requestCounter = 0;
  const nextRequestId = (): string => `${idPrefix}-${(++requestCounter).toString(36)}`;
  // Set once the routes are registered: OFREP single-flag evaluations answered before Fastify (ofrep/fast-lane.ts).
  let fastLane: OfrepFastLane | undefined;
  const app = Fastify({
    ...loggerOptions(options.logger),
    bodyLimit: options.bodyLimit ?? DEFAULT_BODY_LIMIT,
    trustProxy: options.trustProxy ?? false,
    requestIdHeader: 'x-request-id',
    genReqId: nextRequestId,
    serverFactory: (handler, settings) => {
      const server = createHttpServer((req, res) => {
        if (fastLane === undefined || !fastLane.handle(req, res, handler)) handler(req, res);
      });
      // What Fastify sets on the servers it makes itself.
      const fastify = settings as { keepAliveTimeout?: number; requestTimeout?: number; connectionTimeout?: number; maxRequestsPerSocket?: number };
      server.keepAliveTimeout = fastify.keepAliveTimeout ?? 72_000;
      server.requestTimeout = fastify.requestTimeout ?? 0;
      server.setTimeout(fastify.connectionTimeout ?? 0);
      if ((fastify.maxRequestsPerSocket ?? 0) > 0) server.maxRequestsPerSocket = fastify.maxRequestsPerSocket!;
      return server;
    },
    // Requests are logged by our onResponse hook (evaluations at debug level only).
    logController: new LogController({ disableRequestLogging: true, requestIdLogLabel: 'reqId' }),
    return503OnClosing: true,
    // Flag keys have up to 256 characters, and a path parameter arrives percent-encoded (up to 12 characters each).
    routerOptions: { maxParamLength: 256 * 12 },
    frameworkErrors: (error, request, reply) => sendError(error, request, reply),
    ajv: { customOptions: { removeAdditional: false, allErrors: false } },
  });

  let started: SnapshotHolder | undefined;
  let environments: EnvironmentRegistry | undefined;
  let notifier: Notifier | undefined;
  let events: EventsPipeline | undefined;
  let ownEventsStore: ReconnectingEventsStore | undefined;
  let webhook: EventsWebhookExporter | undefined;
  try {
    const holder = new SnapshotHolder(store, {
      ...(options.debounceMs !== undefined ? { debounceMs: options.debounceMs } : {}),
      ...(options.healthIntervalMs !== undefined ? { healthIntervalMs: options.healthIntervalMs } : {}),
      ...(options.changeLogSize !== undefined ? { changeLogSize: options.changeLogSize } : {}),
      ...(options.startTimeoutMs !== undefined ? { startTimeoutMs: options.startTimeoutMs } : {}),
      log: app.log,
    });
    started = holder;
    await holder.start();
    const sourceProblems = new SourceProblems(store, app.log);
    // The other environments open in the background (a request for one not open yet opens it at once).
    const registry = (environments = new EnvironmentRegistry({
      store,
      holder,
      sourceProblems,
      holderOptions: {
        ...(options.debounceMs !== undefined ? { debounceMs: options.debounceMs } : {}),
        ...(options.healthIntervalMs !== undefined ? { healthIntervalMs: options.healthIntervalMs } : {}),
        ...(options.changeLogSize !== undefined ? { changeLogSize: options.changeLogSize } : {}),
        ...(options.startTimeoutMs !== undefined ? { startTimeoutMs: options.startTimeoutMs } : {}),
      },
      ...(options.catalogPollMs !== undefined ? { pollMs: options.catalogPollMs } : {}),
      log: app.log,
    }));

    const backing = store.apiKeys ?? options.keyStore ?? new MemoryKeyStore();
    const backingLabel = store.apiKeys
      ? store.kind === 'sqlite' || store.kind === 'pglite'
        ? `the embedded ${store.kind} store`
        : `the ${store.kind} store (shared by every server on it)`
      : options.keyStore
        ? (options.keyStoreLabel ?? 'a key file')
        : 'this process only (the store cannot keep keys): keys created through the API are lost on restart';
    const keys = new KeyRing({
      backing,
      backingLabel,
      adminKeys: options.adminKeys ?? [],
      sdkKeys: options.sdkKeys ?? [],
      ...(options.keyRefreshMs !== undefined ? { refreshMs: options.keyRefreshMs } : {}),
    });
    await keys.start().catch((error: unknown) => app.log.error({ err: error }, 'could not read the stored API keys'));
    const generatedKeys: ServerContext['generatedKeys'] = {};
    if (options.generateKeys && keys.activeCount === 0) {
      const admin = await keys.create({ name: 'admin (generated at first start)', kind: 'admin', role: 'admin', createdBy: 'vexil serve' });
      const sdk = await keys.create({ name: 'sdk (generated at first start)', kind: 'sdk', createdBy: 'vexil serve' });
      generatedKeys.admin = admin.secret;
      generatedKeys.sdk = sdk.secret;
    }

    const metrics = new ServerMetrics(holder, {
      defaultMetrics: options.defaultMetrics ?? true,
      sourceProblems,
      allSourceProblems: () => registry.list().map((scope) => scope.sourceProblems),
    });
    if (options.eventsWebhook) {
      const exported = new Counter({
        name: 'vexil_events_exported_total',
        help: 'Collected events exported to the events webhook, by outcome (sent, retry, failed, dropped).',
        labelNames: ['outcome'] as const,
        registers: [metrics.registry],
      });
      webhook = new EventsWebhookExporter({ ...options.eventsWebhook, log: app.log, onOutcome: (outcome, count) => exported.inc({ outcome }, count) });
    }
    const exporter = webhook;
    const collector = new EventCollector({
      ...(options.eventsFile ? { file: options.eventsFile, ...(options.eventsFileRotation ? { rotation: options.eventsFileRotation } : {}) } : {}),
      ...(exporter ? { onExport: (events: unknown[]) => exporter.add(events) } : {}),
      onEvent: (kind) => metrics.collectedEvents.inc({ kind }),
      onExposure: (flag, variation, count) => {
        const compiled = holder.snapshot.flags.get(flag);
        if (!compiled) return metrics.recordExposure(UNKNOWN_FLAG, '', count);
        const known = variation === 'SdkDefault' || compiled.phases.some((phase) => Object.hasOwn(phase.variations, variation));
        metrics.recordExposure(flag, known ? variation : '__other__', count);
      },
    });
    if (options.notify !== false && options.notifiers && options.notifiers.length > 0) {
      notifier = new Notifier({
        ...(options.notifyOptions ?? {}),
        targets: options.notifiers,
        log: app.log,
        onOutcome: (target, outcome) => metrics.notifications.inc({ target, outcome }),
      });
      notifier.attach(holder);
    }
    let eventsMetrics: EventsMetrics | undefined;
    const eventsStore = options.events === false ? undefined : (options.events ?? (options.eventsUrl ? (ownEventsStore = new ReconnectingEventsStore(options.eventsUrl, options.eventsOptions ?? {})) : undefined));
    if (eventsStore) {
      const m = (eventsMetrics = new EventsMetrics(metrics.registry));
      events = new EventsPipeline(eventsStore, {
        ...(options.eventsOptions ?? {}),
        log: app.log,
        onWritten: (count, duplicates) => {
          m.written.inc(count);
          if (duplicates > 0) m.duplicateBatches.inc(duplicates);
        },
        onDropped: (reason, count) => m.dropped.inc({ reason }, count),
        onBuffered: (count) => m.buffered.set(count),
      });
    }
    const sse = new SseHub({
      heartbeatMs: options.heartbeatMs ?? 15_000,
      gauge: metrics.sseClients,
      refusals: metrics.streamRefusals,
      perKey: options.streamsPerKey ?? DEFAULT_STREAMS_PER_KEY,
      perAddress: options.streamsPerAddress ?? DEFAULT_STREAMS_PER_ADDRESS,
      backlogBytes: options.streamBacklogBytes ?? DEFAULT_STREAM_BACKLOG_BYTES,
      drainTimeoutMs: options.streamDrainTimeoutMs ?? DEFAULT_STREAM_DRAIN_TIMEOUT_MS,
    });
    // A revoked key (here or on another server: it arrives on the store's notification channel) streams no more.
    keys.onRevoked((id) => {
      const closed = sse.closeKey(id);
      if (closed > 0) app.log.info({ key: id, streams: closed }, 'API key revoked: its event streams were closed');
    });

    if (options.storeId !== undefined && !isStoreId(options.storeId))
      throw new TypeError(`storeId "${options.storeId}": use 1 to 64 letters, digits, "_", "." or "-"`);
    const initialStoreId = options.storeId ?? storeIdentity(store, options.storeUrl);
    const ctx: ServerContext = {
      store,
      holder,
      environments: registry,
      sourceProblems,
      // Follows the store's instance id once a reset is noticed (a new id), so that stream clients resuming with an
      // event id of the data before the reset get the whole new state.
      get storeId(): string {
        const kept = store.instanceId;
        return options.storeId === undefined && typeof kept === 'string' && isStoreId(kept) ? kept : initialStoreId;
      },
      streamResumeWaitMs: options.streamResumeWaitMs ?? 1000,
      adminPage: undefined,
      keys,
      metrics,
      collector,
      sse,
      publicUrl: options.publicUrl,
      inactivityDelaySec: options.inactivityDelaySec ?? 120,
      startedAt: new Date(),
      generatedKeys,
      version: VERSION,
      ...(notifier ? { notifier } : {}),
      ...(events ? { events } : {}),
      ...(eventsMetrics ? { eventsMetrics } : {}),
      eventsLimits: {
        ...(options.eventsOptions?.maxAgeMs !== undefined ? { maxAgeMs: options.eventsOptions.maxAgeMs } : {}),
        ...(options.eventsOptions?.maxFutureMs !== undefined ? { maxFutureMs: options.eventsOptions.maxFutureMs } : {}),
        ...(options.eventsOptions?.maxEventBytes !== undefined ? { maxEventBytes: options.eventsOptions.maxEventBytes } : {}),
      },
    };
    app.decorate('vexil', ctx);
    // The events store opens in the background: flags are served at once, events wait in the buffer meanwhile.
    const opening = ownEventsStore;
    void opening?.start().then(async (openError) => {
      if (openError?.name === 'EventsFolderLockedError') {
        // Another process owns the embedded events folder: this server keeps no events rather than corrupt it.
        app.log.warn({ err: openError }, 'events store in use by another process: events are not kept by this server');
        const pipeline = ctx.events;
        delete ctx.events;
        await pipeline?.close(0).catch(() => undefined);
        await opening.close().catch(() => undefined);
      } else if (openError) app.log.warn({ err: openError }, 'events store unavailable at start: buffering events until it answers');
    });

    registerBodyParsing(app);
    registerErrorHandling(app);

    await app.register(cors, {
      origin: options.corsOrigin ?? '*',
      methods: ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS'],
      allowedHeaders: [
        'Authorization',
        'X-API-Key',
        'Content-Type',
        'If-None-Match',
        'If-Match',
        'Last-Event-ID',
        'X-Request-Id',
        'X-Vexil-Reason',
        'X-CSRF-Token',
      ],
      exposedHeaders: EXPOSED_HEADERS,
      maxAge: 600,
    });

    const limits = options.rateLimit === undefined ? DEFAULT_RATE_LIMIT : options.rateLimit;
    const rateLimited = limits !== false && limits.max > 0;
    await app.register(swagger, {
      // The document adds the shared statuses (401, 403, 413, 429…) and headers to each route (http/openapi.ts).
      transform: ({ schema, url, route }) => ({ schema: documentRoute(schema as Record<string, unknown> | undefined, url, route, rateLimited) as typeof schema, url }),
      transformObject: (documents) => documentObject(('openapiObject' in documents ? documents.openapiObject : documents.swaggerObject) as Record<string, unknown>),
      openapi: {
        openapi: '3.1.0',
        info: {
          title: 'Vexil',
          version: VERSION,
          description:
            'Feature flags compatible with GO Feature Flag and OpenFeature: OFREP, the GO Feature Flag relay API, an SSE stream for in-process SDKs, and the admin API.',
        },
        components: {
          securitySchemes: {
            ApiKeyAuth: { type: 'apiKey', in: 'header', name: 'X-API-Key' },
            BearerAuth: { type: 'http', scheme: 'bearer' },
          },
        },
        security: [{ ApiKeyAuth: [] }, { BearerAuth: [] }],
      },
    });

    app.addHook('onRequest', (request: FastifyRequest, reply: FastifyReply, done: () => void) => {
      reply.header('x-request-id', request.id);
      done();
    });
    // Before the auth hook: the cookie parser must run first.
    const readSession = options.oidc ? await registerOidc(app, options.oidc, options.publicUrl) : undefined;
    const failureLimit = options.authFailureLimit === undefined ? DEFAULT_AUTH_FAILURE_LIMIT : options.authFailureLimit;
    const authFailures = failureLimit !== false && failureLimit.max > 0 ? new AuthFailureLimiter(failureLimit) : undefined;
    registerAuth(app, {
      keys,
      openEvaluation: options.openEvaluation ?? false,
      ...(authFailures ? { failures: authFailures } : {}),
      onFailure: (outcome) => metrics.authFailures.inc({ outcome }),
      ...(readSession ? { session: readSession, checkSession: authorizeSession } : {}),
    });
    // After authentication (the key names the environment of SDK routes), before the access check (preHandler).
    registerEnvironmentRouting(app, registry);
    // Before any route: refuses admin routes that declare no access scope, checks each request's role where it applies.
    registerAccess(app);

    const rateWindows = new RateWindows();
    // One setting for the plugin and the OFREP fast lane, which count in the same windows.
    const rateWindow = limits !== false && rateLimited ? { max: limits.max, timeWindowMs: limits.timeWindowMs ?? 60_000 } : undefined;
    if (rateWindow) {
      await app.register(rateLimit, {
        global: true,
        store: rateWindows.asPluginStore() as never,
        max: rateWindow.max,
        timeWindow: rateWindow.timeWindowMs,
        keyGenerator: (request: FastifyRequest) => rateLimitKey(request.principal?.id, request.ip),
        errorResponseBuilder: (_request: FastifyRequest, context: { after: string; statusCode: number }) =>
          new HttpError(context.statusCode, 'rate_limited', `rate limit exceeded for this key from this address: retry in ${context.after}`),
      });
    }

    app.addHook('onResponse', (request: FastifyRequest, reply: FastifyReply, done: () => void) => {
      const route = request.routeOptions.url ?? 'unmatched';
      metrics.observeRequest(request.method, route, reply.statusCode, reply.elapsedTime / 1000);
      const level = reply.statusCode >= 500 ? 'error' : QUIET_ROUTES.has(route) ? 'debug' : 'info';
      if (LEVELS[level]! >= (LEVELS[request.log.level] ?? 30)) {
        request.log[level](
          {
            method: request.method,
            url: redactUrl(request.url),
            statusCode: reply.statusCode,
            ms: Math.round(reply.elapsedTime * 100) / 100,
            ...(request.principal ? { key: request.principal.name } : {}),
          },
          'request completed',
        );
      }
      done();
    });

    // Graceful shutdown: requests in flight finish, each with `Connection: close` so that keep-alive clients let go of
    // the connection at once (the process would otherwise wait for their idle timeouts); streams end (preClose).
    let closing = false;
    app.addHook('onSend', (request: FastifyRequest, reply: FastifyReply, payload: unknown, done: (error: null, payload: unknown) => void) => {
      if (closing && request.raw.httpVersionMajor < 2) reply.header('connection', 'close');
      done(null, payload);
    });

    registerOfrepRoutes(app, ctx);
    registerRelayRoutes(app, ctx);
    registerHealthRoutes(app, ctx);
    registerStreamRoutes(app, ctx);
    // First: its hook turns flag writes in environments that require approval into change requests.
    const changeRequests = registerChangeRoutes(app, ctx);
    // Then: writes carry a flag's shared fields (variations, metadata) to its other environments.
    registerSharedFields(app, ctx, changeRequests);
    registerAdminRoutes(app, ctx);
    registerEnvironmentRoutes(app, ctx);
    registerPromoteRoutes(app, ctx, changeRequests);
    registerEventsRoutes(app, ctx);
    registerExperimentRoutes(app, ctx);
    const contextSample = registerContextSample(app, ctx, {
      size: options.contextSampleSize ?? 1000,
      ...(options.contextSampleEntryChars !== undefined ? { maxEntryChars: options.contextSampleEntryChars } : {}),
      ...(options.contextSampleTotalChars !== undefined ? { maxTotalChars: options.contextSampleTotalChars } : {}),
    });
    registerRolloutRoutes(app, ctx, (options.rollout && options.rollout.clock) || Date.now);
    // The lane sends CORS headers for the default origin only; another origin policy leaves every request to Fastify.
    if ((options.corsOrigin ?? '*') === '*' && options.fastLane !== false) {
      fastLane = new OfrepFastLane({
        ctx,
        exposedHeaders: EXPOSED_HEADERS.join(', '),
        nextRequestId,
        ...(rateWindow ? { rateLimit: { windows: rateWindows, ...rateWindow } } : {}),
        ...(authFailures ? { failures: authFailures } : {}),
        trustProxy: options.trustProxy !== undefined && options.trustProxy !== false,
        clientAddress: clientAddressOf(options.trustProxy),
        log: app.log,
        // pino's numeric level when there is one: cheaper than its level name (read on every request).
        logsEvaluations: () => LEVELS.debug! >= ((app.log as { levelVal?: number }).levelVal ?? LEVELS[app.log.level] ?? 30),
        closing: () => closing,
        recordContext: (environment, flag, text) => contextSample(environment, 'ofrep', flag, text),
      });
      ctx.fastLane = fastLane;
    }

    app.get(
      '/metrics',
      {
        config: { auth: 'none', rateLimit: false, produces: 'text/plain' },
        schema: { tags: ['Monitoring'], summary: 'Prometheus metrics', produces: ['text/plain'] },
      },
      async (_request, reply) => {
        reply.type(metrics.registry.contentType);
        return metrics.registry.metrics();
      },
    );

    app.get(
      '/openapi.json',
      { config: { auth: 'none', rateLimit: false }, schema: { hide: true } },
      () => app.swagger(),
    );

    if (options.uiRoot !== false) ctx.adminPage = (await registerAdminPage(app, options.uiRoot ?? DEFAULT_UI_ROOT)).root;

    // Gates read the events this server keeps, when it keeps them (`ctx.events` goes when the store cannot be used).
    const eventsSource = ctx.events
      ? new EventsMeasurementSource({ store: () => ctx.events?.store, beforeMeasure: async () => ctx.events?.flush() })
      : undefined;
    const rolloutController = createRolloutController(store, holder, options, app.log, eventsSource);
    if (rolloutController) {
      ctx.rolloutController = rolloutController;
      rolloutController.start();
    }
    // The other environments: one controller each (its own lease), and their own change notifications.
    registry.each((scope) => {
      if (scope.isDefault) return;
      const log = app.log.child({ environment: scope.name });
      const scopeEvents = ctx.events
        ? new EventsMeasurementSource({ store: () => ctx.events?.store, beforeMeasure: async () => ctx.events?.flush(), environment: scope.eventsEnvironment })
        : undefined;
      const controller = rolloutController
        ? createRolloutController(scope.store, scope.holder, options, log, scopeEvents, { leaseName: rolloutLeaseName(scope.ref), leases: store.leases })
        : undefined;
      controller?.start();
      let scopeNotifier: Notifier | undefined;
      if (notifier && options.notifiers) {
        scopeNotifier = new Notifier({
          ...(options.notifyOptions ?? {}),
          targets: options.notifiers,
          environment: scope.name,
          log,
          onOutcome: (target, outcome) => metrics.notifications.inc({ target, outcome }),
        });
        scopeNotifier.attach(scope.holder);
      }
      return () => {
        void controller?.stop().catch((error: unknown) => log.error({ err: error }, 'rollout controller: error while stopping'));
        void scopeNotifier?.close().catch(() => undefined);
      };
    });

    registry.start();

    app.addHook('preClose', (done: () => void) => {
      closing = true;
      sse.closeAll();
      done();
    });
    app.addHook('onClose', async () => {
      await ctx.rolloutController?.stop().catch((error: unknown) => app.log.error({ err: error }, 'rollout controller: error while stopping'));
      // Changes still being batched are sent (waiting up to 3 s for the targets), then the feed stops.
      await notifier?.close().catch((error: unknown) => app.log.error({ err: error }, 'notifications: error while closing'));
      await registry.stop();
      await holder.stop();
      sourceProblems.stop();
      keys.stop();
      await collector.close();
      await webhook?.close().catch(() => undefined);
      await events?.close().catch((error: unknown) => app.log.error({ err: error }, 'events: error while closing'));
      await ownEventsStore?.close().catch(() => undefined);
      if (closeStore) await store.close();
    });
    return app;
  } catch (error) {
    await notifier?.close(0).catch(() => undefined);
    await events?.close(0).catch(() => undefined);
    await webhook?.close(0).catch(() => undefined);
    await ownEventsStore?.close().catch(() => undefined);
    await environments?.stop().catch(() => undefined);
    await started?.stop().catch(() => undefined);
    await app.close().catch(() => undefined);
    if (closeStore) await store.close().catch(() => undefined);
    throw error;
  }
}
