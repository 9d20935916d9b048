// Starts dynalite (an implementation of DynamoDB's API, in memory) in this process, on a free port, once per test
// file, with dummy AWS credentials: every DynamoDB test talks to it, never to AWS.
import type { AddressInfo } from 'node:net';
import type { Server } from 'node:http';
import dynalite from 'dynalite';

process.env.AWS_ACCESS_KEY_ID ??= 'vexil-test';
process.env.AWS_SECRET_ACCESS_KEY ??= 'vexil-test';
process.env.AWS_REGION ??= 'eu-west-1';

let server: Promise<{ server: Server; endpoint: string }> | undefined;

/** The endpoint of this file's dynalite, started on first use (tables become active at once). */
export async function dynaliteEndpoint(): Promise<string> {
  server ??= new Promise((resolve, reject) => {
    const instance = dynalite({ createTableMs: 0, deleteTableMs: 0, updateTableMs: 0 }) as Server;
    instance.once('error', reject);
    instance.listen(0, '127.0.0.1', () => {
      const { port } = instance.address() as AddressInfo;
      resolve({ server: instance, endpoint: `http://127.0.0.1:${port}` });
    });
  });
  return (await server).endpoint;
}

export async function stopDynalite(): Promise<void> {
  if (!server) return;
  const { server: instance } = await server;
  server = undefined;
  instance.closeAllConnections?.();
  await new Promise<void>((resolve) => instance.close(() => resolve()));
}
