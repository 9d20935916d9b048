import type { IncomingMessage } from 'node:http';
import proxyAddr from '@fastify/proxy-addr';

/**
 * The client's address of a raw request, by the rule Fastify's `request.ip` follows for the same `trustProxy`
 * setting: the socket's peer, or behind trusted proxies the nearest address in `X-Forwarded-For` that no trusted proxy
 * sent. The OFREP fast lane answers before Fastify makes its request object, and counts rate-limit windows under the
 * same (key, address) as the plugin does: both must read the same address.
 */
export function clientAddressOf(trustProxy: boolean | string | string[] | undefined): (req: IncomingMessage) => string {
  if (trustProxy === undefined || trustProxy === false) return (req) => req.socket.remoteAddress ?? '';
  const trust =
    trustProxy === true
      ? () => true
      : proxyAddr.compile(typeof trustProxy === 'string' ? trustProxy.split(',').map((each) => each.trim()) : trustProxy);
  return (req) => {
    const addresses = proxyAddr.all(req, trust);
    return addresses[addresses.length - 1] ?? '';
  };
}

/**
 * The rate limit's window: per key and client address (per address for requests without a key). One browser SDK key
 * is shared by every visitor of a site: counted per key alone, one busy or abusive client would use up the limit of
 * them all, and every visitor would be served defaults.
 */
export function rateLimitKey(principalId: string | undefined, address: string): string {
  return principalId === undefined ? address : `${principalId} ${address}`;
}
