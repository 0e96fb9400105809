#!/usr/bin/env node
// A hixie-76 WebSocket echo server this project did not write: npm `websocket-driver`'s
// draft-76 server. The oracle for io-core's hixie-76 handshake and framing
// (tests/tests/hixie_oracle.rs feeds both the same bytes and compares the answers).
//   node hixie-echo.js        prints `listening on 127.0.0.1:PORT`
const http = require('http');
const websocket = require('websocket-driver');

const server = http.createServer((req, res) => {
  res.writeHead(400);
  res.end();
});
server.on('upgrade', (request, socket, body) => {
  if (!websocket.isWebSocket(request)) return socket.destroy();
  const driver = websocket.http(request);
  driver.io.write(body);
  socket.pipe(driver.io).pipe(socket);
  driver.messages.on('data', (message) => driver.messages.write(message));
  driver.on('close', () => socket.end());
  driver.on('error', () => socket.destroy());
  socket.on('error', () => {});
  // A client that ends its side without the closing handshake is let go.
  socket.on('end', () => socket.end());
  driver.start();
});
server.listen(0, '127.0.0.1', () => {
  const { address, port } = server.address();
  console.log(`listening on ${address}:${port}`);
});
