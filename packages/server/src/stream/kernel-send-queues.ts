import { readFile } from 'node:fs/promises';

/**
 * Bytes the kernel still holds for each TCP connection (sent but not acknowledged, or not sent yet), from Linux's
 * `/proc/net/tcp` and `/proc/net/tcp6` (`tx_queue`), keyed by `<local port>:<remote port>`.
 *
 * Why: a stream client that never reads leaves its backlog in the kernel's socket buffer first (several MB per
 * connection), where Node's `writableLength` does not see it; only this counts it. Undefined where there is no such
 * file (other systems: the backlog is then what Node holds only). Two connections with the same ports (from two
 * addresses) keep the smaller count, so that a reading client is never taken for a slow one.
 */
export async function readKernelSendQueues(): Promise<Map<string, number> | undefined> {
  const texts = await Promise.all(['/proc/net/tcp', '/proc/net/tcp6'].map((path) => readFile(path, 'latin1').catch(() => undefined)));
  if (texts.every((text) => text === undefined)) return undefined;
  const queues = new Map<string, number>();
  for (const text of texts) {
    if (text === undefined) continue;
    let start = text.indexOf('\n') + 1;
    while (start > 0 && start < text.length) {
      const end = text.indexOf('\n', start);
      const line = text.slice(start, end === -1 ? text.length : end);
      start = end === -1 ? 0 : end + 1;
      // "  12: 0100007F:89A9 0100007F:E32E 01 001D549B:00000000 …": local, remote, state, tx_queue:rx_queue.
      const fields = line.trim().split(/\s+/);
      if (fields.length < 5 || fields[3] !== '01') continue; // ESTABLISHED only
      const local = fields[1]!;
      const remote = fields[2]!;
      const key = `${parseInt(local.slice(local.lastIndexOf(':') + 1), 16)}:${parseInt(remote.slice(remote.lastIndexOf(':') + 1), 16)}`;
      const queued = parseInt(fields[4]!.slice(0, fields[4]!.indexOf(':')), 16);
      if (!Number.isFinite(queued)) continue;
      const known = queues.get(key);
      queues.set(key, known === undefined ? queued : Math.min(known, queued));
    }
  }
  return queues;
}
