// Hash routes (`#/flags/my-flag`): the server only has to serve index.html at `/`, and nothing secret is in the URL.
// Links keep the page's project × environment (`?project=…&env=…`, see scope.ts).
import { useEffect, useState } from 'preact/hooks';
import { scoped } from './scope.js';

export type Route =
  | { page: 'flags' }
  | { page: 'new' }
  | { page: 'flag'; key: string }
  | { page: 'playground' }
  | { page: 'audit'; flag?: string }
  | { page: 'keys' }
  | { page: 'events'; flag?: string; metric?: string; since?: string }
  | { page: 'experiment'; key: string }
  | { page: 'compare'; key: string }
  | { page: 'changes'; all?: boolean }
  | { page: 'change'; id: string };

export function parseHash(hash: string): Route {
  const [path = '', query = ''] = hash.replace(/^#/, '').split('?');
  const parts = path.split('/').filter(Boolean).map((part) => decodeURIComponent(part));
  const params = new URLSearchParams(query);
  switch (parts[0]) {
    case 'flags':
      if (parts[1] === undefined) return { page: 'flags' };
      return parts[1] === '+new' ? { page: 'new' } : { page: 'flag', key: parts.slice(1).join('/') };
    case 'playground':
      return { page: 'playground' };
    case 'audit': {
      const flag = params.get('flag');
      return flag ? { page: 'audit', flag } : { page: 'audit' };
    }
    case 'keys':
      return { page: 'keys' };
    case 'experiment':
      return parts[1] === undefined ? { page: 'flags' } : { page: 'experiment', key: parts.slice(1).join('/') };
    case 'compare':
      return parts[1] === undefined ? { page: 'flags' } : { page: 'compare', key: parts.slice(1).join('/') };
    case 'changes':
      if (parts[1] !== undefined) return { page: 'change', id: parts[1] };
      return params.get('status') === 'all' ? { page: 'changes', all: true } : { page: 'changes' };
    case 'events': {
      const route: Route = { page: 'events' };
      for (const name of ['flag', 'metric', 'since'] as const) {
        const value = params.get(name);
        if (value) route[name] = value;
      }
      return route;
    }
    default:
      return { page: 'flags' };
  }
}

export const links = {
  flags: () => scoped('#/flags'),
  newFlag: () => scoped('#/flags/+new'),
  flag: (key: string) => scoped(`#/flags/${encodeURIComponent(key)}`),
  playground: () => scoped('#/playground'),
  audit: (flag?: string) => scoped(flag ? `#/audit?flag=${encodeURIComponent(flag)}` : '#/audit'),
  keys: () => scoped('#/keys'),
  experiment: (key: string) => scoped(`#/experiment/${encodeURIComponent(key)}`),
  compare: (key: string) => scoped(`#/compare/${encodeURIComponent(key)}`),
  changes: (all = false) => scoped(all ? '#/changes?status=all' : '#/changes'),
  change: (id: string) => scoped(`#/changes/${encodeURIComponent(id)}`),
  events: (query: { flag?: string | undefined; metric?: string | undefined; since?: string | undefined } = {}) => {
    const params = new URLSearchParams();
    for (const [name, value] of Object.entries(query)) if (value) params.set(name, value);
    const text = params.toString();
    return scoped(text ? `#/events?${text}` : '#/events');
  },
};

export function navigate(hash: string): void {
  if (location.hash === hash) return;
  location.hash = hash;
}

export function useRoute(): Route {
  const [route, setRoute] = useState(() => parseHash(location.hash));
  useEffect(() => {
    const update = () => setRoute(parseHash(location.hash));
    addEventListener('hashchange', update);
    return () => removeEventListener('hashchange', update);
  }, []);
  return route;
}
