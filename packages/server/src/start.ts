import { resolve } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { formatProblem } from '@vexil/core';
import { defaultStoreUrl, openStore, parseSqliteUrl, parseSqlUrl, type FlagStore } from '@vexil/store';
import { buildServer } from './app.js';
import { MIN_KEY_LENGTH, type ServerOptions } from './options.js';
import { FileKeyStore } from './auth/key-stores.js';
import { findExampleFlags, importFlagFiles } from './config/import.js';
import { describeEnvironmentSeeds, seedFlagSpecs } from './config/seed.js';
import { DEFAULT_HOST, DEFAULT_PORT, type ServeConfig } from './config/config.js';
import { redact } from './util/redact.js';
import { explainListenError } from './http/listen-error.js';

export interface StartOptions extends ServerOptions {
  host?: string;
  port?: number;
  /**
   * Flag files that seed a writable store at start: only flags the store does not have and never had (`seedFlagFiles`).
   * Items may name their environment (`production=a.yaml`, `checkout/staging=b.yaml`; `seedFlagSpecs`).
   */
  flags?: string[];
  /** Load `examples/flags.goff.yaml` into a fresh embedded store. Default true. */
  examples?: boolean;
  /** Where to keep API keys when the store cannot (default: beside an on-disk embedded store, else in memory). */
  keysFile?: string;
  /** Stop gracefully on SIGINT/SIGTERM and exit the process. Default true. */
  handleSignals?: boolean;
  /** Where the start banner and generated keys go. Default: standard output. */
  print?: (text: string) => void;
}

export interface RunningServer {
  app: FastifyInstance;
  url: string;
  host: string;
  port: number;
  /** Keys generated at this start (only when none existed): shown once. */
  generatedKeys: { admin?: string; sdk?: string };
  close(): Promise<void>;
}

/** The key file beside an on-disk embedded store (`sqlite:./.vexil/vexil.db`, `pglite:./.vexil/data` → `./.vexil/api-keys.json`). */
function defaultKeysFile(storeUrl: string | undefined): string | undefined {
  if (storeUrl?.startsWith('sqlite:')) {
    const location = parseSqliteUrl(storeUrl);
    if (location.startsWith('memory:')) return undefined;
    const path = resolve(location);
    return path.endsWith('/.vexil/vexil.db') ? resolve(path, '..', 'api-keys.json') : `${path}.api-keys.json`;
  }
  if (!storeUrl?.startsWith('pglite:')) return undefined;
  const location = parseSqlUrl(storeUrl);
  if (location.driver !== 'pglite' || location.location.startsWith('memory:')) return undefined;
  const path = resolve(location.location);
  return path.endsWith('/.vexil/data') ? resolve(path, '..', 'api-keys.json') : `${path}.api-keys.json`;
}

/**
 * Starts `vexil serve`: opens the store, imports flag files (and, into a fresh embedded store, the examples),
 * generates an admin and an SDK key when there are none, listens, and stops gracefully on SIGINT/SIGTERM: stop
 * accepting, finish in-flight requests, close event streams, flush collected events, close the store.
 */
