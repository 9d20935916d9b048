// Projects, environments, comparing and promoting between them, and change requests: the parts of the admin API
// that are about several environments at once (so never rewritten by the page's scope).
import type { FlagDefinition } from '@vexil/core';
import { ApiError, call, isSentForReview, type ChangeRequest, type SentForReview } from './api.js';

export interface EnvironmentRecord {
  project: string;
  key: string;
  name: string;
  requireApproval: boolean;
  version?: number;
}

export interface ProjectWithEnvironments {
  key: string;
  name: string;
  description?: string;
  environments: EnvironmentRecord[];
}

export interface Comparison {
  key: string;
  environments: Array<{ environment: string; flag: FlagDefinition | null; version: number }>;
  differences: Array<{ path: string; values: Record<string, unknown> }>;
}

export interface PromotionChange {
  key: string;
  action: 'create' | 'update' | 'delete' | 'unchanged';
  before: FlagDefinition | null;
  after: FlagDefinition | null;
  diff: Array<{ path: string; before: unknown; after: unknown }>;
}

export interface Promotion {
  from: string;
  to: string;
  dryRun: boolean;
  applied: boolean;
  changes: PromotionChange[];
  revision?: number;
}

const enc = encodeURIComponent;

/** A change request as answered: bare, or wrapped as `{ changeRequest }`. */
function unwrap(data: ChangeRequest | { changeRequest: ChangeRequest }): ChangeRequest {
  return 'changeRequest' in data ? data.changeRequest : data;
}

export const environmentsApi = {
  /** Every project with its environments; undefined from a server that has none (one environment: default/default). */
  async projects(): Promise<ProjectWithEnvironments[] | undefined> {
    try {
      const { data } = await call<{ projects: ProjectWithEnvironments[] }>('GET', '/admin/v1/projects');
      return (data.projects ?? []).map((project) => ({ ...project, environments: project.environments ?? [] }));
    } catch (error) {
      if (error instanceof ApiError && (error.status === 404 || error.status === 405)) return undefined;
      throw error;
    }
  },

  async compare(project: string, flag: string): Promise<Comparison> {
    return (await call<Comparison>('GET', `/admin/v1/projects/${enc(project)}/flags/${enc(flag)}/compare`)).data;
  },

  /** A dry run answers what would change; a real one applies it (or, when `to` requires approval, sends it for review). */
  async promote(project: string, input: { from: string; to: string; flags?: string[]; dryRun: boolean }): Promise<Promotion | SentForReview> {
    const answer = await call<Promotion | SentForReview>('POST', `/admin/v1/projects/${enc(project)}/environments/${enc(input.to)}/promote`, {
      body: { from: input.from, ...(input.flags ? { flags: input.flags } : {}), dryRun: input.dryRun },
    });
    return answer.status === 202 && isSentForReview(answer.data) ? { changeRequest: answer.data.changeRequest } : (answer.data as Promotion);
  },

  async changes(filter: { project?: string; environment?: string; status?: ChangeRequest['status'] }): Promise<ChangeRequest[]> {
    const params = new URLSearchParams();
    for (const [name, value] of Object.entries(filter)) if (value) params.set(name, value);
    const query = params.toString();
    return (await call<{ changes: ChangeRequest[] }>('GET', `/admin/v1/changes${query ? `?${query}` : ''}`)).data.changes ?? [];
  },

  async change(id: string): Promise<ChangeRequest> {
    return unwrap((await call<ChangeRequest | { changeRequest: ChangeRequest }>('GET', `/admin/v1/changes/${enc(id)}`)).data);
  },

  async review(id: string, decision: 'approve' | 'reject' | 'withdraw', comment?: string): Promise<ChangeRequest> {
    const answer = await call<ChangeRequest | { changeRequest: ChangeRequest }>('POST', `/admin/v1/changes/${enc(id)}/${decision}`, { body: comment ? { comment } : {} });
    return unwrap(answer.data);
  },
};
