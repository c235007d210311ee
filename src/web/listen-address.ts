/** A `host:port` listen address; port 0 picks a free port. Hosts default to loopback. */
export interface ListenAddress {
  host: string;
  port: number;
}

export function parseListenAddress(text: string, flag: string): ListenAddress {
  const match = /^(?:\[([^\]]+)\]|([^:]*)):(\d{1,5})$/.exec(text);
  const port = Number(match?.[3]);
  if (!match || port > 65535) throw new Error(`${flag} '${text}' is not a host:port address (e.g. 127.0.0.1:9090, :0)`);
  return { host: match[1] ?? (match[2] || '127.0.0.1'), port };
}

/** `http://host:port` for a bound server, bracketing IPv6 hosts. */
export function httpUrl(host: string, port: number): string {
  return `http://${host.includes(':') ? `[${host}]` : host}:${port}`;
}
