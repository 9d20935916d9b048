import {
  DEFAULT_ENVIRONMENT,
  DEFAULT_PROJECT,
  type EnvironmentCatalog,
  type EnvironmentRecord,
  type EnvironmentRef,
  type ProjectRecord,
} from '../catalog/types.js';
import type { FlagStore, WriteOptions } from '../types.js';
import { ReadOnlyStoreError, UnknownEnvironmentError, UnknownProjectError } from '../errors.js';
import { environmentLabel } from './sources.js';

/** What the file catalog is made of: the root store (default/default) and one store per other environment. */
export interface FileCatalogEnvironment extends EnvironmentRef {
  store: FlagStore;
}

/**
 * The fixed catalog of a file store: the projects and environments its `--flags` specs name
 * (`production=flags.prod.yaml`, `checkout/staging=…`), plus default/default (the bare paths, possibly none). Each
 * environment is a watched file store of its own, with its own revision, feed and problems. Read-only: creating,
 * changing or deleting a project or environment means changing the configuration, so those reject with
 * `ReadOnlyStoreError`.
 */
export class FileEnvironmentCatalog implements EnvironmentCatalog {
  readonly writable = false;
  readonly #root: FlagStore;
  readonly #stores = new Map<string, FlagStore>();
  readonly #projects = new Map<string, ProjectRecord>();
  readonly #environments = new Map<string, EnvironmentRecord[]>();

  constructor(root: FlagStore, environments: readonly FileCatalogEnvironment[], openedAt: string = new Date().toISOString()) {
    this.#root = root;
    const add = (ref: EnvironmentRef, store: FlagStore): void => {
      const id = environmentLabel(ref);
      if (this.#stores.has(id)) throw new Error(`environment ${id} is given twice to the file catalog`);
      this.#stores.set(id, store);
      if (!this.#projects.has(ref.project)) {
        this.#projects.set(ref.project, { key: ref.project, name: ref.project, createdAt: openedAt, createdBy: 'file', version: 1 });
        this.#environments.set(ref.project, []);
      }
      this.#environments.get(ref.project)!.push({
        project: ref.project,
        key: ref.environment,
        name: ref.environment,
        requireApproval: false,
        id,
        createdAt: openedAt,
        createdBy: 'file',
        version: 1,
      });
    };
    add({ project: DEFAULT_PROJECT, environment: DEFAULT_ENVIRONMENT }, root);
    for (const environment of environments) add(environment, environment.store);
  }

  async listProjects(): Promise<ProjectRecord[]> {
    return [...this.#projects.values()].map((record) => ({ ...record }));
  }

  async getProject(key: string): Promise<ProjectRecord | undefined> {
    const record = this.#projects.get(key);
    return record ? { ...record } : undefined;
  }

  async listEnvironments(project: string): Promise<EnvironmentRecord[]> {
    const environments = this.#environments.get(project);
    if (!environments) throw new UnknownProjectError(project);
    return environments.map((record) => ({ ...record }));
  }

  async getEnvironment(ref: EnvironmentRef): Promise<EnvironmentRecord | undefined> {
    const record = this.#environments.get(ref.project)?.find((environment) => environment.key === ref.environment);
    return record ? { ...record } : undefined;
  }

  async environment(ref: EnvironmentRef): Promise<FlagStore> {
    const store = this.#stores.get(environmentLabel(ref));
    if (store) return store;
    if (!this.#projects.has(ref.project)) throw new UnknownProjectError(ref.project);
    throw new UnknownEnvironmentError(ref.project, ref.environment);
  }

  /** Fixed for the life of the store: the catalog comes from the configuration. */
  async revision(): Promise<number> {
    return 1;
  }

  async createProject(_project: { key: string }, _environments: unknown, _options: WriteOptions): Promise<ProjectRecord> {
    throw this.#refusal();
  }

  async deleteProject(_key: string, _options: WriteOptions): Promise<void> {
    throw this.#refusal();
  }

  async createEnvironment(_project: string, _environment: { key: string }, _options: WriteOptions): Promise<EnvironmentRecord> {
    throw this.#refusal();
  }

  async updateEnvironment(_ref: EnvironmentRef, _patch: { name?: string; requireApproval?: boolean }, _options: WriteOptions): Promise<EnvironmentRecord> {
    throw this.#refusal();
  }

  async deleteEnvironment(_ref: EnvironmentRef, _options: WriteOptions): Promise<void> {
    throw this.#refusal();
  }

  /** Closes the environments' stores (not the root, which closes this catalog). */
  async close(): Promise<void> {
    await Promise.all([...this.#stores.values()].filter((store) => store !== this.#root).map((store) => store.close()));
  }

  #refusal(): ReadOnlyStoreError {
    const error = new ReadOnlyStoreError('file');
    error.message = 'the file store is read-only: its projects and environments come from --flags (e.g. --flags production=flags.prod.yaml)';
    return error;
  }
}