export async function startServer(options: StartOptions): Promise<RunningServer> {
  assertKeyLengths(options);
  const print = options.print ?? ((text: string) => process.stdout.write(text + '\n'));
  const storeUrl = options.store ? undefined : (options.storeUrl ?? defaultStoreUrl());
  const store: FlagStore = options.store ?? (await openStore(storeUrl, options.storeOptions ?? {}));
  const ownsStore = options.closeStore ?? !options.store;
  let app: FastifyInstance | undefined;
  try {
    if (options.flags && options.flags.length > 0) {
      if (!store.writable) throw new Error(`the ${store.kind} store is read-only: --flags cannot be imported into it`);
      // The files seed the store, they never override it (see seedFlagFiles): a restart undoes no admin edit.
      // Items may name their environment (`production=flags.prod.yaml`): each environment is seeded from its files.
      const reports = await seedFlagSpecs(store, options.flags);
      for (const problem of reports.flatMap((seed) => seed.report.problems)) print(formatProblem(problem));
      print(describeEnvironmentSeeds(reports).join('\n'));
    } else if ((options.examples ?? true) && store.writable && (store.kind === 'sqlite' || store.kind === 'pglite')) {
      const list = await store.list();
      if (list.revision === 0 && list.flags.length === 0) {
        const examples = findExampleFlags();
        if (examples) {
          const report = await importFlagFiles(store, [examples], { actor: 'import' });
          print(`fresh store: loaded ${report.written.length} example flag(s) from ${examples}`);
        }
      }
    }

    let keyStore = options.keyStore;
    let keyStoreLabel = options.keyStoreLabel;
    if (!store.apiKeys && !keyStore) {
      const keysFile = options.keysFile ?? defaultKeysFile(storeUrl);
      if (keysFile) {
        keyStore = new FileKeyStore(keysFile);
        keyStoreLabel = `the key file ${keysFile} (hashes only)`;
      }
    }

    app = await buildServer({
      ...options,
      store,
      ...(storeUrl ? { storeUrl } : {}),
      closeStore: ownsStore,
      generateKeys: options.generateKeys ?? true,
      ...(keyStore ? { keyStore } : {}),
      ...(keyStoreLabel ? { keyStoreLabel } : {}),
    });
    const host = options.host ?? DEFAULT_HOST;
    const wantedPort = options.port ?? DEFAULT_PORT;
    await app.listen({ host, port: wantedPort }).catch((error: unknown) => {
      throw explainListenError(error, host, wantedPort);
    });
    const address = app.server.address();
    const port = typeof address === 'object' && address ? address.port : (options.port ?? DEFAULT_PORT);
    const shownHost = host.includes(':') ? `[${host}]` : host;
    const url = `http://${shownHost === '0.0.0.0' || shownHost === '[::]' ? '127.0.0.1' : shownHost}:${port}`;
    const ctx = app.vexil;
    // An embedded store's lock names this server, so another process on the folder is told to write through it.
    await store.advertise?.({ url, command: 'vexil serve' }).catch(() => undefined);

    const lines: string[] = [];
    if (ctx.generatedKeys.admin) {
      lines.push(
        'No API key was configured, so these were generated. They are shown once; only their hashes are kept',
        `(in ${ctx.keys.backingLabel}):`,
        `  admin key  ${ctx.generatedKeys.admin}`,
        `  SDK key    ${ctx.generatedKeys.sdk}`,
        '',
      );
    }
    lines.push(
      `vexil ${ctx.version} listening on ${url}`,
      `  store      ${storeUrl ? redact(storeUrl) : store.kind}${store.writable ? '' : ' (read-only)'}: ${ctx.holder.snapshot.flags.size} flag(s), revision ${ctx.holder.revision}`,
      ctx.adminPage ? `  admin page ${url}/` : '  admin page not built (npm run build -w @vexil/ui): / explains how',
      `  OFREP      ${url}/ofrep/v1/evaluate/flags`,
      `  GOFF relay ${url}/v1/feature/{key}/eval`,
      `  stream     ${url}/v1/stream`,
      `  admin API  ${url}/admin/v1/flags`,
      `  OpenAPI    ${url}/openapi.json   metrics ${url}/metrics`,
    );
    lines.push(`  events     ${!ctx.events ? 'off' : options.eventsUrl ? redact(options.eventsUrl) : ctx.events.store.kind}`);
    if (ctx.notifier) lines.push(`  notify     ${ctx.notifier.targets.join(', ')}`);
    if (ctx.rolloutController) lines.push(`  rollouts   controller on (one leader per store)${options.prometheusUrl ? `, Prometheus ${options.prometheusUrl}` : ''}`);
    else if (options.notify === false && options.notifiers && options.notifiers.length > 0) lines.push('  notify     off on this server (--no-notify)');
    // One write, so that whoever reads the output sees the banner whole.
    print(lines.join('\n'));

    const running: RunningServer = {
      app,
      url,
      host,
      port,
      generatedKeys: ctx.generatedKeys,
      close: () => app!.close(),
    };
    if (options.handleSignals ?? true) installSignalHandlers(running, print);
    return running;
  } catch (error) {
    if (app) await app.close().catch(() => undefined);
    else if (ownsStore) await store.close().catch(() => undefined);
    throw error;
  }
}

/**
 * Configured keys shorter than MIN_KEY_LENGTH are refused before anything starts: a short key can be guessed. The
 * message names the option and the key's position, never the key.
 */
