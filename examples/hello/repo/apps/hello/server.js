// A tiny HTTP app: Kedge's bundled example. Change GREETING in deploy/ or this file, commit, and watch Kedge follow.
import { createServer } from 'node:http';

const greeting = process.env.GREETING ?? 'hello';
const port = Number(process.env.PORT ?? 8080);

createServer((req, res) => {
  if (req.url === '/healthz') return res.writeHead(200).end('ok');
  res.writeHead(200, { 'content-type': 'text/plain' }).end(`${greeting} from kedge\n`);
}).listen(port, '127.0.0.1');
