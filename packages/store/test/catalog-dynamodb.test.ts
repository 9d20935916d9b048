// Projects × environments on the DynamoDB store, against dynalite (DynamoDB's API, in memory, started by this file):
// the catalog conformance suite, then the flag conformance suite against an environment's own store. Every store
// opened here gets its own table, deleted at the end.
import { after } from 'node:test';
import { randomBytes } from 'node:crypto';
import { DynamoDBClient, DeleteTableCommand } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { DynamoFlagStore } from '../src/dynamodb/index.js';
import type { FlagStore } from '../src/types.js';
import { catalogConformance } from './catalog-conformance.js';
import { runConformanceSuite } from './conformance.js';
import { dynaliteEndpoint, stopDynalite } from './dynalite.js';

const run = randomBytes(4).toString('hex');
let tables = 0;
const created: string[] = [];
const url = (table: string, endpoint: string) => `dynamodb://${table}?region=eu-west-1&endpoint=${encodeURIComponent(endpoint)}&poll=100`;

function freshTable(): string {
  const table = `vexil-test-cat-${run}-${++tables}`;
  created.push(table);
  return table;
}

async function admin(): Promise<DynamoDBDocumentClient> {
  return DynamoDBDocumentClient.from(new DynamoDBClient({ endpoint: await dynaliteEndpoint(), region: 'eu-west-1' }));
}

after(async () => {
  const client = await admin();
  for (const table of created.splice(0)) await client.send(new DeleteTableCommand({ TableName: table })).catch(() => undefined);
  client.destroy();
  await stopDynalite();
});

let catalogTable = '';
catalogConformance('dynamodb (dynalite)', {
  async open() {
    catalogTable = freshTable();
    return DynamoFlagStore.open(url(catalogTable, await dynaliteEndpoint()));
  },
  openSecond: async () => DynamoFlagStore.open(url(catalogTable, await dynaliteEndpoint())),
});

const roots: FlagStore[] = [];
let scopedTable = '';
let environmentId = '';
async function staging(root: DynamoFlagStore): Promise<FlagStore> {
  roots.push(root);
  const ref = { project: 'default', environment: 'staging' };
  if (!(await root.catalog!.getEnvironment(ref))) await root.catalog!.createEnvironment('default', { key: 'staging' }, { actor: 'test' });
  environmentId = (await root.catalog!.getEnvironment(ref))!.id;
  return root.catalog!.environment(ref);
}
runConformanceSuite('dynamodb environment store (default/staging)', {
  async open() {
    scopedTable = freshTable();
    return staging(await DynamoFlagStore.open(url(scopedTable, await dynaliteEndpoint())));
  },
  openSecond: async () => staging(await DynamoFlagStore.open(url(scopedTable, await dynaliteEndpoint()))),
  async corrupt(key: string) {
    const client = await admin();
    await client.send(
      new UpdateCommand({
        TableName: scopedTable,
        Key: { pk: `e#${environmentId}#flag`, sk: key },
        UpdateExpression: 'SET body = :body',
        ExpressionAttributeValues: { ':body': '{"variations": 42}' },
      }),
    );
    client.destroy();
  },
  async cleanup() {
    for (const root of roots.splice(0)) await root.close();
  },
});
