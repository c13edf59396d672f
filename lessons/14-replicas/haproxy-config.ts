// The HAProxy config the lesson generates: one frontend on 127.0.0.1, one backend of replicas.
// The README shows it as generated; a test keeps the two the same.
//
// HAProxy 2.6 (Debian 12's): https://docs.haproxy.org/2.6/configuration.html
export type Balance = 'round-robin' | 'sticky';

export interface Replica {
  name: string;
  port: number;
}

export function haproxyConfig({
  port,
  balance,
  replicas,
  abortOnClose = true,
}: {
  port: number;
  balance: Balance;
  replicas: Replica[];
  /** `option abortonclose`: without it HAProxy keeps a request whose client has gone (see the README). */
  abortOnClose?: boolean;
}): string {
  const sticky = [
    // A 2025-11-25 session lives on the replica that answered its initialize. The replica names
    // the session in the Mcp-Session-Id header of that answer: remember which replica it was,
    // and send every later request carrying that header to the same one.
    '  stick-table type string len 64 size 100k expire 30m',
    '  stick on req.hdr(mcp-session-id)',
    '  stick store-response res.hdr(mcp-session-id)',
  ];
  return [
    'defaults',
    '  mode http',
    '  timeout connect 5s',
    // An MCP call can stream for minutes: the idle timeouts must outlast the longest call.
    '  timeout client 1h',
    '  timeout server 1h',
    ...(abortOnClose
      ? [
          // Pass a client's disconnect on to the replica even before the replica has answered.
          // In 2026-07-28 that disconnect is the cancel.
          '  option abortonclose',
        ]
      : []),
    // A replica that cannot be reached (it died) is replaced by another for the next request.
    '  option redispatch',
    '',
    'frontend mcp',
    `  bind 127.0.0.1:${port}`,
    '  default_backend replicas',
    '',
    'backend replicas',
    '  balance roundrobin',
    ...(balance === 'sticky' ? sticky : []),
    // Every replica is checked (a TCP connect) each second; one that fails a check gets no new
    // requests until it passes one again.
    '  default-server check inter 1s fall 1 rise 1',
    // Which replica answered (%s: the server's name), so a client can see where each request went.
    '  http-response set-header X-Served-By %s',
    ...replicas.map(({ name, port: p }) => `  server ${name} 127.0.0.1:${p}`),
    '',
  ].join('\n');
}
