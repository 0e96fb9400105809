#!/usr/bin/env node
// The reference Socket.IO 0.6 server, for differential tests.
//   node server.js --mode echo|chat|broadcast --port 8080 [--policy-port 10843] [--log]
//                  [--transport-options '{"xhr-polling":{"duration":300}}']
// echo: every message goes back to its sender unchanged.
// chat: the original demo's behaviour (buffer of the last 15 messages, announcements,
//       each message broadcast to every other client as {message: [sessionId, text]}).
// broadcast: every message goes to every other client unchanged.
require('./shim');
const http = require('http');
const io = require('socket.io');

const arg = (name, fallback) => {
  const i = process.argv.indexOf('--' + name);
  return i > 0 ? process.argv[i + 1] : fallback;
};
const mode = arg('mode', 'echo');
const port = Number(arg('port', process.env.PORT || 8080));
const policyPort = arg('policy-port', null);
const log = process.argv.includes('--log') ? console.log : () => {};
// Per-transport session options (duration, closeTimeout, heartbeatInterval, timeout), as JSON.
const transportOptions = JSON.parse(arg('transport-options', '{}'));

const server = http.createServer((req, res) => {
  res.writeHead(200, { 'Content-Type': 'text/html' });
  res.end('<h1>Hello world</h1>');
});
server.listen(port, '127.0.0.1');

// The reference binds its Flash policy server to port 843 only; it is off unless asked for.
const listener = io.listen(server, { flashPolicyServer: false, log, transportOptions });
if (policyPort) {
  require('net').createServer((s) => {
    s.on('error', () => s.destroy());
    s.end('<?xml version="1.0"?>\n<!DOCTYPE cross-domain-policy SYSTEM "http://www.macromedia.com/xml/dtds/cross-domain-policy.dtd">\n<cross-domain-policy>\n<allow-access-from domain="*" to-ports="*"/>\n</cross-domain-policy>\n');
  }).listen(Number(policyPort), '127.0.0.1');
}

const buffer = [];
listener.on('connection', (client) => {
  if (mode === 'chat') {
    client.send({ buffer });
    client.broadcast({ announcement: client.sessionId + ' connected' });
  }
  client.on('message', (message) => {
    if (mode === 'echo') return client.send(message);
    if (mode === 'broadcast') return client.broadcast(message);
    const msg = { message: [client.sessionId, message] };
    buffer.push(msg);
    if (buffer.length > 15) buffer.shift();
    client.broadcast(msg);
  });
  client.on('disconnect', () => {
    if (mode === 'chat') client.broadcast({ announcement: client.sessionId + ' disconnected' });
  });
});
