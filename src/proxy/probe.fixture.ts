// A tiny network probe run inside test network namespaces (`ip netns exec NS node
// probe.fixture.ts ...`):
//   serve PORT IP...              TCP servers on IP:PORT answering "<local> <remote>\n"
//                                 and UDP servers answering the same; prints "ready"
//   connect IP PORT COUNT [MS]    COUNT sequential TCP connections; prints JSON
//                                 { replies: { "<local> <remote>": n }, errors: { CODE: n }, ms: [...] }

import net from 'node:net';
import dgram from 'node:dgram';

const [mode, ...args] = process.argv.slice(2);

if (mode === 'serve') {
  const port = Number(args[0]);
  const ips = args.slice(1);
  let pending = ips.length * 2;
  const up = () => {
    if (--pending === 0) process.stdout.write('ready\n');
  };
  for (const ip of ips) {
    net
      .createServer((c) => {
        c.on('error', () => {});
        c.end(`${ip} ${c.remoteAddress}\n`);
      })
      .listen(port, ip, up);
    const u = dgram.createSocket(ip.includes(':') ? 'udp6' : 'udp4');
    u.on('message', (_m, r) => u.send(`${ip} ${r.address}\n`, r.port, r.address));
    u.bind(port, ip, up);
  }
} else if (mode === 'connect') {
  const [ip, portS, countS, timeoutS] = args;
  const timeoutMs = Number(timeoutS ?? 2000);
  const replies: Record<string, number> = {};
  const errors: Record<string, number> = {};
  const ms: number[] = [];
  const once = () =>
    new Promise<void>((resolve) => {
      const t0 = performance.now();
      const c = net.connect({ host: ip, port: Number(portS) });
      let data = '';
      const timer = setTimeout(() => {
        errors.TIMEOUT = (errors.TIMEOUT ?? 0) + 1;
        c.destroy();
        resolve();
      }, timeoutMs);
      c.on('data', (d) => (data += d));
      c.on('end', () => {
        clearTimeout(timer);
        const k = data.trim();
        replies[k] = (replies[k] ?? 0) + 1;
        ms.push(performance.now() - t0);
        resolve();
      });
      c.on('error', (e: NodeJS.ErrnoException) => {
        clearTimeout(timer);
        errors[e.code ?? 'ERROR'] = (errors[e.code ?? 'ERROR'] ?? 0) + 1;
        ms.push(performance.now() - t0);
        resolve();
      });
    });
  for (let i = 0; i < Number(countS); i++) await once();
  process.stdout.write(JSON.stringify({ replies, errors, ms }) + '\n');
} else {
  process.stderr.write('usage: probe.fixture.ts serve PORT IP... | connect IP PORT COUNT [TIMEOUT_MS]\n');
  process.exit(2);
}
