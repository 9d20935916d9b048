import { readFile } from 'node:fs/promises';
import { dirname, isAbsolute, resolve } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { DEFAULT_AUTH_FAILURE_LIMIT, DEFAULT_BODY_LIMIT, DEFAULT_RATE_LIMIT, type RateLimitOptions } from '../options.js';
import type { NotifierTarget } from '../notify/notifier.js';
import { parseOidcRoles, type OidcOptions } from '../auth/oidc.js';
import { DEFAULT_STORE_URL, defaultEventsUrl, defaultStoreUrl, mapFlagFileSpecPath, parseFlagFileSpecs } from '@vexil/store';

/** The embedded store `vexil serve` uses when given no store and no flag files. */
/** The embedded default (see `defaultStoreUrl`: a PGlite folder made by an earlier release stays in use). */
export const DEFAULT_STORE = DEFAULT_STORE_URL;
export const DEFAULT_PORT = 1031;
export const DEFAULT_HOST = '127.0.0.1';

/** Options as the command line gives them (every one optional). */
export interface ServeCliOptions {
  store?: string;
  flags?: string[];
  port?: string | number;
  host?: string;
  config?: string;
  adminKey?: string[];
  sdkKey?: string[];
  eventsFile?: string;
  /** `--events URL` or `off`. */
  events?: string;
  /** `--events-webhook URL`. */
  eventsWebhook?: string;
  publicUrl?: string;
  rateLimit?: string | number;
  logLevel?: string;
  examples?: boolean;
  keysFile?: string;
  /** Webhook URLs for change notifications (`--notify-webhook`, repeatable). */
  notifyWebhook?: string[];
  /** Slack incoming-webhook URLs (`--notify-slack`, repeatable). */
  notifySlack?: string[];
  /** `--no-notify` gives false. */
  notify?: boolean;
  /** Prometheus base URL for `prometheus:` rollout gates (`--prometheus`). */
  prometheus?: string;
  /** `--no-rollout-controller` gives false. */
  rolloutController?: boolean;
  /** OpenID Connect sign-in on the admin page. */
  oidcIssuer?: string;
  oidcClientId?: string;
  oidcScopes?: string;
  oidcRoleClaim?: string;
  /** `GROUP=ROLE` or `GROUP=PROJECT/ENV:ROLE,…` (repeatable). */
  oidcRole?: string[];
}

/** The resolved configuration of `vexil serve`. */
export interface ServeConfig {
  store: string;
  /** Where the store URL came from: an option (`--store`, env, config file), the flag files, or the default. */
  storeSource: 'option' | 'flags' | 'default';
  /** Flag files to import into a writable store at start. */
  flags: string[];
  port: number;
  host: string;
  adminKeys: string[];
  sdkKeys: string[];
  rateLimit: RateLimitOptions | false;
  bodyLimit: number;
  eventsFile?: string;
  /**
   * The events store URL, or `off`. Default: the flag store's database when it is SQL (schema `vexil_events`),
   * the embedded store's folder otherwise.
   */
  events: string;
  /** Unit-level rows kept this many days (default 90), minute series this many (default 400). */
  eventsRetention?: { unitDays?: number; minuteDays?: number };
  /** Rotation of the JSON-lines file (`--events-file`). */
  eventsFileRotation?: { size?: string; interval?: string; maxFiles?: number };
  /** Raw collected events POSTed in signed batches here. */
  eventsWebhook?: { url: string; secret?: string };
  publicUrl?: string;
  corsOrigin?: string | string[];
  logLevel: string;
  healthIntervalMs?: number;
  heartbeatMs?: number;
  keysFile?: string;
  /** Load the example flags into a fresh embedded store. */
  examples: boolean;
  /** Change notification targets (webhooks, Slack). */
  notifiers: NotifierTarget[];
  /** False: this server sends no notifications (`--no-notify`, `VEXIL_NOTIFY=false`). */
  notify: boolean;
  /** Proxies trusted to set the client address (`X-Forwarded-For`): `true`, or addresses and CIDR ranges. */
  trustProxy?: boolean | string[];
  /** Failed authentications per address and window; false: unlimited. */
  authFailureLimit: RateLimitOptions | false;
  streamsPerKey?: number;
  streamsPerAddress?: number;
  streamBacklogBytes?: number;
  streamDrainTimeoutMs?: number;
  contextSampleSize?: number;
  contextSampleEntryBytes?: number;
  contextSampleMaxBytes?: number;
  /** Prometheus base URL for rollout gates (`--prometheus`, `VEXIL_PROMETHEUS_URL`, `prometheus`). */
  prometheus?: string;
  /** Run the rollout controller (one leader per store). Default true. */
  rolloutController: boolean;
  /** Sign-in with OpenID Connect on the admin page. */
  oidc?: OidcOptions;
  configFile?: string;
}

