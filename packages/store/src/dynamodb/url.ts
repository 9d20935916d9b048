export interface ParsedDynamoUrl {
  table: string;
  region: string | undefined;
  endpoint: string | undefined;
  /** The `poll` parameter (ms between change-feed polls), when given. */
  pollIntervalMs: number | undefined;
  /** The `feed` parameter: `auto`, `streams` or `poll` (see `DynamoStoreOptions.changeFeed`). */
  changeFeed: 'auto' | 'streams' | 'poll' | undefined;
}

/**
 * `dynamodb://TABLE?region=eu-west-1&endpoint=http://127.0.0.1:8000&poll=1000&feed=auto`. Credentials never go in the URL:
 * they come from the usual AWS chain (environment, profile, instance or function role).
 */
export function parseDynamoUrl(url: string): ParsedDynamoUrl {
  const match = /^dynamodb:\/\/([^/?#]*)\/?(?:\?([^#]*))?$/i.exec(url.trim());
  if (!match) throw new Error(`not a DynamoDB store URL (expected dynamodb://TABLE?region=…): ${JSON.stringify(url)}`);
  const table = decodeURIComponent(match[1]!);
  // DynamoDB's own rule for table names.
  if (!/^[A-Za-z0-9_.-]{3,255}$/.test(table)) {
    throw new Error(`the DynamoDB table name in ${JSON.stringify(url)} must be 3-255 letters, digits, "_", "-" or ".", not ${JSON.stringify(table)}`);
  }
  const params = new URLSearchParams(match[2] ?? '');
  const poll = params.get('poll');
  if (poll !== null && !/^\d+$/.test(poll)) throw new Error(`the poll parameter in ${JSON.stringify(url)} must be a number of milliseconds, not ${JSON.stringify(poll)}`);
  const feed = params.get('feed');
  if (feed !== null && feed !== 'auto' && feed !== 'streams' && feed !== 'poll')
    throw new Error(`the feed parameter in ${JSON.stringify(url)} must be auto, streams or poll, not ${JSON.stringify(feed)}`);
  return {
    table,
    changeFeed: feed ?? undefined,
    region: params.get('region') ?? undefined,
    endpoint: params.get('endpoint') ?? undefined,
    pollIntervalMs: poll === null ? undefined : Number(poll),
  };
}
