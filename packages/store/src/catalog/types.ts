import type { FlagDefinition } from '@vexil/core';
import type { FlagStore, WriteOptions } from '../types.js';

/**
 * Projects × environments. A project groups flags; an environment holds each flag's serving configuration and has its
 * own revision, change feed, audit log and snapshot: one scoped `FlagStore` per environment. A store's root
 * `FlagStore` is environment `default` of project `default`, so data written before environments existed is that
 * environment, unchanged.
 */
export interface EnvironmentRef {
  project: string;
  environment: string;
}

export const DEFAULT_PROJECT = 'default';
export const DEFAULT_ENVIRONMENT = 'default';

/** Project and environment keys: lower-case letters, digits and `-`, starting with a letter or digit, at most 48. */
export const SCOPE_KEY_PATTERN = /^[a-z0-9][a-z0-9-]{0,47}$/;

export interface ProjectRecord {
  key: string;
  name: string;
  description?: string;
  createdAt: string;
  createdBy: string;
  /** +1 on every change of this record (optimistic concurrency, as for flags). */
  version: number;
}

export interface EnvironmentRecord {
  project: string;
  key: string;
  name: string;
  /** Writes become change requests that another person approves (e.g. production). */
  requireApproval: boolean;
  /** Short stable id naming the environment's data inside the backend (a schema suffix, a key prefix); never reused. */
  id: string;
  createdAt: string;
  createdBy: string;
  version: number;
}

export type Role = 'reader' | 'editor' | 'admin';

/** A role on one project × environment; `*` matches any. */
export interface RoleGrant {
  project: string;
  environment: string;
  role: Role;
}

/** One flag's change in a change request: `baseVersion` is the version it was written against (0: a create). */
export interface ProposedChange {
  key: string;
  action: 'put' | 'delete';
  baseVersion: number;
  before: FlagDefinition | null;
  after: FlagDefinition | null;
}

export type ChangeRequestStatus = 'pending' | 'applied' | 'rejected' | 'conflicting' | 'withdrawn';

export interface ChangeRequest {
  id: string;
  project: string;
  environment: string;
  status: ChangeRequestStatus;
  /** Actor string of who proposed it (same form as audit actors). */
  author: string;
  reason?: string;
  createdAt: string;
  changes: ProposedChange[];
  reviewer?: string;
  reviewedAt?: string;
  reviewComment?: string;
  /** The environment revision at which it was applied. */
  appliedRevision?: number;
  /** Why it is conflicting: which flag moved from which base version to which. */
  conflict?: string;
  version: number;
}

export interface ChangeRequestStore {
  list(filter?: { project?: string; environment?: string; status?: ChangeRequestStatus }): Promise<ChangeRequest[]>;
  get(id: string): Promise<ChangeRequest | undefined>;
  create(request: Omit<ChangeRequest, 'id' | 'version' | 'status' | 'createdAt'>): Promise<ChangeRequest>;
  /** Replaces the record when its stored version equals `expectedVersion`, else `StoreConflictError` (key `collection/id`). */
  update(request: ChangeRequest, expectedVersion: number): Promise<ChangeRequest>;
}

/**
 * Optional capability of a store (`FlagStore.catalog`): the projects and environments it holds. Read-only stores
 * (files) have a fixed catalog from their configuration; their create/update/delete reject with `ReadOnlyStoreError`.
 */
export interface EnvironmentCatalog {
  readonly writable: boolean;
  listProjects(): Promise<ProjectRecord[]>;
  getProject(key: string): Promise<ProjectRecord | undefined>;
  /** Creates the project with the given environments (default: one, `default`). Conflict when it exists. */
  createProject(
    project: { key: string; name?: string; description?: string },
    environments: Array<{ key: string; name?: string; requireApproval?: boolean }> | undefined,
    options: WriteOptions,
  ): Promise<ProjectRecord>;
  /** Refused for `default`, and for a project that still has environments. */
  deleteProject(key: string, options: WriteOptions): Promise<void>;
  /** `UnknownProjectError` when the project does not exist. */
  listEnvironments(project: string): Promise<EnvironmentRecord[]>;
  getEnvironment(ref: EnvironmentRef): Promise<EnvironmentRecord | undefined>;
  createEnvironment(
    project: string,
    environment: { key: string; name?: string; requireApproval?: boolean },
    options: WriteOptions,
  ): Promise<EnvironmentRecord>;
  updateEnvironment(
    ref: EnvironmentRef,
    patch: { name?: string; requireApproval?: boolean },
    options: WriteOptions,
  ): Promise<EnvironmentRecord>;
  /** Drops the environment and its flags, audit and feed. Refused for default/default. (SDK-key checks: the server's.) */
  deleteEnvironment(ref: EnvironmentRef, options: WriteOptions): Promise<void>;
  /**
   * The environment's flags as a `FlagStore` with its own revision, change feed, audit and snapshot, sharing the root
   * store's connections (one instance per environment, cached; closed with the root). `default/default` is the root
   * store itself. `UnknownEnvironmentError` when the catalog has no such environment.
   */
  environment(ref: EnvironmentRef): Promise<FlagStore>;
  /** Change requests of every environment (absent on read-only catalogs). */
  readonly changeRequests?: ChangeRequestStore;
  /** Increases on every change of projects or environments, from any process: readers poll it to follow the catalog. */
  revision(): Promise<number>;
}

/** A versioned document, for what a store keeps beside flags (catalog records, change requests, shared secrets). */
export interface StoredDocument<T = unknown> {
  id: string;
  doc: T;
  version: number;
}

/**
 * The small primitive each writable store provides so that the catalog is written once, generically: named
 * collections of JSON documents with versions and conditional writes.
 */
export interface DocumentStore {
  get<T>(collection: string, id: string): Promise<StoredDocument<T> | undefined>;
  list<T>(collection: string): Promise<Array<StoredDocument<T>>>;
  /**
   * Writes when the stored version equals `expectedVersion` (0: must not exist; undefined: unconditional); resolves the
   * new version. A mismatch rejects with `StoreConflictError` (key `collection/id`).
   */
  put(collection: string, id: string, doc: unknown, expectedVersion?: number): Promise<number>;
  /** Resolves false when there was no such document; a version mismatch rejects with `StoreConflictError` (key `collection/id`). */
  delete(collection: string, id: string, expectedVersion?: number): Promise<boolean>;
}

/** What a writable store gives the generic catalog (`createCatalog`). */
export interface CatalogBackend {
  readonly documents: DocumentStore;
  /**
   * A `FlagStore` over the data of one environment (`id` from its record), sharing the root store's connections; its
   * data is created when missing. Only the catalog calls this, once per id.
   */
  openScope(id: string): Promise<FlagStore>;
  /** Deletes every trace of one environment's data (after `openScope`'s store was closed). */
  dropScope(id: string): Promise<void>;
}
