// host:port addresses to listen on.

export interface ListenAddress {
  host: string;
  port: number;
}

const IPV4 = /^(25[0-5]|2[0-4][0-9]|1?[0-9]?[0-9])(\.(25[0-5]|2[0-4][0-9]|1?[0-9]?[0-9])){3}$/;
const HOSTNAME = /^(?=.{1,253}$)[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$/;
const IPV6 = /^[0-9A-Fa-f:.]+(%[A-Za-z0-9_.-]+)?$/;

/**
 * "host:port", "[ipv6]:port": an IPv4 address, a bracketed IPv6 address or a host name, and a port
 * 0-65535 (0 picks a free one). null when it is not one of those.
 */
export function parseListenAddress(address: string): ListenAddress | null {
  const m = /^(?:\[([^\]]+)\]|([^:[\]]+)):([0-9]{1,5})$/.exec(address);
  if (!m) return null;
  const port = Number(m[3]);
  if (port > 65535) return null;
  if (m[1] !== undefined) return IPV6.test(m[1]) && m[1].includes(":") ? { host: m[1], port } : null;
  const host = m[2]!;
  if (IPV4.test(host) || (HOSTNAME.test(host) && !/^[0-9.]+$/.test(host))) return { host, port };
  return null;
}

/** True for 127.0.0.0/8, ::1 and localhost: reachable from this node only. */
export function isLoopback(host: string): boolean {
  return host === "localhost" || host === "::1" || (IPV4.test(host) && host.startsWith("127."));
}
