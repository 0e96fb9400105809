'use strict';

// A server that refuses sessions without a token cookie (the echo server with
// `--require-cookie token=good`): our client reports `connect_failed` with the server's
// reason and does not try again; with the cookie it connects; the original 0.6 client
// only sees a connection that fails.

const assert = require('node:assert/strict');
const { it, before, after } = require('node:test');
const { launchBrowser, openSocket, waitForEvent, waitForMessages, send, sleep, withEchoPage } = require('./support');

let browser;
before(async () => {
  browser = await launchBrowser();
});
after(async () => {
  if (browser) await browser.close();
});

const GUARDED = { args: ['--require-cookie', 'token=good'] };
const REASON = 'refused by the application: no valid token cookie';

/** Counts the page's handshake requests (new sessions) from now on. */
function countHandshakes(page) {
  const seen = { n: 0 };
  const isHandshake = (url) => /\/socket\.io\/[a-z-]+(\/\/\d+(\/\d+)?)?(\?|$)/.test(new URL(url).pathname + '?');
  page.on('request', (r) => { if (isHandshake(r.url())) seen.n++; });
  page.on('websocket', (ws) => { if (isHandshake(ws.url().replace(/^ws/, 'http'))) seen.n++; });
  return seen;
}

for (const adapter of ['smol', 'std', 'hyper']) {
  it(`without the cookie our client gets connect_failed with the reason, once (io-${adapter})`, { timeout: 40000 }, (t) =>
    withEchoPage(browser, t, async (server, page) => {
      const handshakes = countHandshakes(page);
      await openSocket(page, 'a', null, { transports: ['websocket', 'xhr-polling', 'jsonp-polling'], connectTimeout: 2000 });
      await waitForEvent(page, 'a', 'connect_failed', 1, 20000);
      const events = await page.evaluate(() => window.H.sockets.a.events);
      const failed = events.filter((e) => e[0] === 'connect_failed');
      assert.deepEqual(failed, [['connect_failed', REASON]], JSON.stringify(events));
      assert.ok(!events.some((e) => e[0] === 'connect'), JSON.stringify(events));
      // No retry loop: nothing more is asked for over the next seconds.
      const after = handshakes.n;
      await sleep(3000);
      assert.equal(handshakes.n, after, 'no handshake after the refusal');
      assert.ok(after >= 1 && after <= 3, `${after} handshakes: at most one per transport`);
      assert.ok(/refused by the application/.test(server.log), 'the server logged the refusal');
    }, { ...GUARDED, adapter })
  );

  it(`with the cookie our client connects and talks (io-${adapter})`, { timeout: 30000 }, (t) =>
    withEchoPage(browser, t, async (server, page) => {
      const origin = new URL(server.origin);
      await page.context().addCookies([{ name: 'token', value: 'good', domain: origin.hostname, path: '/' }]);
      for (const [name, transport] of [['ws', 'websocket'], ['poll', 'xhr-polling']]) {
        await openSocket(page, name, null, { transports: [transport] });
        await waitForEvent(page, name, 'connect');
        await send(page, name, `hello over ${transport}`);
        assert.deepEqual(await waitForMessages(page, name, 1), [`hello over ${transport}`]);
      }
    }, { ...GUARDED, adapter })
  );
}

it('the original 0.6 client sees a connection that fails', { timeout: 40000 }, (t) =>
  withEchoPage(browser, t, async (server, page) => {
    await openSocket(page, 'a', null, { transports: ['xhr-polling'], connectTimeout: 2000, reconnect: false });
    await sleep(4000);
    const events = await page.evaluate(() => window.H.sockets.a.events.map((e) => e[0]));
    assert.ok(!events.includes('connect'), JSON.stringify(events));
  }, { ...GUARDED, reference: true })
);
