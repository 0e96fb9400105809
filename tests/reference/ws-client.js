#!/usr/bin/env node
// An RFC 6455 client this project did not write (the `ws` package), for the interop test.
//   node ws-client.js <port> [ca.pem]
// With a CA certificate it speaks wss and trusts that certificate only.
// Prints one JSON line per thing that happened, then exits 0; any failure exits 1.
const WebSocket = require('ws');

const port = process.argv[2];
const ca = process.argv[3] && require('fs').readFileSync(process.argv[3]);
const log = (obj) => console.log(JSON.stringify(obj));
const frame = (s) => '~m~' + s.length + '~m~' + s;
const fail = (why) => { log({ error: why }); process.exit(1); };
setTimeout(() => fail('timed out'), 10000).unref();

const url = `${ca ? 'wss' : 'ws'}://127.0.0.1:${port}/socket.io/websocket`;
const ws = new WebSocket(url, ca ? { ca } : {});
let step = 0;
ws.on('message', (data, isBinary) => {
  const text = data.toString('utf8');
  log({ message: text, binary: isBinary });
  if (step === 0) {
    step = 1;
    // Text with an emoji (two UTF-16 units) and JSON, in one payload.
    ws.send(frame('héllo 😀') + frame('~j~{"a":[1,2]}'));
  } else if (step === 1) {
    step = 2;
  } else if (step === 2) {
    step = 3;
    ws.ping('are you there');
  }
});
ws.on('pong', (data) => {
  log({ pong: data.toString('utf8') });
  ws.close(1000, 'bye');
});
ws.on('close', (code, reason) => {
  log({ close: code, reason: reason.toString('utf8') });
  process.exit(0);
});
ws.on('error', (e) => fail(String(e)));