export function assertKeyLengths(options: Pick<ServerOptions, 'adminKeys' | 'sdkKeys'>): void {
  for (const [option, keys] of [
    ['admin key (--admin-key, VEXIL_ADMIN_KEYS, adminKeys)', options.adminKeys],
    ['SDK key (--sdk-key, VEXIL_SDK_KEYS, sdkKeys)', options.sdkKeys],
  ] as const) {
    (keys ?? []).forEach((key, index) => {
      const length = key.trim().length;
      if (length > 0 && length < MIN_KEY_LENGTH) {
        throw new Error(
          `configured ${option} number ${index + 1} has ${length} characters: keys need at least ${MIN_KEY_LENGTH}, so that they cannot be guessed (make one with: openssl rand -base64 24)`,
        );
      }
    });
  }
}

function installSignalHandlers(running: RunningServer, print: (text: string) => void): void {
  let stopping = false;
  const stop = (signal: NodeJS.Signals): void => {
    if (stopping) {
      print(`${signal} again: exiting now`);
      process.exit(1);
    }
    stopping = true;
    print(`${signal}: shutting down (finishing requests, closing streams, flushing events)`);
    const force = setTimeout(() => {
      print('shutdown took more than 10 s: exiting');
      process.exit(1);
    }, 10_000);
    force.unref();
    running.close().then(
      () => process.exit(0),
      (error: unknown) => {
        print(`error while shutting down: ${error instanceof Error ? error.message : String(error)}`);
        process.exit(1);
      },
    );
  };
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
}

/** `startServer` options from a resolved `vexil serve` configuration. */
export function startOptionsFromConfig(config: ServeConfig): StartOptions {
  return {
    storeUrl: config.store,
    flags: config.flags,
    host: config.host,
    port: config.port,
    adminKeys: config.adminKeys,
    sdkKeys: config.sdkKeys,
    rateLimit: config.rateLimit,
    bodyLimit: config.bodyLimit,
    examples: config.examples && config.storeSource !== 'flags',
    notifiers: config.notifiers,
    notify: config.notify,
    authFailureLimit: config.authFailureLimit,
    ...(config.trustProxy !== undefined ? { trustProxy: config.trustProxy } : {}),
    ...(config.streamsPerKey !== undefined ? { streamsPerKey: config.streamsPerKey } : {}),
    ...(config.streamsPerAddress !== undefined ? { streamsPerAddress: config.streamsPerAddress } : {}),
    ...(config.streamBacklogBytes !== undefined ? { streamBacklogBytes: config.streamBacklogBytes } : {}),
    ...(config.streamDrainTimeoutMs !== undefined ? { streamDrainTimeoutMs: config.streamDrainTimeoutMs } : {}),
    ...(config.contextSampleSize !== undefined ? { contextSampleSize: config.contextSampleSize } : {}),
    ...(config.contextSampleEntryBytes !== undefined ? { contextSampleEntryChars: config.contextSampleEntryBytes } : {}),
    ...(config.contextSampleMaxBytes !== undefined ? { contextSampleTotalChars: config.contextSampleMaxBytes } : {}),
    rollout: config.rolloutController ? {} : false,
    ...(config.prometheus ? { prometheusUrl: config.prometheus } : {}),
    logger: { level: config.logLevel },
    ...(config.eventsFile ? { eventsFile: config.eventsFile } : {}),
    ...(config.events !== 'off' ? { eventsUrl: config.events } : {}),
    ...(config.eventsRetention ? { eventsOptions: config.eventsRetention } : {}),
    ...(config.eventsFileRotation ? { eventsFileRotation: config.eventsFileRotation } : {}),
    ...(config.eventsWebhook ? { eventsWebhook: config.eventsWebhook } : {}),
    ...(config.publicUrl ? { publicUrl: config.publicUrl } : {}),
    ...(config.oidc ? { oidc: config.oidc } : {}),
    ...(config.corsOrigin ? { corsOrigin: config.corsOrigin } : {}),
    ...(config.keysFile ? { keysFile: config.keysFile } : {}),
    ...(config.healthIntervalMs !== undefined ? { healthIntervalMs: config.healthIntervalMs } : {}),
    ...(config.heartbeatMs !== undefined ? { heartbeatMs: config.heartbeatMs } : {}),
  };
}
