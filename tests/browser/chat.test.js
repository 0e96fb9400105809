'use strict';

// Two people on the chat demo's page talk to each other.

const assert = require('node:assert/strict');
const { it, before, after } = require('node:test');
const { ExampleServer, launchBrowser, joinChat: join, saveArtifact } = require('./support');

let browser;
before(async () => {
  browser = await launchBrowser();
});
after(async () => {
  if (browser) await browser.close();
});

const joinChat = (t, server, query) => join(browser, t, server, query);

/** A name as the page derives it from a session id, between `before` and `after`. */
function NAMED(before, after = '') {
  const quote = (t) => t.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  return new RegExp(`^${quote(before)}[A-Z][a-z]+ [A-Z][a-z]+ \\d{1,2}${quote(after)}$`);
}

function chatLines(page) {
  return page.locator('#chat p').allTextContents();
}

async function say(page, text) {
  await page.locator('#text').fill(text);
  await page.locator('#text').press('Enter');
  await assert.doesNotReject(page.locator('#chat p.you').filter({ hasText: text }).last().waitFor());
  assert.equal(await page.locator('#text').inputValue(), '', 'the input is cleared');
}

it('two chat pages talk to each other', { timeout: 45000 }, async (t) => {
  const server = new ExampleServer('chat');
  t.after(() => server.stop());
  await server.start();
  try {
    const alice = await joinChat(t, server);
    const bob = await joinChat(t, server);

    // Both connected over a real WebSocket (the page leaves the transport list alone), each
    // under a short name.
    assert.match(await alice.locator('#status').textContent(), NAMED('connected over websocket as '));
    assert.match(await bob.locator('#status').textContent(), NAMED('connected over websocket as '));
    assert.equal(await alice.locator('meta[name=viewport]').count(), 1, 'a viewport for phones');

    // Alice hears that somebody came.
    await alice.locator('#chat p.announcement').filter({ hasText: / connected$/ }).waitFor();

    await say(alice, 'Hello Bob!');
    const fromAlice = bob.locator('#chat p').filter({ hasText: 'Hello Bob!' });
    await fromAlice.waitFor();
    const line = await fromAlice.textContent();
    assert.match(line, NAMED('', ': Hello Bob!'), 'the other page shows "<name>: <text>"');
    const aliceStatus = await alice.locator('#status').textContent();
    assert.equal(aliceStatus.split(' as ')[1], line.split(':')[0], 'the name Alice sees is hers');
    const aliceSession = line.split(':')[0];

    await say(bob, 'Hi Alice 👋 — ça va?');
    const fromBob = alice.locator('#chat p').filter({ hasText: 'Hi Alice 👋 — ça va?' });
    await fromBob.waitFor();
    const bobLine = await fromBob.textContent();
    assert.match(bobLine, NAMED('', ': Hi Alice 👋 — ça va?'));
    assert.notEqual(bobLine.split(':')[0], aliceSession, 'two sessions');

    await say(alice, '<b>not bold</b> & stays text');
    await bob.locator('#chat p').filter({ hasText: '<b>not bold</b> & stays text' }).waitFor();

    // Each page shows its own lines as "you" and the other's under the other's id.
    const aliceLines = await chatLines(alice);
    const bobLines = await chatLines(bob);
    assert.deepEqual(aliceLines.filter((l) => !/ connected$/.test(l)), [
      'you: Hello Bob!',
      bobLine,
      'you: <b>not bold</b> & stays text',
    ]);
    assert.deepEqual(bobLines.filter((l) => !/ connected$/.test(l)), [
      line,
      'you: Hi Alice 👋 — ça va?',
      `${aliceSession}: <b>not bold</b> & stays text`,
    ]);

    await alice.screenshot({ path: saveArtifact('chat-page-1.png'), fullPage: true });
    await bob.screenshot({ path: saveArtifact('chat-page-2.png'), fullPage: true });

    // A third page arriving later gets the history.
    const carol = await joinChat(t, server);
    await carol.locator('#chat p').filter({ hasText: 'stays text' }).waitFor();
    const carolLines = (await chatLines(carol)).filter((l) => !/ connected$/.test(l));
    assert.deepEqual(carolLines, [line, bobLine, `${aliceSession}: <b>not bold</b> & stays text`]);

    // When Bob leaves, Alice is told.
    await bob.close();
    await alice.locator('#chat p.announcement').filter({ hasText: / disconnected$/ }).waitFor();

    assert.deepEqual([...alice.errors, ...carol.errors], []);
  } catch (e) {
    e.message += `\n--- server log (end) ---\n${server.log.slice(-3000)}`;
    throw e;
  }
});

