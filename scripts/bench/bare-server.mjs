// The ingress benchmark's baseline in a process of its own: a bare node:http server that reads the body and answers
// 200. Prints { port } once listening; runs until stopped.
import { createServer } from 'node:http';

const server = createServer((req, res) => {
  req.resume();
  req.on('end', () => res.writeHead(200).end('{"received":true}'));
}).listen(0, '127.0.0.1', () => process.stdout.write(JSON.stringify({ port: server.address().port }) + '\n'));
process.on('SIGTERM', () => server.close(() => process.exit(0)));
