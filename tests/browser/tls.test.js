'use strict';

// Over https: the chat demo (its page, its client, every transport), our client and the
// original 0.6 client against the echo server, with a certificate made for the test and
// trusted through Chromium's flags.

const assert = require('node:assert/strict');
const fs = require('node:fs');
const { it, before, after } = require('node:test');
const {
  ExampleServer,
  launchBrowser,
  newContext,
  joinChat: join,
  makeTestCertificate,
  saveArtifact,
  openSocket,
  waitForEvent,
  waitForMessages,
  send,
  withEchoPage,
} = require('./support');

let browser;
let certificate;
before(async () => {
  certificate = makeTestCertificate();
  // Trusts this one certificate's key, and no other invalid certificate.
  browser = await launchBrowser([`--ignore-certificate-errors-spki-list=${certificate.spki}`]);
});
after(async () => {
  if (browser) await browser.close();
  if (certificate) fs.rmSync(certificate.dir, { recursive: true, force: true });
});

const joinChat = (t, server, query) => join(browser, t, server, query);

async function say(page, text) {
  await page.locator('#text').fill(text);
  await page.locator('#text').press('Enter');
  await page.locator('#chat p.you').filter({ hasText: text }).last().waitFor();
}

for (const adapter of ['smol', 'std']) {
  it(`the chat demo works over https on io-${adapter}`, { timeout: 60000 }, async (t) => {
    const server = new ExampleServer('chat', { adapter, tls: certificate });
    t.after(() => server.stop());
    await server.start();
    try {
      assert.match(server.origin, /^https:/);
      const alice = await joinChat(t, server);
      assert.match(await alice.locator('#status').textContent(), /^connected over websocket as /);
      assert.equal(await alice.evaluate(() => location.protocol), 'https:');
      for (const transport of ['websocket', 'xhr-polling', 'jsonp-polling', 'htmlfile', 'xhr-multipart']) {
        const bob = await joinChat(t, server, `?transport=${transport}`);
        assert.match(await bob.locator('#status').textContent(), new RegExp(`^connected over ${transport} as `));
        const text = `over ${transport} with TLS`;
        await say(bob, text);
        await alice.locator('#chat p').filter({ hasText: text }).waitFor();
        await say(alice, `back to ${transport}`);
        await bob.locator('#chat p').filter({ hasText: `back to ${transport}` }).waitFor();
        const plain = bob.urls.filter((u) => /^(http|ws):/.test(u));
        assert.deepEqual(plain, [], `${transport}: nothing over plain http or ws`);
        assert.ok(bob.urls.some((u) => u.startsWith(`https://127.0.0.1:${server.port}/`)), bob.urls.join('\n'));
        if (transport === 'websocket') {
          assert.ok(bob.urls.some((u) => u.startsWith('wss://')), bob.urls.join('\n'));
        }
        if (transport === 'xhr-polling' && adapter === 'smol') {
          await alice.screenshot({ path: saveArtifact('chat-https.png'), fullPage: true });
        }
        await bob.close();
      }
      assert.deepEqual(alice.errors, []);
    } catch (e) {
      e.message += `\n--- server log (end) ---\n${server.log.slice(-3000)}`;
      throw e;
    }
  });
}

it('a page served over http cannot reach the https port, and is told why', { timeout: 30000 }, async (t) => {
  const server = new ExampleServer('chat', { tls: certificate });
  t.after(() => server.stop());
  await server.start();
  const context = await newContext(browser);
  t.after(() => context.close());
  const page = await context.newPage();
  const response = await page.goto(`http://127.0.0.1:${server.port}/chat.html`);
  assert.equal(response.status(), 400);
  assert.match(await page.textContent('body'), /This port speaks TLS/);
});

const OBJECT = { over: 'TLS', n: [1, 2.5, null], 'é': '😀' };

/** Connects socket `a` with `options` over https, exchanges text and an object, and checks
 * which transport carried them. */
async function echoOverTls(page, options, transport) {
  assert.equal(await page.evaluate(() => location.protocol), 'https:');
  await openSocket(page, 'a', null, options);
  await waitForEvent(page, 'a', 'connect');
  assert.equal(await page.evaluate(() => window.H.sockets.a.socket.transport.type), transport);
  await send(page, 'a', 'secret over TLS');
  await send(page, 'a', OBJECT);
  const got = await waitForMessages(page, 'a', 2);
  assert.deepEqual(got.slice(-2), ['secret over TLS', OBJECT]);
}

for (const transport of ['websocket', 'xhr-polling', 'jsonp-polling', 'htmlfile', 'xhr-multipart']) {
  it(`our client over https: ${transport}`, { timeout: 30000 }, (t) =>
    withEchoPage(browser, t, async (server, page) => {
      // `secure` follows the page's https without being asked.
      await echoOverTls(page, { transports: [transport] }, transport);
    }, { tls: certificate })
  );
}

for (const transport of ['websocket', 'xhr-polling', 'jsonp-polling']) {
  it(`the original 0.6 client over https with secure: true: ${transport}`, { timeout: 30000 }, (t) =>
    withEchoPage(browser, t, async (server, page) => {
      assert.equal(await page.evaluate(() => typeof window.io.codec), 'undefined', 'the original client');
      await echoOverTls(page, { secure: true, transports: [transport] }, transport);
    }, { tls: certificate, reference: true })
  );
}
