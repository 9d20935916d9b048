import * as crypto from 'node:crypto';
import { createHash, createHmac, randomBytes, randomUUID, timingSafeEqual } from 'node:crypto';
import { DEFAULT_ENVIRONMENT, DEFAULT_PROJECT, type ApiKeyRecord, type ApiKeyStore, type EnvironmentRef, type RoleGrant } from '@vexil/store';

export type KeyKind = ApiKeyRecord['kind'];
export type KeyRole = ApiKeyRecord['role'];

/** Who made a request: the key (or, with OpenID Connect, the signed-in session) that authenticated it. */
export interface Principal {
  id: string;
  name: string;
  kind: KeyKind;
  /**
   * Without grants: the role on every project and environment. With grants: the highest role they give (what a
   * route needs at the least, before the per-environment check in access.ts).
   */
  role: KeyRole;
  /** Roles per project × environment; empty: `role` everywhere. */
  grants: RoleGrant[];
  via: 'key' | 'session';
  /** SDK keys: the environment they serve (absent: default/default). */
  project?: string;
  environment?: string;
}

/** A key as listed by the admin API: never the secret, never the hash. */
export interface KeyInfo {
  id: string;
  name: string;
  kind: KeyKind;
  role: KeyRole;
  /** SDK keys: the environment they serve. */
  project?: string;
  environment?: string;
  /** Admin keys: roles per project × environment (absent: `role` everywhere). */
  grants?: RoleGrant[];
  prefix: string;
  createdAt: string;
  createdBy: string;
  revokedAt?: string;
  /** `config`: from options or the environment (cannot be revoked through the API); `store`: created through the API. */
  source: 'config' | 'store';
}

export interface CreatedKey {
  key: KeyInfo;
  /** Shown once. */
  secret: string;
}

interface Entry {
  record: ApiKeyRecord;
  hash: Buffer;
  source: 'config' | 'store';
}

export interface KeyRingOptions {
  /** Where keys created through the API (and generated keys) live. */
  backing: ApiKeyStore;
  /** Human-readable description of the backing, for logs (`store`, `file ./.vexil/api-keys.json`, `memory`). */
  backingLabel: string;
  adminKeys?: string[];
  sdkKeys?: string[];
  /** Re-read the backing this often, to see keys created or revoked by other servers. Default 5000 ms. */
  refreshMs?: number;
}

/**
 * Stream tokens are issued per window of this length and stay valid one more window (30 to 60 minutes): the same token
 * for a whole window keeps the bulk answer's ETag stable.
 */
export const STREAM_TOKEN_WINDOW_SEC = 30 * 60;

const ROLE_RANK: Record<KeyRole, number> = { reader: 0, editor: 1, admin: 2 };

export function roleAtLeast(role: KeyRole, needed: KeyRole): boolean {
  return ROLE_RANK[role] >= ROLE_RANK[needed];
}

/** The higher of two roles (undefined: none). */
export function higherRole(a: KeyRole | undefined, b: KeyRole | undefined): KeyRole | undefined {
  if (a === undefined) return b;
  if (b === undefined) return a;
  return ROLE_RANK[a] >= ROLE_RANK[b] ? a : b;
}

const matches = (pattern: string, value: string): boolean => pattern === '*' || pattern === value;

/**
 * The principal's role on one project × environment: without grants its `role` everywhere; with grants the highest
 * role among the grants that match (`*` matches any), undefined when none does. A ref of `*` asks about every
 * project or environment at once, which only a `*` grant answers.
 */
export function roleOn(principal: Pick<Principal, 'role' | 'grants'>, ref: EnvironmentRef): KeyRole | undefined {
  if (principal.grants.length === 0) return principal.role;
  let best: KeyRole | undefined;
  for (const grant of principal.grants) {
    if (matches(grant.project, ref.project) && matches(grant.environment, ref.environment)) best = higherRole(best, grant.role);
  }
  return best;
}

/** The principal's highest role on any environment of `project`. */
export function roleInProject(principal: Pick<Principal, 'role' | 'grants'>, project: string): KeyRole | undefined {
  if (principal.grants.length === 0) return principal.role;
  let best: KeyRole | undefined;
  for (const grant of principal.grants) if (matches(grant.project, project)) best = higherRole(best, grant.role);
  return best;
}

/** The principal's role on every project and environment, including those created later (`*`/`*` grants only). */
export function globalRole(principal: Pick<Principal, 'role' | 'grants'>): KeyRole | undefined {
  return roleOn(principal, { project: '*', environment: '*' });
}

