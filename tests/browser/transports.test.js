'use strict';

// Our browser client against the echo server, one transport at a time.

const assert = require('node:assert/strict');
const { describe, it, before, after } = require('node:test');
const {
  ExampleServer,
  launchBrowser,
  newContext,
  openTestPage,
  waitForEvent,
  waitForMessages,
  openSocket,
  send,
  sleep,
  startHttpOnlyProxy,
  withEchoPage,
} = require('./support');

const TRANSPORTS = ['websocket', 'xhr-polling', 'jsonp-polling', 'htmlfile', 'xhr-multipart'];
const STREAMS = ['websocket', 'htmlfile', 'xhr-multipart'];
const ADAPTERS = ['smol', 'std', 'hyper'];
const TEXT = 'plain text, with "quotes", ~m~ and ~j~ inside';
const EMOJI = 'héllo wörld 😀👋🏽 — ∑ 中文';
const OBJECT = { text: 'ünïcode 🎉', n: 42, f: 1.5, list: [1, 'two', null, true], nested: { a: { b: [] } } };
// Harder cases: line breaks (a form post would turn \n into \r\n), markup that must not
// break out of the htmlfile stream's script element, form-encoding characters, an empty
// message, and a message longer than 65535 bytes (a 64-bit WebSocket length).
const AWKWARD = [
  'line one\nline two\r\nline three\rend',
  '</script><script>window.injected = true</script><!--',
  'a+b&c=d%20e% \u2028 \u2029',
  '',
  `${'long '.repeat(14000)}😀`,
];

let browser;
before(async () => {
  browser = await launchBrowser();
});
after(async () => {
  if (browser) await browser.close();
});

const withEcho = (t, body, adapter = 'smol') => withEchoPage(browser, t, body, { adapter });

/** Requests the page makes to the socket.io resource, as [time, method, url]. */
function recordSocketRequests(page) {
  const seen = [];
  page.on('request', (req) => {
    if (req.url().includes('/socket.io/') && !req.url().endsWith('/socket.io.js')) {
      seen.push([Date.now(), req.method(), req.url()]);
    }
  });
  page.on('websocket', (ws) => seen.push([Date.now(), 'WS', ws.url()]));
  return seen;
}