/** The keys a `vexil.yaml` may hold; anything else is reported (a typo should not be silently ignored). */
const FILE_KEYS = [
  'store',
  'flags',
  'port',
  'host',
  'adminKeys',
  'sdkKeys',
  'rateLimit',
  'bodyLimit',
  'eventsFile',
  'events',
  'eventsRetentionDays',
  'eventsSeriesRetentionDays',
  'eventsFileSize',
  'eventsFileInterval',
  'eventsFileMaxFiles',
  'eventsWebhook',
  'eventsWebhookSecret',
  'publicUrl',
  'corsOrigin',
  'logLevel',
  'healthIntervalMs',
  'heartbeatMs',
  'keysFile',
  'examples',
  'notifiers',
  'notify',
  'trustProxy',
  'authFailureLimit',
  'streamsPerKey',
  'streamsPerAddress',
  'streamBacklogBytes',
  'streamDrainTimeoutMs',
  'contextSampleSize',
  'contextSampleEntryBytes',
  'contextSampleMaxBytes',
  'prometheus',
  'rolloutController',
  'oidcIssuer',
  'oidcClientId',
  'oidcClientSecret',
  'oidcScopes',
  'oidcRoleClaim',
  'oidcRoles',
  'oidcRedirectUrl',
  'sessionSecret',
] as const;

type FileConfig = Partial<Record<(typeof FILE_KEYS)[number], unknown>>;

export class ConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ConfigError';
  }
}

function list(value: unknown, name: string): string[] | undefined {
  if (value === undefined || value === null) return undefined;
  if (typeof value === 'string') return value.split(',').map((item) => item.trim()).filter((item) => item !== '');
  if (Array.isArray(value) && value.every((item) => typeof item === 'string')) return (value as string[]).flatMap((item) => list(item, name) ?? []);
  throw new ConfigError(`${name} must be a list of strings (or one comma-separated string)`);
}

function integer(value: unknown, name: string, min: number, max: number): number | undefined {
  if (value === undefined || value === null || value === '') return undefined;
  const number = typeof value === 'number' ? value : Number(String(value).trim());
  if (!Number.isInteger(number) || number < min || number > max) throw new ConfigError(`${name} must be an integer from ${min} to ${max}, not ${String(value)}`);
  return number;
}

function text(value: unknown, name: string): string | undefined {
  if (value === undefined || value === null || value === '') return undefined;
  if (typeof value !== 'string' && typeof value !== 'number') throw new ConfigError(`${name} must be a string`);
  return String(value);
}

function boolean(value: unknown, name: string): boolean | undefined {
  if (value === undefined || value === null || value === '') return undefined;
  if (typeof value === 'boolean') return value;
  const lower = String(value).trim().toLowerCase();
  if (['1', 'true', 'yes', 'on'].includes(lower)) return true;
  if (['0', 'false', 'no', 'off'].includes(lower)) return false;
  throw new ConfigError(`${name} must be true or false, not ${String(value)}`);
}

