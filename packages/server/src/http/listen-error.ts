/**
 * Why the server could not listen, in words a user can act on: which host and port, and which option changes it.
 * Node's own message is a bare `listen EADDRINUSE: address already in use 127.0.0.1:1031`.
 */
export function explainListenError(error: unknown, host: string, port: number): Error {
  const code = (error as NodeJS.ErrnoException | undefined)?.code;
  const where = `port ${port} on ${host.includes(':') ? `[${host}]` : host}`;
  let message: string | undefined;
  if (code === 'EADDRINUSE') {
    message = `${where} is already in use (EADDRINUSE): another process listens there, perhaps another vexil serve. Stop it, or choose another port: --port ${port === 65535 ? port - 1 : port + 1} (or --port 0 for any free port; env VEXIL_PORT)`;
  } else if (code === 'EACCES') {
    message = `${where} needs privileges this process lacks (EACCES): choose a port above 1023, e.g. --port 1031 (env VEXIL_PORT)`;
  } else if (code === 'EADDRNOTAVAIL') {
    message = `cannot listen on ${where}: ${host} is not an address of this machine (EADDRNOTAVAIL): use --host 127.0.0.1, or 0.0.0.0 for every interface (env VEXIL_HOST)`;
  }
  if (message === undefined) return error instanceof Error ? error : new Error(String(error));
  return Object.assign(new Error(message, { cause: error }), { code });
}
