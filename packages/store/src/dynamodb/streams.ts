import { setTimeout as sleep } from 'node:timers/promises';
import {
  DescribeStreamCommand,
  DynamoDBStreamsClient,
  GetRecordsCommand,
  GetShardIteratorCommand,
  type Shard,
} from '@aws-sdk/client-dynamodb-streams';

/**
 * The change feed's fast path: DynamoDB Streams, read only as a wake-up call. A stream record says "an item of this
 * partition changed"; the watchers then read the change log as they always do, which alone gives revisions in order,
 * with no gap and rolled forward. So nothing depends on the stream's own ordering across shards, its 24-hour
 * retention or a record lost in a shard roll-over: the worst a stream fault costs is latency, while polling (at its
 * normal interval whenever the stream is not healthy) carries on.
 */

/** Where a stream record's keys send the wake-up. */
export interface StreamWakeups {
  /** An item of partition `pk` changed (any process wrote it). */
  changed(pk: string, sk: string): void;
  /** The reader became healthy (records flow; changes may have been missed before: catch up) or not (poll). */
  health(healthy: boolean): void;
  report(error: Error): void;
}

export interface StreamReaderOptions {
  /** Pause between reads of a shard that had nothing new. DynamoDB serves about 5 reads a second per shard, shared by every reader. */
  idleMs?: number;
  /** How often the shard list is read again, besides whenever a shard closes. */
  describeEveryMs?: number;
}

/** Errors that say these credentials may not read streams: named in the message, with the permission. */
const PERMISSIONS = 'dynamodb:DescribeStream, dynamodb:GetShardIterator and dynamodb:GetRecords';

function errorName(error: unknown): string {
  return (error as { name?: string } | undefined)?.name ?? '';
}

/**
 * Checks that the stream can be read with these credentials and this endpoint. Rejects with a message that names
 * what is missing (the permission, or an endpoint without the Streams API, such as dynalite).
 */
export async function probeStream(client: DynamoDBStreamsClient, streamArn: string): Promise<void> {
  try {
    await client.send(new DescribeStreamCommand({ StreamArn: streamArn, Limit: 1 }));
  } catch (error) {
    const name = errorName(error);
    if (name === 'AccessDeniedException') throw new Error(`cannot read the table's stream: the credentials lack ${PERMISSIONS}`, { cause: error });
    if (name === 'UnknownOperationException') throw new Error('the endpoint does not serve the DynamoDB Streams API', { cause: error });
    throw new Error(`cannot read the table's stream ${streamArn}: ${(error as Error).message}`, { cause: error });
  }
}

/**
 * Reads every open shard of one stream from "now" (`LATEST`), and the children of a shard that closes from their
 * start (`TRIM_HORIZON`), so no record written while this reader runs is skipped.
 */
export class StreamReader {
  readonly #client: DynamoDBStreamsClient;
  readonly #arn: string;
  readonly #wake: StreamWakeups;
  readonly #idleMs: number;
  readonly #describeEveryMs: number;
  /** Open shards being read, by id: the iterator of their next read. */
  readonly #iterators = new Map<string, string>();
  /** Every shard id met, read or not: a shard is never read twice. */
  readonly #seen = new Set<string>();
  #stopped = false;
  #healthy = false;
  #stop: AbortController = new AbortController();

  constructor(client: DynamoDBStreamsClient, streamArn: string, wake: StreamWakeups, options: StreamReaderOptions = {}) {
    this.#client = client;
    this.#arn = streamArn;
    this.#wake = wake;
    this.#idleMs = options.idleMs ?? 500;
    this.#describeEveryMs = options.describeEveryMs ?? 60_000;
  }

  get healthy(): boolean {
    return this.#healthy;
  }

  start(): void {
    void this.#run();
  }

  stop(): void {
    this.#stopped = true;
    this.#stop.abort();
    this.#setHealth(false);
  }