/** `--rate-limit 600` (per minute), `0`/`false` (off), or `{max, timeWindowMs}` in the config file. */
function rateLimitOf(value: unknown, name: string): RateLimitOptions | false | undefined {
  if (value === undefined || value === null || value === '') return undefined;
  if (value === false || value === 'false' || value === 'off') return false;
  if (typeof value === 'object') {
    const { max, timeWindowMs, ...rest } = value as Record<string, unknown>;
    if (Object.keys(rest).length > 0) throw new ConfigError(`${name} takes max and timeWindowMs, not ${Object.keys(rest).join(', ')}`);
    const parsedMax = integer(max, `${name}.max`, 0, 1e12) ?? DEFAULT_RATE_LIMIT.max;
    return parsedMax === 0 ? false : { max: parsedMax, timeWindowMs: integer(timeWindowMs, `${name}.timeWindowMs`, 1, 86_400_000) ?? 60_000 };
  }
  const perMinute = integer(value, name, 0, 1e12)!;
  return perMinute === 0 ? false : { max: perMinute, timeWindowMs: 60_000 };
}

/** `true`/`false`, or proxy addresses and CIDR ranges (a list, or comma separated). */
function trustProxyOf(value: unknown, name: string): boolean | string[] | undefined {
  if (value === undefined || value === null || value === '') return undefined;
  if (typeof value === 'boolean') return value;
  if (typeof value === 'string' && ['true', 'false', 'yes', 'no', 'on', 'off', '1', '0'].includes(value.trim().toLowerCase())) return boolean(value, name);
  return list(value, name);
}

