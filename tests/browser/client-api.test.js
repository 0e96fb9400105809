'use strict';

// The 0.6 client's API for transports, in our client: `io.Transport[name]` with `check()` and
// `xdomainCheck()`, and a transport a page adds the 0.6 way (`io.Transport.mine = …`,
// `io.util.inherit(mine, io.Transport)`) used when named in `transports`.

const assert = require('node:assert/strict');
const { describe, it, before, after } = require('node:test');
const {
  launchBrowser,
  withEchoPage,
  waitForEvent,
  waitForMessages,
  openSocket,
  send,
} = require('./support');

const TRANSPORTS = ['websocket', 'xhr-polling', 'jsonp-polling', 'htmlfile', 'xhr-multipart'];

let browser;
before(async () => {
  browser = await launchBrowser();
});
after(async () => {
  if (browser) await browser.close();
});

const withEcho = (t, body) => withEchoPage(browser, t, body);

describe('the 0.6 transport API', { concurrency: 3 }, () => {
  it('io.Transport holds every transport by name, with check() and xdomainCheck()', async (t) => {
    await withEcho(t, async (_server, page) => {
      const seen = await page.evaluate((names) => names.map((n) => {
        const T = window.io.Transport[n];
        return [n, typeof T, typeof T.check, typeof T.xdomainCheck, T.check(), T === window.io.transports[n]];
      }), TRANSPORTS);
      for (const [name, type, check, xdomain, usable, same] of seen) {
        assert.deepEqual([type, check, xdomain, same], ['function', 'function', 'function', true], name);
        assert.equal(usable, true, `${name} works in Chromium`);
      }
      assert.equal(await page.evaluate(() => window.io.Transport.flashsocket.check()), false);
      assert.equal(await page.evaluate(() => typeof window.io.util.inherit), 'function');
    });
  });

  for (const transport of TRANSPORTS) {
    it(`two sockets on one page over ${transport}, reached through io.Transport['${transport}']`, { timeout: 30000 }, async (t) => {
      await withEcho(t, async (_server, page) => {
        // The page checks the transport as 0.6 pages did before asking for it.
        assert.equal(await page.evaluate((n) => window.io.Transport[n].check(), transport), true);
        for (const name of ['a', 'b']) {
          await openSocket(page, name, null, { transports: [transport], rememberTransport: false });
          await waitForEvent(page, name, 'connect');
        }
        const types = await page.evaluate(() => [window.H.sockets.a.socket.transport.type, window.H.sockets.b.socket.transport.type]);
        assert.deepEqual(types, [transport, transport]);
        const ids = await page.evaluate(() => [window.H.sockets.a.socket.transport.sessionid, window.H.sockets.b.socket.transport.sessionid]);
        assert.notEqual(ids[0], ids[1], 'two sessions');
        await send(page, 'a', 'to a');
        await send(page, 'b', { to: 'b' });
        assert.deepEqual(await waitForMessages(page, 'a', 1), ['to a']);
        assert.deepEqual(await waitForMessages(page, 'b', 1), [{ to: 'b' }]);
      });
    });
  }

  it('a transport the page adds the 0.6 way is used when it is listed', { timeout: 30000 }, async (t) => {
    await withEcho(t, async (_server, page) => {
      // Written as a page of 2011 would: a constructor that calls the base, methods copied
      // with io.util.inherit, and the base's decoding, heartbeat and session-id handling.
      await page.evaluate(() => {
        const Mine = (window.io.Transport.mine = function () {
          window.io.Transport.apply(this, arguments);
          window.mineLog = [];
        });
        window.io.util.inherit(Mine, window.io.Transport);
        Mine.prototype.type = 'websocket'; // the server endpoint it talks to
        Mine.prototype.connect = function () {
          const url = this.prepareUrl().replace(/^http/, 'ws');
          window.mineLog.push(`connect ${url}`);
          this.socket = new WebSocket(url);
          this.socket.onmessage = (ev) => this.onData(ev.data);
          this.socket.onclose = () => this.onDisconnect();
          return this;
        };
        Mine.prototype.send = function (data) {
          window.mineLog.push('send');
          this.socket.send(this.encode(data));
          return this;
        };
        Mine.prototype.disconnect = function () {
          if (this.socket) this.socket.close();
          return this;
        };
        Mine.check = () => 'WebSocket' in window;
        Mine.xdomainCheck = () => true;
      });
      await openSocket(page, 'a', null, { transports: ['mine', 'xhr-polling'], rememberTransport: false });
      await waitForEvent(page, 'a', 'connect');
      await send(page, 'a', 'through my own transport');
      await send(page, 'a', { json: ['too'] });
      assert.deepEqual(await waitForMessages(page, 'a', 2), ['through my own transport', { json: ['too'] }]);
      const log = await page.evaluate(() => window.mineLog);
      assert.match(log[0], /^connect ws:\/\/[^/]+\/socket\.io\/websocket\/$/);
      assert.ok(log.filter((l) => l === 'send').length >= 2, JSON.stringify(log));
      // Its session is a real one, known to the server, and it ends when the socket does.
      assert.ok(await page.evaluate(() => window.H.sockets.a.socket.transport.sessionid));
      await page.evaluate(() => window.H.sockets.a.socket.disconnect());
      await waitForEvent(page, 'a', 'disconnect');
      // Not listed: the page's own transport is not used.
      await openSocket(page, 'b', null, { transports: ['xhr-polling'], rememberTransport: false });
      await waitForEvent(page, 'b', 'connect');
      assert.equal(await page.evaluate(() => window.H.sockets.b.socket.transport.type), 'xhr-polling');
    });
  });
});
