import { randomBytes } from 'node:crypto';
import { StoreConflictError, UnknownEnvironmentError, UnknownProjectError } from '../errors.js';
import type { FlagStore, WriteOptions } from '../types.js';
import {
  DEFAULT_ENVIRONMENT,
  DEFAULT_PROJECT,
  SCOPE_KEY_PATTERN,
  type CatalogBackend,
  type ChangeRequest,
  type ChangeRequestStatus,
  type ChangeRequestStore,
  type DocumentStore,
  type EnvironmentCatalog,
  type EnvironmentRecord,
  type EnvironmentRef,
  type ProjectRecord,
  type StoredDocument,
} from './types.js';

/** A writable store's catalog, as its store holds it: closed (with every environment store it opened) by the store. */
export type StoreCatalog = EnvironmentCatalog & { close(): Promise<void> };

/** The id of default/default: its data is the root store's own, never a scope of its own. */
export const ROOT_ENVIRONMENT_ID = 'root';

const PROJECTS = 'projects';
const ENVIRONMENTS = 'environments';
const CHANGE_REQUESTS = 'change-requests';
const META = 'catalog-meta';
/** `catalog-meta` document whose version is the catalog revision. */
const REVISION_DOC = 'revision';
/** `catalog-meta` documents `env-id-<id>` reserve environment ids, so an id is never given twice (not even after a delete). */
const ID_PREFIX = 'env-id-';

const CHANGE_STATUSES: readonly string[] = ['pending', 'applied', 'rejected', 'conflicting', 'withdrawn'] satisfies ChangeRequestStatus[];

type ProjectDoc = Omit<ProjectRecord, 'version'>;
type EnvironmentDoc = Omit<EnvironmentRecord, 'version'>;
type ChangeRequestDoc = Omit<ChangeRequest, 'version'>;

const KEY_RULE = 'lower-case letters, digits and "-", starting with a letter or digit, at most 48 characters';

function checkKey(kind: 'project' | 'environment', key: unknown): string {
  if (typeof key !== 'string' || !SCOPE_KEY_PATTERN.test(key))
    throw new TypeError(`invalid ${kind} key ${JSON.stringify(key)}: use ${KEY_RULE}`);
  return key;
}

function checkActor(options: WriteOptions): string {
  if (!options || typeof options.actor !== 'string' || options.actor.length === 0)
    throw new TypeError('a catalog change needs options.actor: who makes the change');
  return options.actor;
}

function checkName(kind: string, name: unknown): string | undefined {
  if (name === undefined) return undefined;
  if (typeof name !== 'string' || name.trim().length === 0 || name.length > 200)
    throw new TypeError(`invalid ${kind} name ${JSON.stringify(name)}: a non-empty string of at most 200 characters`);
  return name;
}

function checkFlag(field: string, value: unknown): boolean | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'boolean') throw new TypeError(`${field} must be true or false, not ${JSON.stringify(value)}`);
  return value;
}

/** A conflict on a catalog record, worded for it (StoreConflictError's own message speaks of flags). */
function conflict(key: string, expectedVersion: number | undefined, currentVersion: number, message: string): StoreConflictError {
  const error = new StoreConflictError(key, expectedVersion, currentVersion);
  error.message = message;
  return error;
}

const environmentDocId = (project: string, environment: string) => `${project}/${environment}`;
const isDefault = (ref: EnvironmentRef) => ref.project === DEFAULT_PROJECT && ref.environment === DEFAULT_ENVIRONMENT;

/** The millisecond of the last id made here: two ids made in one millisecond still sort in creation order. */
let lastIdMs = 0;

/** Ids sortable by creation time: milliseconds in base 36 (fixed width, strictly increasing in a process), then randomness. */
function timeSortableId(): string {
  lastIdMs = Math.max(Date.now(), lastIdMs + 1);
  return `${lastIdMs.toString(36).padStart(9, '0')}-${randomBytes(5).toString('hex')}`;
}

/**
 * The catalog of a writable store, written once over its `DocumentStore`: projects and environments are versioned
 * documents; each environment's flags live in a scope of the backend (`openScope`), except default/default, whose
 * flags are the root store's. The catalog revision is the version of one `catalog-meta` document, bumped after every
 * change, so every process can tell that the catalog moved.
 */