it('the chat works over every transport, shows JSON as JSON, and a reconnect does not repeat the history', { timeout: 90000 }, async (t) => {
  const server = new ExampleServer('chat');
  t.after(() => server.stop());
  await server.start();
  try {
    const bob = await joinChat(t, server);
    for (const transport of ['websocket', 'xhr-polling', 'jsonp-polling', 'htmlfile', 'xhr-multipart']) {
      const alice = await joinChat(t, server, `?transport=${transport}`);
      assert.match(await alice.locator('#status').textContent(), NAMED(`connected over ${transport} as `));
      assert.equal(await alice.locator('#transport').inputValue(), transport, 'the picker shows it');
      const text = `over ${transport}`;
      await say(alice, text);
      await bob.locator('#chat p').filter({ hasText: text }).waitFor();
      await alice.close();
    }
    // An object sent by a page is shown as JSON, not as [object Object].
    await bob.evaluate(() => socket.send({ a: [1, 2] }));
    const carol = await joinChat(t, server, '?transport=xhr-polling');
    const json = carol.locator('#chat p.json').filter({ hasText: '{"a":[1,2]}' });
    await json.waitFor();
    assert.match(await json.textContent(), NAMED('', ': {"a":[1,2]}'));
    // Carol's transport breaks; she reconnects and gets the history again, shown once.
    const before = (await chatLines(carol)).filter((l) => !/ (dis)?connected$/.test(l));
    await carol.evaluate(() => socket.transport.fail('broken on purpose'));
    await carol.locator('#status').filter({ hasText: /^connected over / }).waitFor({ timeout: 20000 });
    await say(bob, 'after the reconnect');
    await carol.locator('#chat p').filter({ hasText: 'after the reconnect' }).waitFor();
    const after = (await chatLines(carol)).filter((l) => !/ (dis)?connected$/.test(l));
    assert.deepEqual(after.slice(0, before.length), before, 'the history, once');
    assert.equal(after.length, before.length + 1);
    await carol.screenshot({ path: saveArtifact('chat-page-3.png'), fullPage: true });
    assert.deepEqual([...bob.errors, ...carol.errors], []);
  } catch (e) {
    e.message += `\n--- server log (end) ---\n${server.log.slice(-3000)}`;
    throw e;
  }
});

it('the chat inside an axum application: its own route and the chat on one port, over websocket and xhr-polling', { timeout: 45000 }, async (t) => {
  const server = new ExampleServer('axum-chat', { embedded: true });
  t.after(() => server.stop());
  await server.start();
  try {
    const alice = await joinChat(t, server);
    const bob = await joinChat(t, server, '?transport=xhr-polling');
    assert.match(await alice.locator('#status').textContent(), NAMED('connected over websocket as '));
    assert.match(await bob.locator('#status').textContent(), NAMED('connected over xhr-polling as '));
    await say(alice, 'through axum 🦀');
    await bob.locator('#chat p').filter({ hasText: 'through axum 🦀' }).waitFor();
    await say(bob, 'polling through axum');
    await alice.locator('#chat p').filter({ hasText: 'polling through axum' }).waitFor();
    // The application's own route, on the same port, counts both pages' sessions.
    const status = await alice.evaluate(async () => (await fetch('/api/status')).json());
    assert.deepEqual(status, { sessions: 2 });
    assert.ok(
      alice.urls.some((u) => u.startsWith(`ws://127.0.0.1:${server.port}/socket.io/websocket`)),
      'a real WebSocket to the same port'
    );
    await alice.screenshot({ path: saveArtifact('chat-axum.png'), fullPage: true });
    assert.deepEqual([...alice.errors, ...bob.errors], []);
  } catch (e) {
    e.message += `\n--- server log (end) ---\n${server.log.slice(-3000)}`;
    throw e;
  }
});
