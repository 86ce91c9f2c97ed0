// Starts dynalite, an implementation of the DynamoDB API (in memory), on a free loopback
// port and prints {"url": ...} once it listens. Tables are ACTIVE as soon as created.
// argv: the tools folder.
import { createRequire } from 'node:module';

const require = createRequire(`${process.argv[2]}/node_modules/`);
const dynalite = require('dynalite')({ createTableMs: 0, deleteTableMs: 0, updateTableMs: 0 });
dynalite.listen(0, '127.0.0.1', () => {
  process.stdout.write(JSON.stringify({ url: `http://127.0.0.1:${dynalite.address().port}` }) + '\n');
});
process.stdin.resume();
process.stdin.on('end', () => process.exit(0));
