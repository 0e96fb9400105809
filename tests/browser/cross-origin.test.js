'use strict';

// A page from one origin talks to the Socket.IO server on another port, with our client
// loaded from that server.

const assert = require('node:assert/strict');
const fs = require('node:fs');
const { describe, it, before, after } = require('node:test');
const {
  ExampleServer,
  REFERENCE_CLIENT,
  launchBrowser,
  newContext,
  startPageServer,
  testPage,
  openSocket,
  waitForEvent,
  waitForMessages,
  send,
} = require('./support');

const EMOJI = 'héllo wörld 😀👋🏽 — ∑ 中文';
const OBJECT = { text: 'ünïcode 🎉', n: 42, list: [1, 'two', null, true] };

let browser;
before(async () => {
  browser = await launchBrowser();
});
after(async () => {
  if (browser) await browser.close();
});

/**
 * Runs `body({ server, pageServer, page, responses })`: the echo server on one port, a
 * page server on another, and a page from the latter with our client from the former.
 * `responses` collects [method, url, status, headers] of every Socket.IO request.
 */
async function withTwoOrigins(t, body, { reference = false } = {}) {
  const server = new ExampleServer('echo');
  t.after(() => server.stop());
  await server.start();
  // The original client comes from the page's own server; ours from the Socket.IO server.
  const pageServer = await startPageServer({
    '/page.html': testPage(reference ? '/socket.io.js' : `${server.origin}/socket.io/socket.io.js`, 'cross-origin'),
    ...(reference ? { '/socket.io.js': fs.readFileSync(REFERENCE_CLIENT, 'utf8') } : {}),
  });
  t.after(() => pageServer.close());
  const context = await newContext(browser);
  t.after(() => context.close());
  const page = await context.newPage();
  page.setDefaultTimeout(15000);
  page.pageErrors = [];
  page.on('pageerror', (e) => page.pageErrors.push(String(e)));
  const responses = [];
  page.on('response', async (res) => {
    const url = res.url();
    if (url.startsWith(`${server.origin}/socket.io/`) && !url.endsWith('/socket.io.js')) {
      // A poll still held when the test ends answers after the page is gone: its headers
      // can no longer be read, and nothing needs them.
      let headers;
      let requestHeaders;
      try {
        headers = await res.allHeaders();
        requestHeaders = await res.request().allHeaders();
      } catch (e) {
        return;
      }
      responses.push({ method: res.request().method(), url, status: res.status(), headers, requestHeaders });
    }
  });
  await page.goto(`${pageServer.origin}/page.html`);
  await page.waitForFunction(() => typeof window.io === 'object' && typeof window.H === 'object');
  assert.equal(await page.evaluate(() => typeof window.io.codec === 'undefined'), reference, 'the right client');
  try {
    await body({ server, pageServer, page, responses });
  } catch (e) {
    e.message += `\n--- server log (end) ---\n${server.log.slice(-3000)}`;
    throw e;
  }
}

async function exchange(page) {
  await send(page, 'a', 'from another origin');
  await send(page, 'a', OBJECT);
  await send(page, 'a', EMOJI);
  assert.deepEqual(await waitForMessages(page, 'a', 3), ['from another origin', OBJECT, EMOJI]);
}

describe('cross-origin, our client', { concurrency: true }, () => {
  it('xhr-polling works through CORS', { timeout: 30000 }, (t) =>
    withTwoOrigins(t, async ({ server, pageServer, page, responses }) => {
      assert.notEqual(pageServer.port, server.port);
      await openSocket(page, 'a', '127.0.0.1', {
        port: server.port,
        transports: ['xhr-polling'],
        rememberTransport: false,
      });
      await waitForEvent(page, 'a', 'connect');
      assert.equal(await page.evaluate(() => window.H.sockets.a.socket.transport.type), 'xhr-polling');
      await exchange(page);

      const polls = responses.filter((r) => r.method === 'GET' && r.url.includes('/xhr-polling/'));
      const posts = responses.filter((r) => r.method === 'POST');
      assert.ok(polls.length >= 2 && posts.length >= 1, JSON.stringify(responses.map((r) => [r.method, r.url])));
      for (const r of [...polls, ...posts]) {
        assert.equal(r.requestHeaders.origin, pageServer.origin, `${r.method} ${r.url} carries the page's Origin`);
        assert.ok(
          ['*', pageServer.origin].includes(r.headers['access-control-allow-origin']),
          `${r.method} ${r.url} is allowed: ${JSON.stringify(r.headers)}`
        );
        assert.equal(r.status, 200);
      }
      assert.deepEqual(page.pageErrors, []);
    })
  );

  it('jsonp-polling works across origins', { timeout: 30000 }, (t) =>
    withTwoOrigins(t, async ({ server, page, responses }) => {
      await openSocket(page, 'a', '127.0.0.1', {
        port: server.port,
        transports: ['jsonp-polling'],
        rememberTransport: false,
      });
      await waitForEvent(page, 'a', 'connect');
      assert.equal(await page.evaluate(() => window.H.sockets.a.socket.transport.type), 'jsonp-polling');
      await exchange(page);
      assert.ok(responses.some((r) => r.method === 'POST' && /\/jsonp-polling\/[0-9a-f]+\/\d+\/\d+$/.test(r.url)));
      assert.ok(responses.every((r) => r.status === 200), JSON.stringify(responses.map((r) => [r.url, r.status])));
      assert.deepEqual(page.pageErrors, []);
    })
  );

  it('websocket works across origins', { timeout: 30000 }, (t) =>
    withTwoOrigins(t, async ({ server, page }) => {
      await openSocket(page, 'a', '127.0.0.1', { port: server.port, transports: ['websocket'], rememberTransport: false });
      await waitForEvent(page, 'a', 'connect');
      await exchange(page);
    })
  );

  it('htmlfile is skipped across origins', { timeout: 30000 }, (t) =>
    withTwoOrigins(t, async ({ server, page, responses }) => {
      await openSocket(page, 'a', '127.0.0.1', {
        port: server.port,
        transports: ['htmlfile', 'xhr-polling'],
        rememberTransport: false,
      });
      await waitForEvent(page, 'a', 'connect');
      assert.deepEqual(await page.evaluate(() => window.H.sockets.a.events), [['connecting', 'xhr-polling'], ['connect']]);
      assert.ok(responses.every((r) => !r.url.includes('/htmlfile')));
    })
  );
});

describe('cross-origin, the original 0.6 client', { concurrency: true }, () => {
  for (const transport of ['xhr-polling', 'jsonp-polling']) {
    it(`${transport} works across origins`, { timeout: 30000 }, (t) =>
      withTwoOrigins(
        t,
        async ({ server, page }) => {
          await openSocket(page, 'a', '127.0.0.1', { port: server.port, transports: [transport] });
          await waitForEvent(page, 'a', 'connect');
          assert.equal(await page.evaluate(() => window.H.sockets.a.socket.transport.type), transport);
          await exchange(page);
        },
        { reference: true }
      )
    );
  }
});
