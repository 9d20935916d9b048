// Starts dynalite (an implementation of DynamoDB's API, in memory) in this process, on a free port, once per test
// file, with dummy AWS credentials: every DynamoDB test talks to it, never to AWS.
import { createConnection, createServer as createTcpServer, type AddressInfo, type Socket } from 'node:net';
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

/**
 * A TCP relay in front of dynalite whose open connections can be cut, as a network failure or a load balancer would:
 * the conformance suites' reconnection case runs through it. One per test file, closed with `stopDynaliteRelay`.
 */
const relaySockets = new Set<Socket>();
let relayEndpoint: Promise<string> | undefined;
const relayServer = createTcpServer((client) => {
  void dynaliteEndpoint().then((endpoint) => {
    const upstream = createConnection(Number(new URL(endpoint).port), '127.0.0.1');
    for (const socket of [client, upstream]) {
      relaySockets.add(socket);
      socket.on('close', () => relaySockets.delete(socket));
      socket.on('error', () => undefined);
    }
    client.pipe(upstream).pipe(client);
    client.on('close', () => upstream.destroy());
    upstream.on('close', () => client.destroy());
  });
});

export function dynaliteRelay(): Promise<string> {
  relayEndpoint ??= new Promise((resolve) =>
    relayServer.listen(0, '127.0.0.1', () => resolve(`http://127.0.0.1:${(relayServer.address() as AddressInfo).port}`)),
  );
  return relayEndpoint;
}

/** Cuts every connection through the relay. */
export function cutDynaliteRelay(): void {
  for (const socket of [...relaySockets]) socket.destroy();
}

export async function stopDynaliteRelay(): Promise<void> {
  cutDynaliteRelay();
  if (relayEndpoint) await new Promise((resolve) => relayServer.close(resolve));
  relayEndpoint = undefined;
}