  #setHealth(healthy: boolean): void {
    if (healthy === this.#healthy) return;
    this.#healthy = healthy;
    if (!this.#stopped || !healthy) this.#wake.health(healthy);
  }

  async #pause(ms: number): Promise<void> {
    await sleep(ms, undefined, { signal: this.#stop.signal, ref: false }).catch(() => undefined);
  }

  /** Every shard of the stream (the list comes in pages). */
  async #shards(): Promise<Shard[]> {
    const shards: Shard[] = [];
    let start: string | undefined;
    do {
      const page = await this.#client.send(new DescribeStreamCommand({ StreamArn: this.#arn, ...(start ? { ExclusiveStartShardId: start } : {}) }), {
        abortSignal: this.#stop.signal,
      });
      const description = page.StreamDescription;
      if (description?.StreamStatus === 'DISABLED' || description?.StreamStatus === 'DISABLING')
        throw new Error(`the table's stream ${this.#arn} is ${description.StreamStatus.toLowerCase()}`);
      shards.push(...(description?.Shards ?? []));
      start = description?.LastEvaluatedShardId;
    } while (start);
    return shards;
  }

  /** Starts reading the shards not met yet: open ones from now at the first listing, any later one from its start. */
  async #discover(first: boolean): Promise<void> {
    for (const shard of await this.#shards()) {
      const id = shard.ShardId;
      if (!id || this.#seen.has(id)) continue;
      this.#seen.add(id);
      const open = shard.SequenceNumberRange?.EndingSequenceNumber === undefined;
      // A shard already closed at start holds only records from before this reader: nothing to wake for.
      if (first && !open) continue;
      const { ShardIterator } = await this.#client.send(
        new GetShardIteratorCommand({ StreamArn: this.#arn, ShardId: id, ShardIteratorType: first ? 'LATEST' : 'TRIM_HORIZON' }),
        { abortSignal: this.#stop.signal },
      );
      if (ShardIterator) this.#iterators.set(id, ShardIterator);
    }
  }

  async #run(): Promise<void> {
    let failures = 0;
    let described = 0;
    let first = true;
    while (!this.#stopped) {
      try {
        if (first || Date.now() - described >= this.#describeEveryMs) {
          await this.#discover(first);
          first = false;
          described = Date.now();
        }
        let records = 0;
        let closed = false;
        for (const [id, iterator] of [...this.#iterators]) {
          const page = await this.#client.send(new GetRecordsCommand({ ShardIterator: iterator, Limit: 1000 }), { abortSignal: this.#stop.signal });
          for (const record of page.Records ?? []) {
            const keys = record.dynamodb?.Keys;
            const pk = keys?.pk?.S;
            if (pk !== undefined) this.#wake.changed(pk, keys?.sk?.S ?? '');
            records++;
          }
          if (page.NextShardIterator) this.#iterators.set(id, page.NextShardIterator);
          else {
            // The shard closed (DynamoDB rolls shards over every few hours): its children carry on.
            this.#iterators.delete(id);
            closed = true;
          }
        }
        if (closed) described = 0;
        failures = 0;
        this.#setHealth(true);
        if (records === 0 && !closed) await this.#pause(this.#idleMs);
      } catch (error) {
        if (this.#stopped) return;
        this.#setHealth(false);
        const name = errorName(error);
        // An iterator that expired or points at trimmed data: start the shards again from now (the watchers catch
        // up from the change log once records flow again).
        if (name === 'ExpiredIteratorException' || name === 'TrimmedDataAccessException' || name === 'ResourceNotFoundException') {
          this.#iterators.clear();
          this.#seen.clear();
          first = true;
        }
        // Too many readers on the shard (DynamoDB advises at most two per shard) or any other fault: back off, up to
        // 30 s, while the watchers poll.
        failures++;
        if (failures === 1 || failures % 20 === 0) this.#wake.report(error instanceof Error ? error : new Error(String(error)));
        await this.#pause(Math.min(30_000, 500 * 2 ** Math.min(failures, 6)));
      }
    }
  }
}

export { DynamoDBStreamsClient };