// Each test has its own server and browser context, so they can run side by side.
describe('our client', { concurrency: 4 }, () => {
  for (const adapter of ADAPTERS) {
    for (const transport of TRANSPORTS) {
      describe(`over ${transport} (${adapter} adapter)`, { concurrency: true }, () => {
        it('connects, exchanges text, JSON and emoji with the echo server, disconnects', { timeout: 45000 }, (t) =>
          withEcho(t, async (server, page) => {
            const requests = recordSocketRequests(page);
            await openSocket(page, 'a', null, { transports: [transport], rememberTransport: false });
            await waitForEvent(page, 'a', 'connect');

            // The first message of the session was its id, which is what made it connect.
            const state = await page.evaluate(() => {
              const s = window.H.sockets.a.socket;
              return { type: s.transport.type, sessionid: s.transport.sessionid, events: window.H.sockets.a.events };
            });
            assert.equal(state.type, transport);
            assert.match(state.sessionid, /^[0-9a-f]{36}$/, 'the session id is the first message');
            assert.deepEqual(state.events, [['connecting', transport], ['connect']]);
            assert.ok(server.log.includes(`session ${state.sessionid} connected`), 'the server logged the session');

            await send(page, 'a', TEXT);
            await send(page, 'a', OBJECT);
            await send(page, 'a', EMOJI);
            const messages = await waitForMessages(page, 'a', 3);
            assert.deepEqual(messages, [TEXT, OBJECT, EMOJI]);

            // A burst goes out batched where the transport batches; order must hold.
            const burst = Array.from({ length: 20 }, (_, i) => `burst ${i} ✓`);
            await page.evaluate((list) => list.forEach((m) => window.H.sockets.a.socket.send(m)), burst);
            const all = await waitForMessages(page, 'a', 3 + burst.length);
            assert.deepEqual(all.slice(3), burst);

            assert.deepEqual(await page.evaluate(() => window.H.sockets.a.errors), []);

            await page.evaluate(() => window.H.sockets.a.socket.disconnect());
            await waitForEvent(page, 'a', 'disconnect');
            const after = Date.now();
            await sleep(1500);
            const state2 = await page.evaluate(() => ({
              connected: window.H.sockets.a.socket.connected,
              events: window.H.sockets.a.events.map((e) => e[0]),
            }));
            assert.equal(state2.connected, false);
            const expected = ['connecting', 'connect', 'disconnect'];
            assert.deepEqual(state2.events, expected, 'no reconnection after disconnect()');
            const late = requests.filter(([time]) => time > after);
            assert.deepEqual(late, [], 'no requests after disconnect()');
            // Over a socket or a stream the server sees the connection go at once; the polling
            // transports leave it to the server's close timeout, as the protocol has it.
            if (STREAMS.includes(transport)) {
              assert.ok(
                server.log.includes(`session ${state.sessionid} disconnected`),
                'the server noticed the disconnection'
              );
            }
            assert.deepEqual(page.pageErrors, []);
          }, adapter)
        );

        it('reconnects after the server restarts, with a new session', { timeout: 45000 }, (t) =>
          withEcho(t, async (server, page) => {
            await openSocket(page, 'a', null, { transports: [transport], rememberTransport: false });
            await waitForEvent(page, 'a', 'connect');
            const first = await page.evaluate(() => window.H.sockets.a.socket.transport.sessionid);
            await send(page, 'a', 'before the restart');
            await waitForMessages(page, 'a', 1);

            await server.stop();
            // htmlfile cannot see the stream break (Chromium fires no load event on the
            // iframe), so it finds out from the 15 s data timeout.
            await waitForEvent(page, 'a', 'disconnect', 1, 20000);
            await server.start();
            await waitForEvent(page, 'a', 'reconnect', 1, 15000);

            const state = await page.evaluate(() => {
              const rec = window.H.sockets.a;
              return {
                type: rec.socket.transport.type,
                sessionid: rec.socket.transport.sessionid,
                reconnect: rec.events.find((e) => e[0] === 'reconnect'),
              };
            });
            assert.equal(state.type, transport);
            assert.equal(state.reconnect[1], transport, 'reconnect names the transport');
            assert.match(state.sessionid, /^[0-9a-f]{36}$/);
            assert.notEqual(state.sessionid, first, 'a reconnection is a new session');

            await send(page, 'a', 'after the restart 😀');
            await send(page, 'a', { again: true });
            const messages = await waitForMessages(page, 'a', 3);
            assert.deepEqual(messages, ['before the restart', 'after the restart 😀', { again: true }]);
          }, adapter)
        );
      });
    }
  }

  describe('heartbeats', () => {
    it('keep websocket, htmlfile and xhr-multipart connected past the 15 s data timeout', { timeout: 45000 }, (t) =>
      withEcho(t, async (server, page) => {
        const frames = [];
        page.on('websocket', (ws) => {
          ws.on('framereceived', (f) => frames.push(['in', f.payload]));
          ws.on('framesent', (f) => frames.push(['out', f.payload]));
        });
        for (const transport of STREAMS) {
          await openSocket(page, transport, null, { transports: [transport], rememberTransport: false });
        }
        for (const transport of STREAMS) await waitForEvent(page, transport, 'connect');
        // The server sends a heartbeat every 10 s; a stream that heard nothing for 15 s
        // would count as dead.
        await sleep(17000);
        for (const transport of STREAMS) {
          const events = await page.evaluate((n) => window.H.sockets[n].events.map((e) => e[0]), transport);
          assert.deepEqual(events, ['connecting', 'connect'], `${transport} stayed connected`);
          await send(page, transport, `${transport} still here`);
          assert.deepEqual(await waitForMessages(page, transport, 1), [`${transport} still here`]);
        }
        // Over the WebSocket the heartbeat and its echo can be seen.
        const beat = frames.find(([dir, p]) => dir === 'in' && /^~m~\d+~m~~h~\d+$/.test(p));
        assert.ok(beat, `a heartbeat arrived: ${JSON.stringify(frames)}`);
        assert.ok(frames.some(([dir, p]) => dir === 'out' && p === beat[1]), 'and was echoed');
        assert.ok(!/disconnected/.test(server.log), 'the server kept every session');
      })
    );
  });

  describe('fallback', () => {
    it('moves on to the next usable transport when the WebSocket is refused', { timeout: 30000 }, async (t) => {
      const server = new ExampleServer('echo');
      t.after(() => server.stop());
      await server.start();
      // The page and its socket talk to a proxy that passes HTTP on to the server but
      // closes every upgrade request unanswered.
      const proxy = await startHttpOnlyProxy(server.port);
      t.after(() => proxy.close());
      const context = await newContext(browser);
      t.after(() => context.close());
      const page = await openTestPage(context, proxy.origin, { title: t.name });
      await openSocket(page, 'a', null, { rememberTransport: false });
      await waitForEvent(page, 'a', 'connect');
      const events = await page.evaluate(() => window.H.sockets.a.events);
      // flashsocket is unavailable, so htmlfile is next in the default order.
      assert.deepEqual(events, [['connecting', 'websocket'], ['connecting', 'htmlfile'], ['connect']]);
      assert.ok(proxy.refused >= 1, 'the WebSocket was tried');
      await send(page, 'a', 'over the fallback');
      assert.deepEqual(await waitForMessages(page, 'a', 1), ['over the fallback']);
    });
  });

  describe('flashsocket', () => {
    it('reports itself unavailable and is skipped in fallback', { timeout: 30000 }, (t) =>
      withEcho(t, async (server, page) => {
        const requests = recordSocketRequests(page);
        assert.equal(await page.evaluate(() => window.io.transports.flashsocket.check()), false);

        await page.evaluate(() =>
          window.H.open('a', null, { transports: ['flashsocket', 'xhr-polling'], rememberTransport: false })
        );
        await waitForEvent(page, 'a', 'connect');
        const a = await page.evaluate(() => ({
          type: window.H.sockets.a.socket.transport.type,
          events: window.H.sockets.a.events,
        }));
        assert.equal(a.type, 'xhr-polling');
        assert.deepEqual(a.events, [['connecting', 'xhr-polling'], ['connect']], 'flashsocket is never attempted');

        // With nothing else to fall back on, the socket says it cannot connect.
        await page.evaluate(() => window.H.open('b', null, { transports: ['flashsocket'], rememberTransport: false }));
        await waitForEvent(page, 'b', 'connect_failed');
        assert.deepEqual(await page.evaluate(() => window.H.sockets.b.events), [['connect_failed']]);
        assert.deepEqual(
          requests.filter(([, , url]) => url.includes('/flashsocket')),
          [],
          'nothing was requested from the flashsocket endpoint'
        );
      })
    );
  });

  describe('two htmlfile sockets on one page', () => {
    it('both work, each with its own `s`', { timeout: 30000 }, (t) =>
      withEcho(t, async (server, page) => {
        await page.evaluate(() => {
          window.H.open('a', null, { transports: ['htmlfile'], rememberTransport: false });
          window.H.open('b', null, { transports: ['htmlfile'], rememberTransport: false });
        });
        await waitForEvent(page, 'a', 'connect');
        await waitForEvent(page, 'b', 'connect');

        const frames = await page.evaluate(() => {
          const ta = window.H.sockets.a.socket.transport;
          const tb = window.H.sockets.b.socket.transport;
          const sa = ta.container.contentWindow.s;
          const sb = tb.container.contentWindow.s;
          return {
            ids: [ta.sessionid, tb.sessionid],
            bothHaveS: typeof sa._ === 'function' && typeof sb._ === 'function',
            distinct: sa !== sb,
            pageHasS: 's' in window,
          };
        });
        assert.notEqual(frames.ids[0], frames.ids[1], 'two sessions');
        assert.ok(frames.bothHaveS, 'each container has its own callback object');
        assert.ok(frames.distinct);
        assert.equal(frames.pageHasS, false, 'nothing is put on the page window');

        for (let i = 0; i < 3; i++) {
          await send(page, 'a', `to a ${i}`);
          await send(page, 'b', { to: 'b', i });
        }
        const a = await waitForMessages(page, 'a', 3);
        const b = await waitForMessages(page, 'b', 3);
        await sleep(300);
        assert.deepEqual(await page.evaluate(() => window.H.sockets.a.messages), ['to a 0', 'to a 1', 'to a 2']);
        assert.deepEqual(await page.evaluate(() => window.H.sockets.b.messages), [
          { to: 'b', i: 0 },
          { to: 'b', i: 1 },
          { to: 'b', i: 2 },
        ]);
        assert.equal(a.length + b.length, 6);

        // Closing one leaves the other working.
        await page.evaluate(() => window.H.sockets.a.socket.disconnect());
        await send(page, 'b', 'b still works');
        const b2 = await waitForMessages(page, 'b', 4);
        assert.equal(b2[3], 'b still works');
        assert.deepEqual(page.pageErrors, []);
      })
    );
  });
});