/** The highest role of a list of grants (a key's `role` when it has grants). */
export function highestGrant(grants: RoleGrant[]): KeyRole | undefined {
  return grants.reduce<KeyRole | undefined>((best, grant) => higherRole(best, grant.role), undefined);
}

/** The principal a key record stands for. */
export function principalOf(record: ApiKeyRecord): Principal {
  const { id, name, kind, role, project, environment, grants } = record;
  return {
    id,
    name,
    kind,
    role,
    grants: kind === 'admin' && grants ? grants : [],
    via: 'key',
    ...(kind === 'sdk' && project !== undefined ? { project } : {}),
    ...(kind === 'sdk' && environment !== undefined ? { environment } : {}),
  };
}

/**
 * Who a write is recorded as in the audit log: the key's name and, since names need not be unique, its id
 * (`ci deploy (3f1c…)`).
 */
export function actorOf(principal: Pick<Principal, 'id' | 'name'> | undefined): string {
  return principal ? `${principal.name} (${principal.id})` : 'anonymous';
}

/** Node's one-shot digest (20.12 and later): no Hash object per request, a third of the cost on the hot path. */
const oneShotHash = (crypto as { hash?: (algorithm: string, data: string, encoding: 'hex') => string }).hash;

export function hashSecret(secret: string): string {
  return oneShotHash ? oneShotHash('sha256', secret, 'hex') : createHash('sha256').update(secret, 'utf8').digest('hex');
}

/** A new random secret: `vxl_sdk_…` or `vxl_admin_…` followed by 32 url-safe characters (192 bits). */
export function generateSecret(kind: KeyKind): string {
  return `vxl_${kind}_${randomBytes(24).toString('base64url')}`;
}

/**
 * What lists show of a secret to recognise it: `vxl_sdk_` / `vxl_admin_` and four random characters of a generated
 * key (192 random bits stay hidden); of a configured key at most a quarter of it, up to four characters, and nothing
 * of one shorter than 8 characters, so that a list never gives away a configured secret.
 */
export function prefixOf(secret: string): string {
  const generated = /^vxl_[a-z]+_/.exec(secret);
  if (generated && secret.length >= generated[0].length + 24) return secret.slice(0, generated[0].length + 4);
  if (secret.length < 8) return '';
  return secret.slice(0, Math.min(4, Math.floor(secret.length / 4)));
}

/** Secrets remembered as accepted (KeyRing.authenticate): far more than the keys a server sees in practice. */
const MAX_ACCEPTED_SECRETS = 1024;

/**
 * Every API key the server accepts: configured ones (options, environment) and those kept by the backing store.
 * Keys are known by their SHA-256 hashes; a presented secret is hashed and compared with `timingSafeEqual`, and then
 * remembered as accepted in this process's memory (as the requests carrying it are), so that the next request with
 * it skips the hash.
 */
export class KeyRing {
  readonly backingLabel: string;
  readonly #backing: ApiKeyStore;
  readonly #refreshMs: number;
  readonly #byHash = new Map<string, Entry>();
  readonly #byId = new Map<string, Entry>();
  /**
   * Secrets accepted lately, with what they authenticate as: the hot path (every OFREP request) then skips SHA-256 and
   * the comparison. Emptied whenever the keys change, so a revoked key is refused at once; bounded, so guesses (which
   * are never added) and many clients cannot grow it.
   */
  readonly #accepted = new Map<string, Principal>();
  readonly #config: Entry[] = [];
  #stored: Entry[] = [];
  #lastMissRefresh = 0;
  #refreshing: Promise<void> | undefined;
  #timer: NodeJS.Timeout | undefined;
  readonly #revokedListeners = new Set<(id: string) => void>();
  #stopWatching: (() => void) | undefined;

