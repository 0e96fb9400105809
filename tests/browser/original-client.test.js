'use strict';

// The original Socket.IO 0.6 browser client (from npm socket.io@0.6.18) against our
// server. The page asks the server for /socket.io/socket.io.js as usual; the test answers
// that request with the original file.

const assert = require('node:assert/strict');
const { describe, it, before, after } = require('node:test');
const {
  launchBrowser,
  openSocket,
  waitForEvent,
  waitForMessages,
  send,
  sleep,
  withEchoPage,
} = require('./support');

const TEXT = 'plain text, with "quotes", ~m~ and ~j~ inside';
const EMOJI = 'héllo wörld 😀👋🏽 — ∑ 中文';
const OBJECT = { text: 'ünïcode 🎉', n: 42, list: [1, 'two', null, true], nested: { a: { b: [] } } };

let browser;
before(async () => {
  browser = await launchBrowser();
});
after(async () => {
  if (browser) await browser.close();
});

function withEcho(t, body, adapter) {
  return withEchoPage(browser, t, async (server, page) => {
    // Make sure this is the original client and not ours.
    assert.equal(await page.evaluate(() => typeof window.io.codec), 'undefined', 'the original client is loaded');
    await body(server, page);
  }, { reference: true, adapter });
}

async function exchange(page) {
  await send(page, 'a', TEXT);
  await send(page, 'a', OBJECT);
  await send(page, 'a', EMOJI);
  assert.deepEqual(await waitForMessages(page, 'a', 3), [TEXT, OBJECT, EMOJI]);
}

// io-smol, and io-hyper (where hyper parses each request and answers the upgrades).
for (const adapter of ['smol', 'hyper']) describe(`the original 0.6 client (io-${adapter})`, { concurrency: true }, () => {
  it('connects over websocket at once, with its default transports', { timeout: 30000 }, (t) =>
    withEcho(t, async (server, page) => {
      const started = Date.now();
      await openSocket(page, 'a', null, {});
      await waitForEvent(page, 'a', 'connect', 1, 4000);
      const elapsed = Date.now() - started;
      const state = await page.evaluate(() => ({
        type: window.H.sockets.a.socket.transport.type,
        events: window.H.sockets.a.events,
      }));
      assert.equal(state.type, 'websocket');
      assert.deepEqual(state.events, [['connecting', 'websocket'], ['connect']], 'no fallback');
      assert.ok(elapsed < 2000, `connected in ${elapsed} ms, well before the 5 s connect timeout`);
      assert.match(server.log, /speaks RFC 6455/);
      await exchange(page);
      assert.deepEqual(await page.evaluate(() => window.H.sockets.a.errors), []);
    }, adapter)
  );

  it('stays connected over websocket across heartbeats', { timeout: 40000 }, (t) =>
    withEcho(t, async (server, page) => {
      await openSocket(page, 'a', null, { transports: ['websocket'] });
      await waitForEvent(page, 'a', 'connect');
      // The server sends a heartbeat every 10 s and the client times out after 15 s of
      // silence; staying connected for 17 s needs the heartbeat round trip to work.
      await sleep(17000);
      const events = await page.evaluate(() => window.H.sockets.a.events.map((e) => e[0]));
      assert.deepEqual(events, ['connecting', 'connect']);
      await exchange(page);
    }, adapter)
  );

  for (const transport of ['xhr-polling', 'jsonp-polling']) {
    it(`exchanges messages over ${transport}`, { timeout: 30000 }, (t) =>
      withEcho(t, async (server, page) => {
        await openSocket(page, 'a', null, { transports: [transport] });
        await waitForEvent(page, 'a', 'connect');
        assert.equal(await page.evaluate(() => window.H.sockets.a.socket.transport.type), transport);
        await exchange(page);
        // A burst, batched by the client while a send is in flight.
        const burst = Array.from({ length: 10 }, (_, i) => `burst ${i} ✓`);
        await page.evaluate((list) => list.forEach((m) => window.H.sockets.a.socket.send(m)), burst);
        const all = await waitForMessages(page, 'a', 3 + burst.length);
        assert.deepEqual(all.slice(3), burst);
      }, adapter)
    );
  }
});
