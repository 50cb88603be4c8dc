// The events benchmark's receiver, in a process of its own: reads each delivery, checks nothing, answers 204.
// Prints { port } once listening; runs until stopped.
import { createServer } from 'node:http';

const server = createServer((req, res) => {
  req.resume();
  req.on('end', () => res.writeHead(204).end());
}).listen(0, '127.0.0.1', () => process.stdout.write(JSON.stringify({ port: server.address().port }) + '\n'));
process.on('SIGTERM', () => server.close(() => process.exit(0)));
