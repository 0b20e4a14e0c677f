// Ping-pong over a bare Node TCP socket on loopback, between two processes:
// the floor for fmi's direct channel (same sizes, same timing as pingpong.mjs).
//   node bench/raw-pingpong.mjs
// The framing and timing are in lib/framer.mjs.
// stdout: one JSON line per size, see bench/README.md.

import { spawn } from 'node:child_process';
import { connect, createServer } from 'node:net';
import { fileURLToPath } from 'node:url';
import { PINGPONG_SIZES, sizesFrom } from './lib/common.mjs';
import { echo, measure } from './lib/framer.mjs';

const sizes = sizesFrom(PINGPONG_SIZES);
const maxBytes = Math.max(...sizes);

if (process.argv[2] === '--echo') {
  // The echo side: send every frame straight back.
  const socket = connect({ host: '127.0.0.1', port: Number(process.argv[3]) });
  echo(socket, maxBytes);
  socket.on('error', () => process.exit(0));
  socket.on('close', () => process.exit(0));
} else {
  await main();
}

async function main() {
  const server = createServer();
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  const child = spawn(process.execPath, [fileURLToPath(import.meta.url), '--echo', String(server.address().port)], {
    stdio: ['ignore', 'ignore', 'inherit'],
    env: process.env,
  });
  const socket = await new Promise((resolve) => server.once('connection', resolve));
  server.close();
  await measure(socket, sizes, 'tcp-loopback');
  socket.end();
  await new Promise((resolve) => child.once('exit', resolve));
}