  constructor(options: KeyRingOptions) {
    this.#backing = options.backing;
    this.backingLabel = options.backingLabel;
    this.#refreshMs = options.refreshMs ?? 5000;
    const now = new Date().toISOString();
    const add = (secret: string, kind: KeyKind, index: number, origin: string): void => {
      const hash = hashSecret(secret);
      this.#config.push({
        record: {
          id: `${origin}-${kind}-${index + 1}`,
          name: `${origin} ${kind} key ${index + 1}`,
          kind,
          role: kind === 'admin' ? 'admin' : 'reader',
          hash,
          prefix: prefixOf(secret),
          createdAt: now,
          createdBy: origin,
        },
        hash: Buffer.from(hash, 'hex'),
        source: 'config',
      });
    };
    unique(options.adminKeys).forEach((secret, index) => add(secret, 'admin', index, 'config'));
    unique(options.sdkKeys).forEach((secret, index) => add(secret, 'sdk', index, 'config'));
    this.#rebuild();
  }

  /**
   * Loads the stored keys and starts refreshing them in the background. Revocations announced by the backing (from
   * any server) apply at once: the key is refused from then on, and `onRevoked` listeners end its streams.
   */
  async start(): Promise<void> {
    this.#timer = setInterval(() => void this.refresh().catch(() => undefined), this.#refreshMs);
    this.#timer.unref();
    this.#stopWatching = this.#backing.onChange?.((change) => {
      if (change.type === 'revoked') this.#revokedNow(change.id);
      void this.refresh().catch(() => undefined);
    });
    await this.refresh();
  }

  stop(): void {
    clearInterval(this.#timer);
    this.#stopWatching?.();
  }

  /** Calls `listener` with the id of every key revoked from now on, here or on another server. */
  onRevoked(listener: (id: string) => void): () => void {
    this.#revokedListeners.add(listener);
    return () => void this.#revokedListeners.delete(listener);
  }

  /** A revocation heard of: refuse the key at once (before the re-read confirms it), and tell the listeners. */
  #revokedNow(id: string): void {
    const entry = this.#stored.find((candidate) => candidate.record.id === id);
    if (entry && !entry.record.revokedAt) {
      entry.record = { ...entry.record, revokedAt: new Date().toISOString() };
      this.#rebuild();
    }
    this.#announceRevoked([id]);
  }

  #announceRevoked(ids: string[]): void {
    for (const id of ids) for (const listener of [...this.#revokedListeners]) listener(id);
  }

  /** Keys that can be used (not revoked), configured or stored. */
  get activeCount(): number {
    return this.#byHash.size;
  }

  /** The key for a presented secret, or undefined. Sync: reads the in-memory index only. */
  authenticate(secret: string): Principal | undefined {
    if (!secret) return undefined;
    const accepted = this.#accepted.get(secret);
    if (accepted !== undefined) return accepted;
    const hex = hashSecret(secret);
    const entry = this.#byHash.get(hex);
    if (!entry) return undefined;
    // The index is keyed by the hash; confirm in constant time all the same.
    const presented = Buffer.from(hex, 'hex');
    if (presented.length !== entry.hash.length || !timingSafeEqual(presented, entry.hash)) return undefined;
    const principal = principalOf(entry.record);
    if (this.#accepted.size >= MAX_ACCEPTED_SECRETS) this.#accepted.clear();
    this.#accepted.set(secret, principal);
    return principal;
  }

  /**
   * Like `authenticate`, but on a miss re-reads the backing (at most four times a second), so that a key created on
   * another server a moment ago is accepted here too.
   */
  async authenticateFresh(secret: string): Promise<Principal | undefined> {
    const found = this.authenticate(secret);
    if (found || !secret) return found;
    // Unknown keys (typos, attackers) re-read the backing at most four times a second.
    if (Date.now() - this.#lastMissRefresh < 250) return undefined;
    this.#lastMissRefresh = Date.now();
    await this.refresh().catch(() => undefined);
    return this.authenticate(secret);
  }

  /**
   * A short-lived token standing for `principal`'s key, for URLs (the OFREP event stream advertised in bulk answers):
   * never the secret itself. `<key id>.<expiry>.<HMAC of purpose, id and expiry keyed with the key's hash>`, so any
   * server that knows the key can check it, and it stops working when the key is revoked or the token expires.
   */
  issueStreamToken(principal: Principal, purpose: string, nowMs = Date.now()): string | undefined {
    const entry = this.#byId.get(principal.id);
    if (!entry) return undefined;
    const expires = (Math.floor(nowMs / 1000 / STREAM_TOKEN_WINDOW_SEC) + 2) * STREAM_TOKEN_WINDOW_SEC;
    return `${Buffer.from(principal.id, 'utf8').toString('base64url')}.${expires}.${streamTokenMac(entry.hash, purpose, principal.id, expires)}`;
  }

  /** The key a stream token stands for, if the token is for `purpose`, unexpired, and its key still valid. */
  verifyStreamToken(token: string, purpose: string, nowMs = Date.now()): Principal | undefined {
    const parts = token.split('.');
    if (parts.length !== 3 || !/^[0-9]{1,12}$/.test(parts[1]!)) return undefined;
    const expires = Number(parts[1]);
    const now = nowMs / 1000;
    if (expires <= now || expires > now + 2 * STREAM_TOKEN_WINDOW_SEC) return undefined;
    const id = Buffer.from(parts[0]!, 'base64url').toString('utf8');
    const entry = this.#byId.get(id);
    if (!entry) return undefined;
    const expected = Buffer.from(streamTokenMac(entry.hash, purpose, id, expires));
    const given = Buffer.from(parts[2]!);
    if (given.length !== expected.length || !timingSafeEqual(given, expected)) return undefined;
    return principalOf(entry.record);
  }

  refresh(): Promise<void> {
    this.#refreshing ??= (async () => {
      try {
        const records = await this.#backing.list();
        const wasActive = new Set(this.#stored.filter((entry) => !entry.record.revokedAt).map((entry) => entry.record.id));
        this.#stored = records.map((record) => ({ record, hash: Buffer.from(record.hash, 'hex'), source: 'store' as const }));
        this.#rebuild();
        // Keys revoked since the last read (whether or not the announcement arrived): their streams end too.
        const active = new Set(this.#stored.filter((entry) => !entry.record.revokedAt).map((entry) => entry.record.id));
        this.#announceRevoked([...wasActive].filter((id) => !active.has(id)));
      } finally {
        this.#refreshing = undefined;
      }
    })();
    return this.#refreshing;
  }

  list(): KeyInfo[] {
    return [...this.#config, ...this.#stored].map(info);
  }

  /**
   * Creates a key. SDK keys may name the environment they serve (`project`/`environment`, checked by the caller
   * against the catalog); admin keys may have `grants`, and then their `role` is the highest granted one.
   */
  async create(input: {
    name: string;
    kind: KeyKind;
    role?: KeyRole;
    createdBy: string;
    project?: string;
    environment?: string;
    grants?: RoleGrant[];
  }): Promise<CreatedKey> {
    const secret = generateSecret(input.kind);
    const grants = input.kind === 'admin' && input.grants && input.grants.length > 0 ? input.grants.map((grant) => ({ ...grant })) : undefined;
    const record: ApiKeyRecord = {
      id: randomUUID(),
      name: input.name,
      kind: input.kind,
      role: input.kind === 'sdk' ? 'reader' : grants ? highestGrant(grants)! : (input.role ?? 'reader'),
      hash: hashSecret(secret),
      prefix: prefixOf(secret),
      createdAt: new Date().toISOString(),
      createdBy: input.createdBy,
      ...(input.kind === 'sdk' && input.project !== undefined ? { project: input.project } : {}),
      ...(input.kind === 'sdk' && input.environment !== undefined ? { environment: input.environment } : {}),
      ...(grants ? { grants } : {}),
    };
    await this.#backing.create(record);
    await this.refresh().catch(() => {
      this.#stored.push({ record, hash: Buffer.from(record.hash, 'hex'), source: 'store' });
      this.#rebuild();
    });
    return { key: info({ record, hash: Buffer.alloc(0), source: 'store' }), secret };
  }

  /** Revokes a stored key. `config`: a configured key (not revocable here); `missing`: no such key. */
  async revoke(id: string, actor: string): Promise<'revoked' | 'config' | 'missing'> {
    if (this.#config.some((entry) => entry.record.id === id)) return 'config';
    const found = await this.#backing.revoke(id, actor);
    if (!found) return 'missing';
    await this.refresh().catch(() => {
      const entry = this.#stored.find((candidate) => candidate.record.id === id);
      if (entry) entry.record.revokedAt ??= new Date().toISOString();
      this.#rebuild();
    });
    return 'revoked';
  }

  #rebuild(): void {
    this.#accepted.clear();
    this.#byHash.clear();
    this.#byId.clear();
    for (const entry of [...this.#config, ...this.#stored]) {
      if (entry.record.revokedAt || entry.hash.length !== 32) continue;
      this.#byHash.set(entry.record.hash.toLowerCase(), entry);
      this.#byId.set(entry.record.id, entry);
    }
  }
}

function streamTokenMac(keyHash: Buffer, purpose: string, id: string, expires: number): string {
  return createHmac('sha256', keyHash).update(`vexil-stream-token\n${purpose}\n${id}\n${expires}`).digest('base64url').slice(0, 32);
}

function info(entry: Entry): KeyInfo {
  const { id, name, kind, role, prefix, createdAt, createdBy, revokedAt, project, environment, grants } = entry.record;
  return {
    id,
    name,
    kind,
    role,
    ...(kind === 'sdk' ? { project: project ?? DEFAULT_PROJECT, environment: environment ?? DEFAULT_ENVIRONMENT } : {}),
    ...(kind === 'admin' && grants && grants.length > 0 ? { grants } : {}),
    prefix,
    createdAt,
    createdBy,
    ...(revokedAt ? { revokedAt } : {}),
    source: entry.source,
  };
}

function unique(values: string[] | undefined): string[] {
  return [...new Set((values ?? []).map((value) => value.trim()).filter((value) => value.length > 0))];
}