export function createCatalog(root: FlagStore, backend: CatalogBackend): StoreCatalog {
  const documents: DocumentStore = backend.documents;
  /** Open environment stores by environment id (concurrent opens share one promise). */
  const scopes = new Map<string, Promise<FlagStore>>();
  /** Which id each environment had when last opened here: an environment deleted and re-created elsewhere gets a new id. */
  const openedIds = new Map<string, string>();
  let defaults: Promise<void> | undefined;
  let closed = false;

  const checkOpen = () => {
    if (closed) throw new Error('the catalog is closed (its store was closed)');
  };

  const toProject = (stored: StoredDocument<ProjectDoc>): ProjectRecord => ({ ...stored.doc, version: stored.version });
  const toEnvironment = (stored: StoredDocument<EnvironmentDoc>): EnvironmentRecord => ({ ...stored.doc, version: stored.version });

  /** Creates default/default the first time the catalog is used (any process may; the first write wins). */
  const ensureDefaults = (): Promise<void> => {
    defaults ??= (async () => {
      const createdAt = new Date().toISOString();
      const createIfMissing = async (collection: string, id: string, doc: unknown) => {
        if (await documents.get(collection, id)) return;
        try {
          await documents.put(collection, id, doc, 0);
        } catch (error) {
          if (!(error instanceof StoreConflictError)) throw error; // another process created it meanwhile
        }
      };
      await createIfMissing(PROJECTS, DEFAULT_PROJECT, {
        key: DEFAULT_PROJECT,
        name: 'Default',
        createdAt,
        createdBy: 'vexil',
      } satisfies ProjectDoc);
      await createIfMissing(ENVIRONMENTS, environmentDocId(DEFAULT_PROJECT, DEFAULT_ENVIRONMENT), {
        project: DEFAULT_PROJECT,
        key: DEFAULT_ENVIRONMENT,
        name: 'Default',
        requireApproval: false,
        id: ROOT_ENVIRONMENT_ID,
        createdAt,
        createdBy: 'vexil',
      } satisfies EnvironmentDoc);
    })().catch((error: unknown) => {
      defaults = undefined; // try again next time (the backend may have been unreachable)
      throw error;
    });
    return defaults;
  };

  const ready = async () => {
    checkOpen();
    await ensureDefaults();
  };

  const bumpRevision = async () => {
    await documents.put(META, REVISION_DOC, { changedAt: new Date().toISOString() });
  };

  const readProject = async (key: string) => {
    const stored = await documents.get<ProjectDoc>(PROJECTS, key);
    return stored ? toProject(stored) : undefined;
  };

  const requireProject = async (key: string) => {
    const project = await readProject(key);
    if (!project) throw new UnknownProjectError(key);
    return project;
  };

  const environmentsOf = async (project: string) =>
    (await documents.list<EnvironmentDoc>(ENVIRONMENTS))
      .filter((stored) => stored.doc.project === project)
      .map(toEnvironment)
      .sort((a, b) => (a.createdAt === b.createdAt ? (a.key < b.key ? -1 : 1) : a.createdAt < b.createdAt ? -1 : 1));

  const readEnvironment = async (ref: EnvironmentRef) => {
    const stored = await documents.get<EnvironmentDoc>(ENVIRONMENTS, environmentDocId(ref.project, ref.environment));
    return stored ? toEnvironment(stored) : undefined;
  };

  const requireEnvironment = async (ref: EnvironmentRef) => {
    const record = await readEnvironment(ref);
    if (record) return record;
    await requireProject(ref.project);
    throw new UnknownEnvironmentError(ref.project, ref.environment);
  };

  /** A fresh environment id, reserved for good. */
  const reserveId = async (): Promise<string> => {
    for (;;) {
      const id = randomBytes(4).toString('hex');
      try {
        await documents.put(META, `${ID_PREFIX}${id}`, { reservedAt: new Date().toISOString() }, 0);
        return id;
      } catch (error) {
        if (!(error instanceof StoreConflictError)) throw error; // taken before: draw again
      }
    }
  };

  const insertEnvironment = async (
    project: string,
    input: { key: string; name?: string; requireApproval?: boolean },
    actor: string,
  ): Promise<EnvironmentRecord> => {
    const existing = await readEnvironment({ project, environment: input.key });
    if (existing)
      throw conflict(`${ENVIRONMENTS}/${project}/${input.key}`, 0, existing.version, `environment "${input.key}" already exists in project "${project}"`);
    const doc: EnvironmentDoc = {
      project,
      key: input.key,
      name: input.name ?? input.key,
      requireApproval: input.requireApproval ?? false,
      id: await reserveId(),
      createdAt: new Date().toISOString(),
      createdBy: actor,
    };
    try {
      const version = await documents.put(ENVIRONMENTS, environmentDocId(project, input.key), doc, 0);
      return { ...doc, version };
    } catch (error) {
      if (error instanceof StoreConflictError)
        throw conflict(error.key, 0, error.currentVersion, `environment "${input.key}" already exists in project "${project}"`);
      throw error;
    }
  };

  const checkEnvironmentInput = (input: { key: string; name?: string; requireApproval?: boolean }) => {
    if (!input || typeof input !== 'object') throw new TypeError('an environment needs at least a key');
    checkKey('environment', input.key);
    checkName(`environment "${input.key}"`, input.name);
    checkFlag(`requireApproval of environment "${input.key}"`, input.requireApproval);
  };

  /** Closes the store opened for environment `id` here, if any. */
  const closeScope = async (id: string) => {
    const opening = scopes.get(id);
    if (!opening) return;
    scopes.delete(id);
    for (const [ref, opened] of openedIds) if (opened === id) openedIds.delete(ref);
    await opening.then((store) => store.close()).catch(() => undefined);
  };

  const changeRequests: ChangeRequestStore = {
    async list(filter = {}) {
      checkOpen();
      return (await documents.list<ChangeRequestDoc>(CHANGE_REQUESTS))
        .map((stored): ChangeRequest => ({ ...stored.doc, version: stored.version }))
        .filter(
          (request) =>
            (filter.project === undefined || request.project === filter.project) &&
            (filter.environment === undefined || request.environment === filter.environment) &&
            (filter.status === undefined || request.status === filter.status),
        )
        .sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
    },
    async get(id) {
      checkOpen();
      if (typeof id !== 'string' || id.length === 0) return undefined;
      const stored = await documents.get<ChangeRequestDoc>(CHANGE_REQUESTS, id);
      return stored ? { ...stored.doc, version: stored.version } : undefined;
    },
    async create(input) {
      await ready();
      if (typeof input?.author !== 'string' || input.author.length === 0) throw new TypeError('a change request needs an author');
      if (!Array.isArray(input.changes) || input.changes.length === 0) throw new TypeError('a change request needs at least one change');
      await requireEnvironment({ project: input.project, environment: input.environment });
      const doc: ChangeRequestDoc = { ...input, id: timeSortableId(), status: 'pending', createdAt: new Date().toISOString() };
      delete (doc as Partial<ChangeRequest>).version;
      const version = await documents.put(CHANGE_REQUESTS, doc.id, doc, 0);
      return { ...doc, version };
    },
    async update(request, expectedVersion) {
      checkOpen();
      if (!CHANGE_STATUSES.includes(request?.status)) throw new TypeError(`invalid change request status ${JSON.stringify(request?.status)}`);
      const { version: _ignored, ...doc } = request;
      try {
        const version = await documents.put(CHANGE_REQUESTS, request.id, doc, expectedVersion);
        return { ...doc, version };
      } catch (error) {
        if (error instanceof StoreConflictError)
          throw conflict(
            error.key,
            expectedVersion,
            error.currentVersion,
            error.currentVersion === 0
              ? `change request "${request.id}" does not exist`
              : `change request "${request.id}" is at version ${error.currentVersion}, not ${expectedVersion}: it changed meanwhile`,
          );
        throw error;
      }
    },
  };

  return {
    writable: true,
    changeRequests,

    async listProjects() {
      await ready();
      return (await documents.list<ProjectDoc>(PROJECTS))
        .map(toProject)
        .sort((a, b) => (a.key === DEFAULT_PROJECT ? -1 : b.key === DEFAULT_PROJECT ? 1 : a.key < b.key ? -1 : 1));
    },

    async getProject(key) {
      await ready();
      return typeof key === 'string' ? readProject(key) : undefined;
    },

    async createProject(input, environments, options) {
      const actor = checkActor(options);
      if (!input || typeof input !== 'object') throw new TypeError('a project needs at least a key');
      const key = checkKey('project', input.key);
      checkName(`project "${key}"`, input.name);
      if (input.description !== undefined && typeof input.description !== 'string')
        throw new TypeError(`the description of project "${key}" must be a string`);
      const wanted = environments ?? [{ key: DEFAULT_ENVIRONMENT }];
      if (!Array.isArray(wanted)) throw new TypeError('environments must be a list');
      const seen = new Set<string>();
      for (const environment of wanted) {
        checkEnvironmentInput(environment);
        if (seen.has(environment.key)) throw new TypeError(`environment "${environment.key}" is listed twice for project "${key}"`);
        seen.add(environment.key);
      }
      await ready();
      const doc: ProjectDoc = {
        key,
        name: input.name ?? key,
        ...(input.description !== undefined ? { description: input.description } : {}),
        createdAt: new Date().toISOString(),
        createdBy: actor,
      };
      let version: number;
      try {
        version = await documents.put(PROJECTS, key, doc, 0);
      } catch (error) {
        if (error instanceof StoreConflictError)
          throw conflict(error.key, 0, error.currentVersion, `project "${key}" already exists`);
        throw error;
      }
      try {
        for (const environment of wanted) await insertEnvironment(key, environment, actor);
      } finally {
        await bumpRevision();
      }
      return { ...doc, version };
    },

    async deleteProject(key, options) {
      checkActor(options);
      if (key === DEFAULT_PROJECT) throw new TypeError(`project "${DEFAULT_PROJECT}" cannot be deleted: every store has it`);
      checkKey('project', key);
      await ready();
      const project = await requireProject(key);
      const left = await environmentsOf(key);
      if (left.length > 0)
        throw conflict(
          `${PROJECTS}/${key}`,
          project.version,
          project.version,
          `project "${key}" still has environments (${left.map((e) => e.key).join(', ')}): delete them first`,
        );
      try {
        await documents.delete(PROJECTS, key, project.version);
      } catch (error) {
        if (error instanceof StoreConflictError)
          throw conflict(error.key, project.version, error.currentVersion, `project "${key}" changed meanwhile: try again`);
        throw error;
      }
      await bumpRevision();
    },

    async listEnvironments(project) {
      await ready();
      await requireProject(project);
      return environmentsOf(project);
    },

    async getEnvironment(ref) {
      await ready();
      if (typeof ref?.project !== 'string' || typeof ref.environment !== 'string') return undefined;
      return readEnvironment(ref);
    },

    async createEnvironment(project, environment, options) {
      const actor = checkActor(options);
      checkKey('project', project);
      checkEnvironmentInput(environment);
      await ready();
      await requireProject(project);
      const record = await insertEnvironment(project, environment, actor);
      await bumpRevision();
      return record;
    },

    async updateEnvironment(ref, patch, options) {
      checkActor(options);
      if (!patch || typeof patch !== 'object') throw new TypeError('an environment update needs { name?, requireApproval? }');
      const name = checkName(`environment "${ref?.environment}"`, patch.name);
      const requireApproval = checkFlag(`requireApproval of environment "${ref?.environment}"`, patch.requireApproval);
      await ready();
      const record = await requireEnvironment(ref);
      const { version, ...doc } = record;
      const next: EnvironmentDoc = {
        ...doc,
        ...(name !== undefined ? { name } : {}),
        ...(requireApproval !== undefined ? { requireApproval } : {}),
      };
      try {
        const written = await documents.put(ENVIRONMENTS, environmentDocId(ref.project, ref.environment), next, version);
        await bumpRevision();
        return { ...next, version: written };
      } catch (error) {
        if (error instanceof StoreConflictError)
          throw conflict(error.key, version, error.currentVersion, `environment "${ref.environment}" of project "${ref.project}" changed meanwhile: try again`);
        throw error;
      }
    },

    async deleteEnvironment(ref, options) {
      checkActor(options);
      if (isDefault(ref))
        throw new TypeError(`environment "${DEFAULT_ENVIRONMENT}" of project "${DEFAULT_PROJECT}" cannot be deleted: it is the store's own flags`);
      await ready();
      const record = await requireEnvironment(ref);
      try {
        await documents.delete(ENVIRONMENTS, environmentDocId(ref.project, ref.environment), record.version);
      } catch (error) {
        if (error instanceof StoreConflictError)
          throw conflict(error.key, record.version, error.currentVersion, `environment "${ref.environment}" of project "${ref.project}" changed meanwhile: try again`);
        throw error;
      }
      await bumpRevision();
      await closeScope(record.id);
      await backend.dropScope(record.id);
    },

    async environment(ref) {
      if (isDefault(ref)) {
        checkOpen();
        return root;
      }
      await ready();
      const record = await requireEnvironment(ref);
      if (record.id === ROOT_ENVIRONMENT_ID) return root;
      const refKey = environmentDocId(ref.project, ref.environment);
      const previous = openedIds.get(refKey);
      // Deleted and created again (by another process): the old environment's store is no use any more.
      if (previous !== undefined && previous !== record.id) await closeScope(previous);
      openedIds.set(refKey, record.id);
      let opening = scopes.get(record.id);
      if (!opening) {
        opening = backend.openScope(record.id);
        scopes.set(record.id, opening);
        opening.catch(() => {
          if (scopes.get(record.id) === opening) scopes.delete(record.id);
        });
      }
      const store = await opening;
      if (closed) {
        await store.close().catch(() => undefined);
        checkOpen();
      }
      return store;
    },

    async revision() {
      checkOpen();
      return (await documents.get(META, REVISION_DOC))?.version ?? 0;
    },

    async close() {
      if (closed) return;
      closed = true;
      await Promise.all([...scopes.keys()].map((id) => closeScope(id)));
    },
  };
}
