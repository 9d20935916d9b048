// A function handler in the shape AWS Lambda calls (`export const handler = async (event, context) => response`) that
// reads its flags through the Vexil OpenFeature provider in daemon mode: straight from a DynamoDB table, no Vexil
// server in between. The provider also keeps a snapshot of the flags in the function's writable temporary folder
// (/tmp on Lambda): the next cold start of this execution environment, or of one that kept /tmp, evaluates from it
// at once (reason CACHED) while the table is read.
//
// Environment: VEXIL_STORE (dynamodb://TABLE?region=…&feed=poll: many function instances poll, none reads the stream), VEXIL_SNAPSHOT (default: <tmpdir>/vexil-flags.json);
// AWS credentials and region from the usual chain (on Lambda: the function's role).
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { OpenFeature } from '@openfeature/server-sdk';
import { VexilProvider } from '@vexil/openfeature';

const store = process.env.VEXIL_STORE;
if (!store) throw new Error('set VEXIL_STORE, e.g. dynamodb://vexil-flags?region=eu-west-1&feed=poll');
const snapshotFile = process.env.VEXIL_SNAPSHOT ?? join(tmpdir(), 'vexil-flags.json');

// Started once per execution environment (the cold start), reused by every warm invocation.
const provider = new VexilProvider({ store, snapshotFile, events: false, timeoutMs: 3_000 });
const ready = OpenFeature.setProviderAndWait(provider);
const flags = OpenFeature.getClient();

export const handler = async (event = {}) => {
  await ready;
  const context = { targetingKey: String(event.userId ?? 'anonymous'), plan: String(event.plan ?? 'free') };
  const checkout = await flags.getBooleanDetails('new-checkout', false, context);
  const banner = await flags.getStringValue('banner', 'none', context);
  return {
    statusCode: 200,
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ newCheckout: checkout.value, reason: checkout.reason, banner }),
  };
};

/** For the local runner: lets a process end (Lambda freezes the environment instead). */
export async function shutdown() {
  await OpenFeature.close();
}
