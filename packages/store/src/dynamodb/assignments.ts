// Sticky experiment assignments in a DynamoDB store: one item per flag and unit, in the partition
// `<namespace>assign#<flag>`, written with a conditional put (new, or the kept one expired), so servers racing to
// assign a new unit all read the same answer. DynamoDB has no server clock in conditions: expiry compares the
// writer's clock (`expiresAt`, epoch ms); `ttl` (epoch seconds) lets DynamoDB's TTL, when enabled on the table, delete
// expired items.
import { GetCommand, PutCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import type { AssignmentRequest, AssignmentStore } from '../types.js';
import { assignmentKey, uniqueRequests } from '../util/assignments.js';

export const ASSIGNMENT_PARTITION = 'assign#';

export interface DynamoAssignmentHost {
  table: string;
  db: DynamoDBDocumentClient;
  /** This environment's partition-key prefix ('' for default/default). */
  namespace: string;
  call<T>(run: () => Promise<T>): Promise<T>;
  /** Every item key of a partition. */
  partitionKeys(pk: string): Promise<Array<{ pk: string; sk: string }>>;
  deleteItems(keys: Array<{ pk: string; sk: string }>): Promise<void>;
}

/** Requests sent at once; a bulk evaluation of many sticky flags waits for the slowest batch only. */
const PARALLEL = 16;

export class DynamoAssignmentStore implements AssignmentStore {
  constructor(private readonly host: DynamoAssignmentHost) {}

  #partition(flag: string): string {
    return `${this.host.namespace}${ASSIGNMENT_PARTITION}${flag}`;
  }

  async assign(requests: readonly AssignmentRequest[]): Promise<string[]> {
    if (requests.length === 0) return [];
    const unique = uniqueRequests(requests);
    const answers = new Map<string, string>();
    for (let i = 0; i < unique.length; i += PARALLEL) {
      await Promise.all(unique.slice(i, i + PARALLEL).map(async (request) => answers.set(assignmentKey(request), await this.#assignOne(request))));
    }
    return requests.map((request) => answers.get(assignmentKey(request)) ?? request.variation);
  }

  async #assignOne(request: AssignmentRequest): Promise<string> {
    const { table, db } = this.host;
    const key = { pk: this.#partition(request.flag), sk: request.unit };
    for (let attempt = 0; attempt < 3; attempt++) {
      const now = Date.now();
      const expiresAt = now + Math.max(1, Math.round(request.ttlMs));
      try {
        await this.host.call(() =>
          db.send(
            new PutCommand({
              TableName: table,
              Item: { ...key, variation: request.variation, assignedAt: now, expiresAt, ttl: Math.ceil(expiresAt / 1000) },
              ...(request.replace ? {} : { ConditionExpression: 'attribute_not_exists(pk) OR expiresAt <= :now', ExpressionAttributeValues: { ':now': now } }),
            }),
          ),
        );
        return request.variation;
      } catch (error) {
        if ((error as { name?: string }).name !== 'ConditionalCheckFailedException') throw error;
      }
      const kept = await this.host.call(() => db.send(new GetCommand({ TableName: table, Key: key, ConsistentRead: true })));
      const variation = kept.Item?.variation;
      if (typeof variation === 'string' && Number(kept.Item?.expiresAt) > Date.now()) return variation;
      // Expired (or deleted) between the put and the read: try again.
    }
    return request.variation;
  }

  async clear(flag: string): Promise<number> {
    const keys = await this.host.partitionKeys(this.#partition(flag));
    await this.host.deleteItems(keys);
    return keys.length;
  }
}