function httpUrl(value: string, name: string): string {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new ConfigError(`${name}: ${JSON.stringify(value)} is not a URL`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new ConfigError(`${name}: use an http:// or https:// URL`);
  return value;
}

/** `notifiers: [{kind: webhook|slack, url, secret?, headers?, meta?, name?}]` in the config file. */
function notifiersOf(value: unknown, name: string): NotifierTarget[] | undefined {
  if (value === undefined || value === null) return undefined;
  if (!Array.isArray(value)) throw new ConfigError(`${name} must be a list of {kind, url, secret?, headers?}`);
  return value.map((item: unknown, index): NotifierTarget => {
    const at = `${name}[${index}]`;
    if (typeof item !== 'object' || item === null || Array.isArray(item)) throw new ConfigError(`${at} must be a map with kind and url`);
    const { kind, url, secret, headers, meta, name: label, ...rest } = item as Record<string, unknown>;
    if (Object.keys(rest).length > 0) throw new ConfigError(`${at}: unknown option ${Object.keys(rest).join(', ')} (known: kind, url, secret, headers, meta, name)`);
    if (kind !== 'webhook' && kind !== 'slack') throw new ConfigError(`${at}.kind must be webhook or slack`);
    const target: NotifierTarget = { kind, url: httpUrl(text(url, `${at}.url`) ?? '', `${at}.url`) };
    const secretText = text(secret, `${at}.secret`);
    if (secretText !== undefined) target.secret = secretText;
    const labelText = text(label, `${at}.name`);
    if (labelText !== undefined) target.name = labelText;
    for (const [field, map] of [['headers', headers], ['meta', meta]] as const) {
      if (map === undefined || map === null) continue;
      if (typeof map !== 'object' || Array.isArray(map)) throw new ConfigError(`${at}.${field} must be a map of strings`);
      const entries = Object.entries(map as Record<string, unknown>).map(([key, entry]) => [key, text(entry, `${at}.${field}.${key}`) ?? ''] as const);
      target[field] = Object.fromEntries(entries);
    }
    return target;
  });
}

async function readConfigFile(path: string): Promise<FileConfig> {
  let source: string;
  try {
    source = await readFile(path, 'utf8');
  } catch (error) {
    throw new ConfigError(`cannot read the config file ${path}: ${(error as Error).message}`);
  }
  let data: unknown;
  try {
    data = parseYaml(source);
  } catch (error) {
    const message = (error as Error).message;
    // `store: pglite:memory:` reads as a map in YAML: say how to write it.
    const hint = /compact mappings|Nested mappings/i.test(message) ? '\n(quote values that contain ": " or end with ":", e.g. store: "pglite:memory:")' : '';
    throw new ConfigError(`${path}: ${message}${hint}`);
  }
  if (data === null || data === undefined) return {};
  if (typeof data !== 'object' || Array.isArray(data)) throw new ConfigError(`${path}: the config must be a map of options`);
  const unknown = Object.keys(data).filter((key) => !(FILE_KEYS as readonly string[]).includes(key));
  if (unknown.length > 0) throw new ConfigError(`${path}: unknown option${unknown.length > 1 ? 's' : ''} ${unknown.join(', ')} (known: ${FILE_KEYS.join(', ')})`);
  return data as FileConfig;
}

/** Makes a relative path in the config file relative to the file, and a `file:` store URL's paths too. */
function relativeTo(base: string, path: string): string {
  return isAbsolute(path) ? path : resolve(base, path);
}

function storeRelativeTo(base: string, url: string): string {
  if (url.startsWith('file:')) {
    const rest = url.slice('file:'.length);
    if (rest.startsWith('//')) return url;
    return `file:${rest.split(',').map((item) => mapFlagFileSpecPath(item.trim(), (path) => relativeTo(base, path))).join(',')}`;
  }
  if (url.startsWith('pglite:')) {
    const rest = url.slice('pglite:'.length);
    if (rest.startsWith('memory:') || rest.startsWith('//') || rest === '') return url;
    const [location, query] = rest.split('?', 2) as [string, string | undefined];
    return `pglite:${relativeTo(base, location)}${query !== undefined ? `?${query}` : ''}`;
  }
  if (url.startsWith('sqlite:')) {
    const rest = url.slice('sqlite:'.length);
    if (rest.startsWith('memory:') || rest.startsWith('//') || rest === '') return url;
    return `sqlite:${relativeTo(base, rest)}`;
  }
  return url;
}

/**
 * Resolves `vexil serve`'s options: command line over environment (`VEXIL_*`) over the YAML config file
 * (`--config` / `VEXIL_CONFIG`) over defaults.
 *
 * The store: `--store` when given; otherwise `--flags` alone means a read-only file store over those files (GitOps);
 * otherwise the embedded store `sqlite:./.vexil/vexil.db` (or `pglite:./.vexil/data` where an earlier release made one). With a writable store, `--flags` files are imported at start.
 */
export async function resolveServeConfig(cli: ServeCliOptions, env: NodeJS.ProcessEnv = process.env): Promise<ServeConfig> {
  const configPath = cli.config ?? text(env.VEXIL_CONFIG, 'VEXIL_CONFIG');
  const file: FileConfig = configPath ? await readConfigFile(configPath) : {};
  const base = configPath ? dirname(resolve(configPath)) : process.cwd();
  const fromFile = <T>(value: T | undefined, map: (value: T) => T): T | undefined => (value === undefined ? undefined : map(value));

  const storeOption =
    text(cli.store, '--store') ?? text(env.VEXIL_STORE, 'VEXIL_STORE') ?? fromFile(text(file.store, 'store'), (url) => storeRelativeTo(base, url));
  // `--flags a.yaml,b.yaml` as well as `--flags a.yaml b.yaml` (a comma cannot be in a path: file store URLs list
  // paths with commas).
  const cliFlags = list(cli.flags, '--flags');
  const flags =
    (cliFlags && cliFlags.length > 0 ? cliFlags : undefined) ??
    list(env.VEXIL_FLAGS, 'VEXIL_FLAGS') ??
    fromFile(list(file.flags, 'flags'), (items) => items.map((item) => mapFlagFileSpecPath(item, (path) => relativeTo(base, path)))) ??
    [];
  // Items may name their environment (`production=flags.prod.yaml`): a bad one is said now, naming it.
  try {
    parseFlagFileSpecs(flags);
  } catch (error) {
    throw new ConfigError((error as Error).message);
  }

  let store: string;
  let storeSource: ServeConfig['storeSource'];
  let importFlags = flags;
  if (storeOption) {
    store = storeOption;
    storeSource = 'option';
    if (store.startsWith('file:') && flags.length > 0) {
      // A file store serves files: the flag files join it rather than being imported into a read-only store.
      store = `${store.replace(/,+$/, '')},${flags.join(',')}`;
      importFlags = [];
    }
  } else if (flags.length > 0) {
    store = `file:${flags.join(',')}`;
    storeSource = 'flags';
    importFlags = [];
  } else {
    store = defaultStoreUrl();
    storeSource = 'default';
  }

  const port = integer(cli.port, '--port', 0, 65535) ?? integer(env.VEXIL_PORT, 'VEXIL_PORT', 0, 65535) ?? integer(file.port, 'port', 0, 65535) ?? DEFAULT_PORT;
  const host = text(cli.host, '--host') ?? text(env.VEXIL_HOST, 'VEXIL_HOST') ?? text(file.host, 'host') ?? DEFAULT_HOST;
  const adminKeys = (cli.adminKey && cli.adminKey.length > 0 ? cli.adminKey : undefined) ?? list(env.VEXIL_ADMIN_KEYS, 'VEXIL_ADMIN_KEYS') ?? list(file.adminKeys, 'adminKeys') ?? [];
  const sdkKeys = (cli.sdkKey && cli.sdkKey.length > 0 ? cli.sdkKey : undefined) ?? list(env.VEXIL_SDK_KEYS, 'VEXIL_SDK_KEYS') ?? list(file.sdkKeys, 'sdkKeys') ?? [];
  const rateLimit = rateLimitOf(cli.rateLimit, '--rate-limit') ?? rateLimitOf(env.VEXIL_RATE_LIMIT, 'VEXIL_RATE_LIMIT') ?? rateLimitOf(file.rateLimit, 'rateLimit');
  const eventsFile = text(cli.eventsFile, '--events-file') ?? text(env.VEXIL_EVENTS_FILE, 'VEXIL_EVENTS_FILE') ?? fromFile(text(file.eventsFile, 'eventsFile'), (path) => relativeTo(base, path));
  const eventsOption =
    text(cli.events, '--events') ?? text(env.VEXIL_EVENTS, 'VEXIL_EVENTS') ?? fromFile(text(file.events, 'events'), (url) => (url === 'off' ? url : storeRelativeTo(base, url)));
  const events = eventsOption?.trim() === 'off' ? 'off' : (eventsOption ?? defaultEventsUrl(store));
  if (events !== 'off' && !/^(sqlite:|pglite:|postgres:\/\/|postgresql:\/\/)/.test(events))
    throw new ConfigError(`--events must be sqlite:<file>, pglite:<dir>, postgres://… or off, not ${events}`);
  const unitDays = integer(env.VEXIL_EVENTS_RETENTION_DAYS, 'VEXIL_EVENTS_RETENTION_DAYS', 1, 36_500) ?? integer(file.eventsRetentionDays, 'eventsRetentionDays', 1, 36_500);
  const minuteDays =
    integer(env.VEXIL_EVENTS_SERIES_RETENTION_DAYS, 'VEXIL_EVENTS_SERIES_RETENTION_DAYS', 1, 36_500) ?? integer(file.eventsSeriesRetentionDays, 'eventsSeriesRetentionDays', 1, 36_500);
  const rotationSize = text(env.VEXIL_EVENTS_FILE_SIZE, 'VEXIL_EVENTS_FILE_SIZE') ?? text(file.eventsFileSize, 'eventsFileSize');
  if (rotationSize !== undefined && !/^\d+[BKMG]$/.test(rotationSize)) throw new ConfigError(`eventsFileSize must be a size such as 10M or 1G, not ${rotationSize}`);
  const rotationInterval = text(env.VEXIL_EVENTS_FILE_INTERVAL, 'VEXIL_EVENTS_FILE_INTERVAL') ?? text(file.eventsFileInterval, 'eventsFileInterval');
  if (rotationInterval !== undefined && !/^\d+[smhdM]$/.test(rotationInterval)) throw new ConfigError(`eventsFileInterval must be a duration such as 1h or 1d, not ${rotationInterval}`);
  const rotationFiles = integer(env.VEXIL_EVENTS_FILE_MAX_FILES, 'VEXIL_EVENTS_FILE_MAX_FILES', 1, 100_000) ?? integer(file.eventsFileMaxFiles, 'eventsFileMaxFiles', 1, 100_000);
  const eventsWebhookUrl = text(cli.eventsWebhook, '--events-webhook') ?? text(env.VEXIL_EVENTS_WEBHOOK, 'VEXIL_EVENTS_WEBHOOK') ?? text(file.eventsWebhook, 'eventsWebhook');
  const eventsWebhookSecret = text(env.VEXIL_EVENTS_WEBHOOK_SECRET, 'VEXIL_EVENTS_WEBHOOK_SECRET') ?? text(file.eventsWebhookSecret, 'eventsWebhookSecret');
  const publicUrl = text(cli.publicUrl, '--public-url') ?? text(env.VEXIL_PUBLIC_URL, 'VEXIL_PUBLIC_URL') ?? text(file.publicUrl, 'publicUrl');
  const corsOrigin = list(env.VEXIL_CORS_ORIGIN, 'VEXIL_CORS_ORIGIN') ?? list(file.corsOrigin, 'corsOrigin');
  const keysFile = text(cli.keysFile, '--keys-file') ?? text(env.VEXIL_KEYS_FILE, 'VEXIL_KEYS_FILE') ?? fromFile(text(file.keysFile, 'keysFile'), (path) => relativeTo(base, path));
  const healthIntervalMs = integer(env.VEXIL_HEALTH_INTERVAL_MS, 'VEXIL_HEALTH_INTERVAL_MS', 10, 3_600_000) ?? integer(file.healthIntervalMs, 'healthIntervalMs', 10, 3_600_000);
  const heartbeatMs = integer(env.VEXIL_HEARTBEAT_MS, 'VEXIL_HEARTBEAT_MS', 0, 3_600_000) ?? integer(file.heartbeatMs, 'heartbeatMs', 0, 3_600_000);
  const examples = (cli.examples === false ? false : undefined) ?? boolean(env.VEXIL_EXAMPLES, 'VEXIL_EXAMPLES') ?? boolean(file.examples, 'examples') ?? true;

  // Notification targets: per kind, the command line over the environment over the config file. VEXIL_NOTIFY_SECRET
  // signs every webhook that has no secret of its own.
  const fileNotifiers = notifiersOf(file.notifiers, 'notifiers') ?? [];
  const secret = text(env.VEXIL_NOTIFY_SECRET, 'VEXIL_NOTIFY_SECRET');
  const urls = (cliValue: string[] | undefined, envName: string): string[] | undefined => {
    const given = list(cliValue, `--${envName === 'VEXIL_NOTIFY_WEBHOOKS' ? 'notify-webhook' : 'notify-slack'}`);
    return (given && given.length > 0 ? given : undefined) ?? list(env[envName], envName);
  };
  const webhookUrls = urls(cli.notifyWebhook, 'VEXIL_NOTIFY_WEBHOOKS');
  const slackUrls = urls(cli.notifySlack, 'VEXIL_NOTIFY_SLACK');
  const notifiers: NotifierTarget[] = [
    ...(webhookUrls
      ? webhookUrls.map((url): NotifierTarget => ({ kind: 'webhook', url: httpUrl(url, 'notify webhook') }))
      : fileNotifiers.filter((target) => target.kind === 'webhook')),
    ...(slackUrls ? slackUrls.map((url): NotifierTarget => ({ kind: 'slack', url: httpUrl(url, 'notify slack') })) : fileNotifiers.filter((target) => target.kind === 'slack')),
  ].map((target) => (target.kind === 'webhook' && target.secret === undefined && secret !== undefined ? { ...target, secret } : target));
  const notify = (cli.notify === false ? false : undefined) ?? boolean(env.VEXIL_NOTIFY, 'VEXIL_NOTIFY') ?? boolean(file.notify, 'notify') ?? true;

  // Limits: the environment over the config file.
  const limit = (envName: string, fileName: (typeof FILE_KEYS)[number], min: number, max: number): number | undefined =>
    integer(env[envName], envName, min, max) ?? integer(file[fileName], fileName, min, max);
  const trustProxy = trustProxyOf(env.VEXIL_TRUST_PROXY, 'VEXIL_TRUST_PROXY') ?? trustProxyOf(file.trustProxy, 'trustProxy');
  const authFailureLimit = rateLimitOf(env.VEXIL_AUTH_FAILURE_LIMIT, 'VEXIL_AUTH_FAILURE_LIMIT') ?? rateLimitOf(file.authFailureLimit, 'authFailureLimit');
  const limits = {
    streamsPerKey: limit('VEXIL_STREAMS_PER_KEY', 'streamsPerKey', 1, 1e9),
    streamsPerAddress: limit('VEXIL_STREAMS_PER_ADDRESS', 'streamsPerAddress', 1, 1e9),
    streamBacklogBytes: limit('VEXIL_STREAM_BACKLOG_BYTES', 'streamBacklogBytes', 1024, 1024 ** 3),
    streamDrainTimeoutMs: limit('VEXIL_STREAM_DRAIN_TIMEOUT_MS', 'streamDrainTimeoutMs', 100, 3_600_000),
    contextSampleSize: limit('VEXIL_CONTEXT_SAMPLE_SIZE', 'contextSampleSize', 0, 1_000_000),
    contextSampleEntryBytes: limit('VEXIL_CONTEXT_SAMPLE_ENTRY_BYTES', 'contextSampleEntryBytes', 0, 1024 ** 3),
    contextSampleMaxBytes: limit('VEXIL_CONTEXT_SAMPLE_MAX_BYTES', 'contextSampleMaxBytes', 0, 1024 ** 3),
  };
  const prometheusText = text(cli.prometheus, '--prometheus') ?? text(env.VEXIL_PROMETHEUS_URL, 'VEXIL_PROMETHEUS_URL') ?? text(file.prometheus, 'prometheus');
  const prometheus = prometheusText === undefined ? undefined : httpUrl(prometheusText, 'prometheus');
  const rolloutController =
    (cli.rolloutController === false ? false : undefined) ?? boolean(env.VEXIL_ROLLOUT_CONTROLLER, 'VEXIL_ROLLOUT_CONTROLLER') ?? boolean(file.rolloutController, 'rolloutController') ?? true;

  // OpenID Connect: the issuer turns it on; the client secret and session secret come from the environment or the file only.
  const oidcIssuer = text(cli.oidcIssuer, '--oidc-issuer') ?? text(env.VEXIL_OIDC_ISSUER, 'VEXIL_OIDC_ISSUER') ?? text(file.oidcIssuer, 'oidcIssuer');
  let oidc: OidcOptions | undefined;
  if (oidcIssuer !== undefined) {
    const clientId = text(cli.oidcClientId, '--oidc-client-id') ?? text(env.VEXIL_OIDC_CLIENT_ID, 'VEXIL_OIDC_CLIENT_ID') ?? text(file.oidcClientId, 'oidcClientId');
    if (clientId === undefined) throw new ConfigError('--oidc-issuer needs --oidc-client-id (or VEXIL_OIDC_CLIENT_ID)');
    const roleValues =
      (cli.oidcRole && cli.oidcRole.length > 0 ? cli.oidcRole : undefined) ??
      text(env.VEXIL_OIDC_ROLES, 'VEXIL_OIDC_ROLES')?.split(';').map((item) => item.trim()).filter(Boolean) ??
      list(file.oidcRoles, 'oidcRoles');
    if (!roleValues || roleValues.length === 0) throw new ConfigError('--oidc-issuer needs at least one --oidc-role GROUP=ROLE (or VEXIL_OIDC_ROLES): nobody could do anything');
    let roles: OidcOptions['roles'];
    try {
      roles = parseOidcRoles(roleValues);
    } catch (error) {
      throw new ConfigError((error as Error).message);
    }
    const clientSecret = text(env.VEXIL_OIDC_CLIENT_SECRET, 'VEXIL_OIDC_CLIENT_SECRET') ?? text(file.oidcClientSecret, 'oidcClientSecret');
    const scopes = text(cli.oidcScopes, '--oidc-scopes') ?? text(env.VEXIL_OIDC_SCOPES, 'VEXIL_OIDC_SCOPES') ?? text(file.oidcScopes, 'oidcScopes');
    const roleClaim = text(cli.oidcRoleClaim, '--oidc-role-claim') ?? text(env.VEXIL_OIDC_ROLE_CLAIM, 'VEXIL_OIDC_ROLE_CLAIM') ?? text(file.oidcRoleClaim, 'oidcRoleClaim');
    const redirectUrl = text(env.VEXIL_OIDC_REDIRECT_URL, 'VEXIL_OIDC_REDIRECT_URL') ?? text(file.oidcRedirectUrl, 'oidcRedirectUrl');
    const sessionSecret = text(env.VEXIL_SESSION_SECRET, 'VEXIL_SESSION_SECRET') ?? text(file.sessionSecret, 'sessionSecret');
    oidc = {
      issuer: httpUrl(oidcIssuer, 'oidc issuer'),
      clientId,
      roles,
      ...(clientSecret ? { clientSecret } : {}),
      ...(scopes ? { scopes } : {}),
      ...(roleClaim ? { roleClaim } : {}),
      ...(redirectUrl ? { redirectUrl: httpUrl(redirectUrl, 'oidc redirect URL') } : {}),
      ...(sessionSecret ? { sessionSecret } : {}),
    };
  }

  const config: ServeConfig = {
    store,
    storeSource,
    flags: importFlags,
    port,
    host,
    adminKeys,
    sdkKeys,
    rateLimit: rateLimit ?? DEFAULT_RATE_LIMIT,
    bodyLimit: integer(env.VEXIL_BODY_LIMIT, 'VEXIL_BODY_LIMIT', 1024, 1024 ** 3) ?? integer(file.bodyLimit, 'bodyLimit', 1024, 1024 ** 3) ?? DEFAULT_BODY_LIMIT,
    logLevel: text(cli.logLevel, '--log-level') ?? text(env.VEXIL_LOG_LEVEL, 'VEXIL_LOG_LEVEL') ?? text(file.logLevel, 'logLevel') ?? 'info',
    examples,
    notifiers,
    notify,
    authFailureLimit: authFailureLimit ?? DEFAULT_AUTH_FAILURE_LIMIT,
    ...(trustProxy !== undefined ? { trustProxy } : {}),
    ...Object.fromEntries(Object.entries(limits).filter(([, value]) => value !== undefined)),
    rolloutController,
    ...(prometheus ? { prometheus } : {}),
    events,
    ...(unitDays !== undefined || minuteDays !== undefined
      ? { eventsRetention: { ...(unitDays !== undefined ? { unitDays } : {}), ...(minuteDays !== undefined ? { minuteDays } : {}) } }
      : {}),
    ...(rotationSize || rotationInterval || rotationFiles
      ? { eventsFileRotation: { ...(rotationSize ? { size: rotationSize } : {}), ...(rotationInterval ? { interval: rotationInterval } : {}), ...(rotationFiles ? { maxFiles: rotationFiles } : {}) } }
      : {}),
    ...(eventsWebhookUrl ? { eventsWebhook: { url: httpUrl(eventsWebhookUrl, 'events webhook'), ...(eventsWebhookSecret ? { secret: eventsWebhookSecret } : {}) } } : {}),
    ...(eventsFile ? { eventsFile } : {}),
    ...(publicUrl ? { publicUrl } : {}),
    ...(oidc ? { oidc } : {}),
    ...(corsOrigin ? { corsOrigin: corsOrigin.length === 1 ? corsOrigin[0]! : corsOrigin } : {}),
    ...(keysFile ? { keysFile } : {}),
    ...(healthIntervalMs !== undefined ? { healthIntervalMs } : {}),
    ...(heartbeatMs !== undefined ? { heartbeatMs } : {}),
    ...(configPath ? { configFile: configPath } : {}),
  };
  return config;
}
