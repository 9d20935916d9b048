// What the caller may do where: computed from `GET /admin/v1/me` the way the server checks it (reader < editor <
// admin; without grants the key's role everywhere; with grants the highest matching one, `*` matching any). The server
// still decides: this only keeps the page from offering what it would refuse.
import { createContext } from 'preact';
import { useContext } from 'preact/hooks';
import type { Scope } from './scope.js';

export type Role = 'reader' | 'editor' | 'admin';

export interface RoleGrant {
  project: string;
  environment: string;
  role: Role;
}

export interface Me {
  via: 'key' | 'session';
  id: string;
  name: string;
  role: Role;
  /** Empty: `role` on every project and environment. */
  grants: RoleGrant[];
  csrfToken?: string;
}

const RANK: Record<Role, number> = { reader: 1, editor: 2, admin: 3 };

export function roleAtLeast(role: Role | undefined, needed: Role): boolean {
  return role !== undefined && RANK[role] >= RANK[needed];
}

function higher(a: Role | undefined, b: Role): Role {
  return a !== undefined && RANK[a] >= RANK[b] ? a : b;
}

const matches = (pattern: string, value: string): boolean => pattern === '*' || pattern === value;

/** The caller's role on one project × environment; undefined: none (the environment is out of its reach). */
export function roleOn(me: Pick<Me, 'role' | 'grants'>, scope: Scope): Role | undefined {
  if (me.grants.length === 0) return me.role;
  let best: Role | undefined;
  for (const grant of me.grants) if (matches(grant.project, scope.project) && matches(grant.environment, scope.environment)) best = higher(best, grant.role);
  return best;
}

/** The caller's role on every project and environment, including later ones: what keys and projects need. */
export function globalRole(me: Pick<Me, 'role' | 'grants'>): Role | undefined {
  if (me.grants.length === 0) return me.role;
  let best: Role | undefined;
  for (const grant of me.grants) if (grant.project === '*' && grant.environment === '*') best = higher(best, grant.role);
  return best;
}

/** Whether a change request's author (an actor string, `name (id)`) is this caller. */
export function isAuthor(me: Pick<Me, 'id' | 'name'>, author: string): boolean {
  return author === `${me.name} (${me.id})` || author.endsWith(`(${me.id})`);
}

/** Grants in words: `editor on default/staging, reader on checkout/*`; none: the role everywhere. */
export function grantsText(role: Role, grants: RoleGrant[] | undefined): string {
  if (!grants || grants.length === 0) return `${role} everywhere`;
  return grants.map((grant) => `${grant.role} on ${grant.project}/${grant.environment}`).join(', ');
}

export interface Rights {
  me: Me | undefined;
  /** The role on the page's project × environment. */
  role: Role | undefined;
  /** Flag writes offered: editor or more here, and a writable store. */
  canEdit: boolean;
  /** Keys and projects: admin everywhere. */
  canAdminister: boolean;
  /** False for read-only stores (flag files); undefined until `/admin/v1/health` answered. */
  storeWritable: boolean | undefined;
  /** Writes in this environment become change requests that another person approves. */
  approvalRequired: boolean;
}

/** The rights for a scope (`storeWritable` from `/admin/v1/health`). */
export function rightsFor(me: Me | undefined, scope: Scope, storeWritable: boolean | undefined, approvalRequired = false): Rights {
  const role = me ? roleOn(me, scope) : undefined;
  return {
    me,
    role,
    canEdit: roleAtLeast(role, 'editor') && storeWritable !== false,
    canAdminister: me !== undefined && roleAtLeast(globalRole(me), 'admin'),
    storeWritable,
    approvalRequired,
  };
}

export const RightsContext = createContext<Rights>({ me: undefined, role: undefined, canEdit: false, canAdminister: false, storeWritable: undefined, approvalRequired: false });

export function useRights(): Rights {
  return useContext(RightsContext);
}
