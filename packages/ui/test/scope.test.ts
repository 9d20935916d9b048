// Unit tests of the page's scope and rights helpers: which environment the address names, where API calls go, and
// what the caller may do there.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { environmentIn, parseScope, scopedPath, withScope } from '../src/lib/scope.js';
import { globalRole, grantsText, isAuthor, rightsFor, roleOn, type Me } from '../src/lib/rights.js';

const production = { project: 'checkout', environment: 'production' };

test('the address names the scope; what it leaves out is default', () => {
  assert.deepEqual(parseScope('#/flags?project=checkout&env=production'), production);
  assert.deepEqual(parseScope('#/flags/a-flag?env=staging&project=search'), { project: 'search', environment: 'staging' });
  assert.deepEqual(parseScope('#/flags'), { project: 'default', environment: 'default' });
  assert.deepEqual(parseScope(''), { project: 'default', environment: 'default' });
});

test('withScope replaces the scope and keeps the other parameters; default/default leaves the address clean', () => {
  assert.equal(withScope('#/flags', production), '#/flags?project=checkout&env=production');
  assert.equal(withScope('#/audit?flag=a&project=x&env=y', production), '#/audit?project=checkout&env=production&flag=a');
  assert.equal(withScope('#/audit?flag=a&project=x&env=y', { project: 'default', environment: 'default' }), '#/audit?flag=a');
  assert.equal(withScope('#/flags?project=checkout&env=production', { project: 'default', environment: 'default' }), '#/flags');
  // What it writes, it reads back.
  assert.deepEqual(parseScope(withScope('#/events?metric=latency', production)), production);
});

test('per-environment API paths go to the scope; others and default/default are unchanged', () => {
  assert.equal(scopedPath('/admin/v1/flags', production), '/admin/v1/projects/checkout/environments/production/flags');
  assert.equal(scopedPath('/admin/v1/flags/a%2Fb/toggle', production), '/admin/v1/projects/checkout/environments/production/flags/a%2Fb/toggle');
  assert.equal(scopedPath('/admin/v1/audit?key=a&limit=50', production), '/admin/v1/projects/checkout/environments/production/audit?key=a&limit=50');
  assert.equal(scopedPath('/admin/v1/metrics/latency?since=1h', production), '/admin/v1/projects/checkout/environments/production/metrics/latency?since=1h');
  assert.equal(scopedPath('/admin/v1/evaluate', production), '/admin/v1/projects/checkout/environments/production/evaluate');
  assert.equal(scopedPath('/admin/v1/segments', production), '/admin/v1/projects/checkout/environments/production/segments');
  for (const path of ['/admin/v1/keys', '/admin/v1/me', '/admin/v1/projects', '/admin/v1/changes?status=pending', '/admin/v1/projects/checkout/flags/a/compare', '/admin/v1/flagsets'])
    assert.equal(scopedPath(path, production), path, path);
  assert.equal(scopedPath('/admin/v1/flags/a', { project: 'default', environment: 'default' }), '/admin/v1/flags/a');
});

test('switching project keeps the environment of the same key, else takes the first', () => {
  const project = { key: 'search', environments: [{ key: 'development' }, { key: 'production' }] };
  assert.equal(environmentIn(project, 'production'), 'production');
  assert.equal(environmentIn(project, 'staging'), 'development');
  assert.equal(environmentIn({ key: 'empty', environments: [] }, 'production'), undefined);
});

const me = (role: Me['role'], grants: Me['grants'] = []): Me => ({ via: 'key', id: 'k1', name: 'ci', role, grants });

test('role on an environment: without grants the role everywhere, with grants the highest matching one', () => {
  assert.equal(roleOn(me('editor'), production), 'editor');
  const scoped = me('editor', [
    { project: 'checkout', environment: 'staging', role: 'editor' },
    { project: 'checkout', environment: '*', role: 'reader' },
    { project: '*', environment: 'development', role: 'admin' },
  ]);
  assert.equal(roleOn(scoped, { project: 'checkout', environment: 'staging' }), 'editor');
  assert.equal(roleOn(scoped, production), 'reader');
  assert.equal(roleOn(scoped, { project: 'search', environment: 'development' }), 'admin');
  assert.equal(roleOn(scoped, { project: 'search', environment: 'production' }), undefined);
  // Keys and projects need the role everywhere: only `*`/`*` grants give it.
  assert.equal(globalRole(scoped), undefined);
  assert.equal(globalRole(me('admin', [{ project: '*', environment: '*', role: 'admin' }])), 'admin');
  assert.equal(globalRole(me('admin')), 'admin');
});

test('rights: readers and read-only stores get no writes; approval comes from the environment', () => {
  const scoped = me('editor', [{ project: 'checkout', environment: 'staging', role: 'editor' }, { project: 'checkout', environment: 'production', role: 'reader' }]);
  assert.equal(rightsFor(scoped, { project: 'checkout', environment: 'staging' }, true).canEdit, true);
  assert.equal(rightsFor(scoped, production, true).canEdit, false);
  assert.equal(rightsFor(me('admin'), production, false).canEdit, false, 'a read-only store');
  assert.equal(rightsFor(me('admin'), production, undefined).canEdit, true, 'health not known yet: the server decides');
  assert.equal(rightsFor(undefined, production, true).canEdit, false, 'before /me answered');
  assert.equal(rightsFor(scoped, production, true).canAdminister, false);
  assert.equal(rightsFor(me('admin'), production, true, true).approvalRequired, true);
});

test('the author of a change request is recognised by the actor string', () => {
  assert.equal(isAuthor(me('editor'), 'ci (k1)'), true);
  assert.equal(isAuthor(me('editor'), 'ci (k2)'), false);
  assert.equal(isAuthor(me('editor'), 'other (k1)'), true, 'the id decides: a renamed key is still the author');
  assert.equal(grantsText('admin', undefined), 'admin everywhere');
  assert.equal(grantsText('editor', [{ project: 'default', environment: 'staging', role: 'editor' }, { project: 'checkout', environment: '*', role: 'reader' }]), 'editor on default/staging, reader on checkout/*');
});
