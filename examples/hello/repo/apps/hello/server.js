// A tiny HTTP app: Kedge's bundled example. Kedge gives each replica its own $PORT.
import { createServer } from 'node:http';

const greeting = process.env.GREETING ?? 'hello';
const port = Number(process.env.PORT ?? 8080);

const server = createServer((req, res) => {
  if (req.url === '/healthz') return res.writeHead(200).end('ok');
  res.writeHead(200, { 'content-type': 'text/plain' }).end(`${greeting} from kedge (pid ${process.pid})\n`);
}).listen(port, '127.0.0.1');

process.on('SIGTERM', () => server.close(() => process.exit(0)));
