// The project × environment the page works on. It lives in the hash's query (`#/flags?project=checkout&env=production`)
// so that links, reloads and bookmarks keep it; default/default (today's single environment) is left out of URLs.
import { useEffect, useState } from 'preact/hooks';

export interface Scope {
  project: string;
  environment: string;
}

export const DEFAULT_SCOPE: Readonly<Scope> = { project: 'default', environment: 'default' };

export function isDefaultScope(scope: Scope): boolean {
  return scope.project === DEFAULT_SCOPE.project && scope.environment === DEFAULT_SCOPE.environment;
}

export function sameScope(a: Scope, b: Scope): boolean {
  return a.project === b.project && a.environment === b.environment;
}

/** `project/environment`, as messages and the server name it. */
export function scopeText(scope: Scope): string {
  return `${scope.project}/${scope.environment}`;
}

/** The scope a hash names (`project`, `env` in its query); what it leaves out is `default`. */
export function parseScope(hash: string): Scope {
  const query = hash.split('?')[1] ?? '';
  const params = new URLSearchParams(query);
  return { project: params.get('project') || DEFAULT_SCOPE.project, environment: params.get('env') || DEFAULT_SCOPE.environment };
}

/** The hash with its scope replaced (other query parameters kept); default/default adds nothing. */
export function withScope(hash: string, scope: Scope): string {
  const [path = '', query = ''] = hash.split('?');
  const params = new URLSearchParams(query);
  params.delete('project');
  params.delete('env');
  const rest = params.toString();
  const scoped = new URLSearchParams();
  if (!isDefaultScope(scope)) {
    scoped.set('project', scope.project);
    scoped.set('env', scope.environment);
  }
  const text = [scoped.toString(), rest].filter(Boolean).join('&');
  return text ? `${path}?${text}` : path;
}

/** Admin API paths that are about one environment's data: today's paths serve default/default. */
const PER_ENVIRONMENT = /^\/admin\/v1\/(flags|segments|audit|evaluate|metrics)(?=[/?]|$)/;

/**
 * The API path for a scope: `/admin/v1/flags/a` in checkout/production is
 * `/admin/v1/projects/checkout/environments/production/flags/a`. Paths that are not per environment (keys, projects,
 * change requests) and default/default are unchanged.
 */
export function scopedPath(path: string, scope: Scope): string {
  if (isDefaultScope(scope) || !PER_ENVIRONMENT.test(path)) return path;
  const enc = encodeURIComponent;
  return `/admin/v1/projects/${enc(scope.project)}/environments/${enc(scope.environment)}${path.slice('/admin/v1'.length)}`;
}

/** The scope of the page now (read from the address, so API calls and links made anywhere agree). */
export function currentScope(): Scope {
  return typeof location === 'undefined' ? { ...DEFAULT_SCOPE } : parseScope(location.hash);
}

/** A hash link that keeps the current scope. */
export function scoped(hash: string, scope: Scope = currentScope()): string {
  return withScope(hash, scope);
}

/** The current scope, following the address. */
export function useScope(): Scope {
  const [scope, setScope] = useState(currentScope);
  useEffect(() => {
    const update = () => setScope((before) => {
      const next = currentScope();
      return sameScope(before, next) ? before : next;
    });
    addEventListener('hashchange', update);
    return () => removeEventListener('hashchange', update);
  }, []);
  return scope;
}

/**
 * Where to go in a project: the environment of the same key when it has one (staging → staging), else its first.
 * Undefined when the project has no environment.
 */
export function environmentIn(project: { key: string; environments: Array<{ key: string }> }, wanted: string): string | undefined {
  return project.environments.find((environment) => environment.key === wanted)?.key ?? project.environments[0]?.key;
}
