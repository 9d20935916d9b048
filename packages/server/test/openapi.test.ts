// GET /openapi.json: generated from the route schemas, with the statuses and headers every route shares, checked
// against OFREP's OpenAPI (open-feature/protocol service/openapi.yaml) and against the endpoint table of the README.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { REPO_ROOT, fixtureServer } from './helpers.js';

interface Operation {
  security?: unknown[];
  requestBody?: { required?: boolean };
  responses: Record<string, { description: string; headers?: Record<string, { schema: { type: string } }>; content?: Record<string, { schema: any }> }>;
}
type Document = { openapi: string; paths: Record<string, Record<string, Operation>>; components: { securitySchemes: Record<string, unknown> } };

let app: FastifyInstance;
let doc: Document;

before(async () => {
  app = await fixtureServer();
  const response = await app.inject({ method: 'GET', url: '/openapi.json' });
  assert.equal(response.statusCode, 200);
  doc = response.json();
});
after(async () => {
  await app.close();
});

const op = (method: string, path: string): Operation => {
  const found = doc.paths[path]?.[method];
  assert.ok(found, `${method.toUpperCase()} ${path} in the document`);
  return found;
};
const json = (operation: Operation, status: string) => operation.responses[status]?.content?.['application/json']?.schema;

describe('GET /openapi.json', () => {
  test('OpenAPI 3.1 with both of OFREP\'s security schemes', () => {
    assert.equal(doc.openapi, '3.1.0');
    assert.deepEqual(Object.keys(doc.components.securitySchemes).sort(), ['ApiKeyAuth', 'BearerAuth']);
  });

  test('every endpoint of the README is in the document, and every operation of the document is in the README', async () => {
    const readme = await readFile(resolve(REPO_ROOT, 'packages/server/README.md'), 'utf8');
    const table = readme.slice(readme.indexOf('## Endpoint reference'), readme.indexOf('### Admin page'));
    const documented = new Set([...table.matchAll(/^\| `(GET|POST|PUT|PATCH|DELETE) ([^`]+)` \|/gm)].map((match) => `${match[1]} ${match[2]}`));
    const generated = new Set(Object.entries(doc.paths).flatMap(([path, operations]) => Object.keys(operations).map((method) => `${method.toUpperCase()} ${path}`)));
    const pageOnly = ['GET /', 'GET /assets/*', 'GET /openapi.json'];
    assert.deepEqual([...documented].filter((entry) => !generated.has(entry) && !pageOnly.includes(entry)), []);
    assert.deepEqual([...generated].filter((entry) => !documented.has(entry)), []);
  });

  test('OFREP single flag: the statuses of OFREP\'s OpenAPI, its error codes, Retry-After on 429, an optional body', () => {
    const single = op('post', '/ofrep/v1/evaluate/flags/{key}');
    for (const status of ['200', '400', '401', '403', '404', '429', '500']) assert.ok(single.responses[status], status);
    assert.deepEqual(json(single, '400').properties.errorCode.enum, ['PARSE_ERROR', 'TARGETING_KEY_MISSING', 'INVALID_CONTEXT', 'GENERAL']);
    assert.deepEqual(json(single, '400').required, ['key', 'errorCode']);
    assert.deepEqual(json(single, '404').anyOf[0].properties.errorCode.enum, ['FLAG_NOT_FOUND']);
    assert.ok(json(single, '200').properties.cacheable, 'serverEvaluationSuccess');
    assert.equal(single.responses['429']!.headers?.['Retry-After']?.schema.type, 'integer');
    assert.equal(single.requestBody?.required, false);
    assert.deepEqual(json(single, '500').required, ['key', 'errorCode']);
  });

  test('OFREP bulk: ETag on 200 and 304, bulkEvaluationFailure on 400, eventStreams, flagConfigEtag', () => {
    const bulk = op('post', '/ofrep/v1/evaluate/flags');
    for (const status of ['200', '304', '400', '401', '403', '429', '500']) assert.ok(bulk.responses[status], status);
    assert.ok(bulk.responses['200']!.headers?.ETag);
    assert.ok(bulk.responses['304']!.headers?.ETag);
    assert.equal(bulk.responses['304']!.content, undefined);
    assert.deepEqual(json(bulk, '200').required, ['flags']);
    assert.deepEqual(json(bulk, '200').properties.eventStreams.items.required, ['type', 'url']);
    assert.deepEqual(json(bulk, '400').required, ['errorCode']);
    const parameters = (bulk as unknown as { parameters: { in: string; name: string }[] }).parameters.map((parameter) => `${parameter.in}:${parameter.name}`);
    for (const parameter of ['header:if-none-match', 'query:flagConfigEtag', 'query:flagConfigLastModified']) assert.ok(parameters.includes(parameter), parameter);
    assert.equal(bulk.requestBody?.required, false);
  });

  test('streams are text/event-stream; open routes need no key; admin writes document ETag, Location, 409 and 405', () => {
    for (const path of ['/ofrep/v1/events', '/v1/stream']) assert.ok(op('get', path).responses['200']!.content?.['text/event-stream'], path);
    for (const path of ['/health', '/info', '/metrics']) assert.deepEqual(op('get', path).security, [], path);
    assert.equal(op('post', '/ofrep/v1/evaluate/flags').security, undefined, 'the document-wide security applies');

    assert.ok(op('get', '/admin/v1/flags/{key}').responses['200']!.headers?.ETag);
    const put = op('put', '/admin/v1/flags/{key}');
    assert.ok(put.responses['201']!.headers?.Location);
    assert.ok(put.responses['200']!.headers?.ETag);
    assert.ok(put.responses['409']!.headers?.ETag);
    assert.ok(put.responses['405']);
    assert.deepEqual(json(put, '401').required, ['error', 'message']);
    assert.ok(op('post', '/admin/v1/flags/{key}/toggle').responses['200']!.headers?.ETag);
    assert.ok(op('delete', '/admin/v1/keys/{id}').responses['409']);
  });

  test('every response has a description of its own', () => {
    for (const [path, operations] of Object.entries(doc.paths)) {
      for (const [method, operation] of Object.entries(operations)) {
        for (const [status, response] of Object.entries(operation.responses)) {
          assert.notEqual(response.description, 'Default Response', `${method.toUpperCase()} ${path} ${status}`);
        }
      }
    }
  });
});
