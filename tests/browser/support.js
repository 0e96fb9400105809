'use strict';

// Helpers shared by the browser tests: example servers on free ports, headless Chromium,
// and a small in-page harness that records what each socket sees.

const { spawn } = require('node:child_process');
const fs = require('node:fs');
const net = require('node:net');
const http = require('node:http');
const path = require('node:path');
const os = require('node:os');
const crypto = require('node:crypto');

const REPO_ROOT = path.resolve(__dirname, '..', '..');
const BIN_DIR = path.join(REPO_ROOT, 'target', 'debug');
const ARTIFACTS = path.join(__dirname, 'artifacts');
const CHROMIUM = process.env.CHROMIUM_PATH || '/usr/bin/chromium';
const REFERENCE_CLIENT = path.join(
  REPO_ROOT,
  'tests',
  'reference',
  'node_modules',
  'socket.io',
  'support',
  'socket.io-client',
  'socket.io.js'
);

const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

// Every server process started here, so that even a crashed test leaves none behind.
const children = new Set();
process.on('exit', () => {
  for (const child of children) {
    try {
      child.kill('SIGKILL');
    } catch (e) {
      // Already gone.
    }
  }
});

function sleep(ms) {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** A TCP port that nothing listens on right now. */
function freePort() {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.unref();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

/** Resolves once `port` accepts a TCP connection; rejects after `timeout` ms. */
async function waitForPort(port, timeout, isDead) {
  const deadline = Date.now() + timeout;
  for (;;) {
    const ok = await new Promise((resolve) => {
      const socket = net.connect({ port, host: '127.0.0.1' });
      socket.once('connect', () => {
        socket.destroy();
        resolve(true);
      });
      socket.once('error', () => resolve(false));
    });
    if (ok) return;
    if (isDead && isDead()) throw new Error(`server exited before listening on port ${port}`);
    if (Date.now() > deadline) throw new Error(`nothing listens on port ${port} after ${timeout} ms`);
    await sleep(50);
  }
}

function binaryPath(name, crate = 'examples') {
  const file = path.join(BIN_DIR, name);
  if (!fs.existsSync(file)) {
    throw new Error(
      `${path.relative(REPO_ROOT, file)} is missing: run \`cargo build -p ${crate}\` in the repository first`
    );
  }
  return file;
}

/**
 * A new self-signed certificate for 127.0.0.1 and localhost, made by the `test-cert`
 * program of the tests crate: { cert, key } (PEM file paths) and `spki`, the base64 SHA-256
 * of its public key, which `--ignore-certificate-errors-spki-list` takes to trust it.
 */
function makeTestCertificate() {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'io-cert-'));
  const made = require('node:child_process').spawnSync(binaryPath('test-cert', 'tests'), [dir]);
  if (made.status !== 0) throw new Error(`test-cert failed: ${made.stderr}`);
  const cert = path.join(dir, 'cert.pem');
  const key = path.join(dir, 'key.pem');
  const spkiDer = crypto.createPublicKey(fs.readFileSync(cert)).export({ type: 'spki', format: 'der' });
  const spki = crypto.createHash('sha256').update(spkiDer).digest('base64');
  return { cert, key, spki, dir };
}

/**
 * One example server binary (`chat`, `echo`, `broadcast`, `axum-chat`). `start()` runs it on `port`
 * (a free one by default) and waits until it listens; `stop()` ends it; `start()` again
 * brings it back on the same port. The log (stderr and stdout) is kept for failure reports.
 */
class ExampleServer {
  constructor(name, options = {}) {
    this.name = name;
    this.file = binaryPath(name);
    this.adapter = options.adapter || process.env.SOCKETIO_ADAPTER || 'smol';
    this.port = options.port || null;
    // { cert, key }: serve https and wss.
    this.tls = options.tls || null;
    // More flags for the server (`--require-cookie token=good`, say).
    this.extraArgs = options.args || [];
    // A program that serves from inside another server (axum-chat): it takes no
    // --adapter and no --policy-port.
    this.embedded = options.embedded || false;
    this.proc = null;
    this.log = '';
  }

  get origin() {
    return `${this.tls ? 'https' : 'http'}://127.0.0.1:${this.port}`;
  }

  async start() {
    if (this.proc) throw new Error(`${this.name} is already running`);
    if (!this.port) this.port = await freePort();
    // Debug records too: the tests read some (which WebSocket flavour a client spoke), and a
    // failure report shows them.
    const args = ['--port', String(this.port), '--host', '127.0.0.1', '--log-level', 'debug'];
    // A server inside another's loop (axum-chat) has no adapter to pick and no policy port.
    if (!this.embedded) args.push('--policy-port', '0', '--adapter', this.adapter);
    if (this.tls) args.push('--tls-cert', this.tls.cert, '--tls-key', this.tls.key);
    args.push(...this.extraArgs);
    const proc = spawn(this.file, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    this.proc = proc;
    children.add(proc);
    // A server that a failed test never stopped must not keep this process alive: the
    // exit handler above ends it once the tests are done.
    proc.unref();
    proc.stdout.unref();
    proc.stderr.unref();
    let exited = false;
    proc.on('exit', (code, signal) => {
      exited = true;
      children.delete(proc);
      this.log += `[${this.name} exited: ${signal || code}]\n`;
    });
    const keep = (chunk) => {
      this.log += chunk.toString('utf8');
      if (this.log.length > 200000) this.log = this.log.slice(-100000);
    };
    proc.stdout.on('data', keep);
    proc.stderr.on('data', keep);
    try {
      await waitForPort(this.port, 10000, () => exited);
    } catch (e) {
      await this.stop();
      throw new Error(`${this.name} did not start: ${e.message}\n${this.log}`);
    }
    return this;
  }

  /** Ends the process (SIGTERM, then SIGKILL after 2 s) and waits for it to be gone. */
  async stop() {
    const proc = this.proc;
    this.proc = null;
    if (!proc || proc.exitCode !== null || proc.signalCode !== null) return;
    const gone = new Promise((resolve) => proc.once('exit', resolve));
    proc.kill('SIGTERM');
    const timer = setTimeout(() => proc.kill('SIGKILL'), 2000);
    await gone;
    clearTimeout(timer);
  }
}

async function startServer(name, options) {
  return new ExampleServer(name, options).start();
}

/**
 * A browser context for one test. Test pages answered by `page.route` have no network
 * address, and Chromium's local network access checks then treat them as public pages
 * and block their WebSockets to 127.0.0.1 unless the user allows it; this allows it.
 */
function newContext(browser) {
  return browser.newContext({ permissions: ['local-network-access'] });
}

/**
 * Opens the chat demo's page in a context of its own and waits until it is connected. The
 * page keeps its errors (`page.errors`) and every URL it asked for (`page.urls`, WebSockets
 * included).
 */
async function joinChat(browser, t, server, query = '') {
  const context = await newContext(browser);
  t.after(() => context.close());
  const page = await context.newPage();
  page.setDefaultTimeout(15000);
  page.errors = [];
  page.on('pageerror', (e) => page.errors.push(String(e)));
  page.urls = [];
  page.on('request', (r) => page.urls.push(r.url()));
  page.on('websocket', (ws) => page.urls.push(ws.url()));
  await page.goto(`${server.origin}/chat.html${query}`);
  await page.locator('#status').filter({ hasText: /^connected over / }).waitFor();
  return page;
}

/**
 * A plain HTTP server for pages of another origin: `pages` maps a path to its text (served
 * as JavaScript for a `.js` path, HTML otherwise). Returns
 * { origin, port, close() }.
 */
async function startPageServer(pages) {
  const server = http.createServer((req, res) => {
    const name = req.url.split('?')[0];
    const body = pages[name];
    if (body === undefined) {
      res.writeHead(404, { 'Content-Type': 'text/plain' });
      res.end('Not Found');
      return;
    }
    const type = name.endsWith('.js') ? 'text/javascript' : 'text/html';
    res.writeHead(200, { 'Content-Type': `${type}; charset=UTF-8` });
    res.end(body);
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address();
  return {
    port,
    origin: `http://127.0.0.1:${port}`,
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/**
 * An HTTP proxy on a free port in front of `targetPort`, streaming both ways, that closes
 * WebSocket upgrade requests without an answer (counted in `refused`), as some proxies do.
 * Returns { origin, port, refused, close() }.
 */
async function startHttpOnlyProxy(targetPort) {
  const sockets = new Set();
  const state = { refused: 0 };
  const server = http.createServer((req, res) => {
    const upstream = http.request(
      { host: '127.0.0.1', port: targetPort, method: req.method, path: req.url, headers: req.headers },
      (answer) => {
        res.writeHead(answer.statusCode, answer.rawHeaders);
        answer.pipe(res);
      }
    );
    upstream.on('error', () => res.destroy());
    res.on('close', () => upstream.destroy());
    req.pipe(upstream);
  });
  server.on('connection', (socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  server.on('upgrade', (req, socket) => {
    state.refused++;
    socket.destroy();
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address();
  return Object.assign(state, {
    port,
    origin: `http://127.0.0.1:${port}`,
    close: () =>
      new Promise((resolve) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => resolve());
      }),
  });
}

let playwright = null;

/** Headless Chromium from the system, with a fresh profile. */
/** Headless Chromium; `extraArgs` go on its command line. */
async function launchBrowser(extraArgs = []) {
  if (!fs.existsSync(CHROMIUM)) {
    throw new Error(`Chromium not found at ${CHROMIUM}: install it (apt-get install -y chromium) or set CHROMIUM_PATH`);
  }
  if (!playwright) {
    try {
      playwright = require('playwright-core');
    } catch (e) {
      throw new Error('playwright-core is missing: run `npm ci` in tests/browser');
    }
  }
  return playwright.chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: [...CHROMIUM_ARGS, ...extraArgs],
    timeout: 30000,
  });
}

/**
 * The in-page harness. `H.open(name, host, options)` makes an `io.Socket`, records its
 * events in order and its messages, and connects it. The tests read `H.sockets[name]`.
 */
const HARNESS = `
window.H = {
  sockets: {},
  open(name, host, options) {
    const socket = new io.Socket(host, options);
    const rec = { socket, events: [], messages: [], errors: [], connects: 0, reconnects: 0 };
    const track = (event) => socket.on(event, (...args) => {
      rec.events.push([event].concat(args.map((a) => (a instanceof Error ? String(a) : a))));
    });
    ['connecting', 'connect', 'connect_failed', 'disconnect', 'reconnecting', 'reconnect',
     'reconnect_failed'].forEach(track);
    socket.on('connect', () => { rec.connects++; });
    socket.on('reconnect', () => { rec.reconnects++; });
    socket.on('message', (m) => { rec.messages.push(m); });
    socket.on('error', (e) => { rec.errors.push(String(e)); });
    this.sockets[name] = rec;
    socket.connect();
    return true;
  },
  count(name, event) {
    const rec = this.sockets[name];
    return rec ? rec.events.filter((e) => e[0] === event).length : 0;
  },
};
`;

/** A UTF-8 test page that loads a client script (ours from the server by default). */
function testPage(scriptUrl = '/socket.io/socket.io.js', title = 'test') {
  return `<!doctype html>
<html><head><meta charset="utf-8"><title>${title}</title></head>
<body><h1>${title}</h1>
<script src="${scriptUrl}"></script>
<script>${HARNESS}</script>
</body></html>`;
}

/**
 * Opens a page at `<server origin>/browser-test.html`. That path is answered by the test
 * itself (the servers have no such page); everything else, the client script included,
 * comes from the server. `reference: true` swaps in the original 0.6 client.
 */
async function openTestPage(context, origin, options = {}) {
  const page = await context.newPage();
  page.setDefaultTimeout(15000);
  const pageErrors = [];
  page.on('pageerror', (e) => pageErrors.push(String(e)));
  page.pageErrors = pageErrors;
  await page.route(`${origin}/browser-test.html`, (route) =>
    route.fulfill({ status: 200, contentType: 'text/html; charset=utf-8', body: testPage(undefined, options.title) })
  );
  if (options.reference) await routeReferenceClient(page, origin);
  await page.goto(`${origin}/browser-test.html`);
  await page.waitForFunction(() => typeof window.io === 'object' && typeof window.H === 'object');
  return page;
}

/** Answers `<origin>/socket.io/socket.io.js` with the original 0.6 client. */
async function routeReferenceClient(page, origin) {
  if (!fs.existsSync(REFERENCE_CLIENT)) {
    throw new Error('the original 0.6 client is missing: run `npm ci` in tests/reference');
  }
  const body = fs.readFileSync(REFERENCE_CLIENT, 'utf8');
  await page.route(`${origin}/socket.io/socket.io.js`, (route) =>
    route.fulfill({ status: 200, contentType: 'text/javascript; charset=utf-8', body })
  );
}

/** Waits until socket `name` has seen `event` at least `count` times. */
async function waitForEvent(page, name, event, count = 1, timeout = 15000) {
  try {
    await page.waitForFunction(([n, e, c]) => window.H.count(n, e) >= c, [name, event, count], {
      timeout,
      polling: 50,
    });
  } catch (e) {
    throw new Error(`socket ${name}: no ${event} (#${count}) within ${timeout} ms; ${await describe(page, name)}`);
  }
}

/** Waits until socket `name` has received at least `count` messages; returns them all. */
async function waitForMessages(page, name, count, timeout = 15000) {
  try {
    await page.waitForFunction(([n, c]) => window.H.sockets[n].messages.length >= c, [name, count], {
      timeout,
      polling: 50,
    });
  } catch (e) {
    throw new Error(`socket ${name}: fewer than ${count} messages within ${timeout} ms; ${await describe(page, name)}`);
  }
  return page.evaluate((n) => window.H.sockets[n].messages, name);
}

/** A one-line summary of a socket's record, for failure messages. */
async function describe(page, name) {
  try {
    const summary = await page.evaluate((n) => {
      const rec = window.H.sockets[n];
      if (!rec) return { missing: true };
      const t = rec.socket.transport;
      return {
        events: rec.events,
        messages: rec.messages,
        errors: rec.errors,
        transport: t && t.type,
        sessionid: t && t.sessionid,
      };
    }, name);
    return JSON.stringify(summary) + (page.pageErrors.length ? ` page errors: ${page.pageErrors.join(' | ')}` : '');
  } catch (e) {
    return `(page unreadable: ${e.message})`;
  }
}

/** Makes socket `name` in the page (`new io.Socket(host, options)`) and connects it. */
function openSocket(page, name, host, options) {
  return page.evaluate(([n, h, o]) => window.H.open(n, h, o), [name, host, options]);
}

/**
 * Runs `body(server, page)` with a fresh echo server (on `adapter`) and a fresh browser
 * context holding the test page, and always stops both. A failure carries the end of the
 * server's log. `reference: true` puts the original 0.6 client on the page.
 */
async function withEchoPage(browser, t, body, { adapter, reference = false, tls = null, args = [] } = {}) {
  const server = new ExampleServer('echo', { adapter, tls, args });
  t.after(() => server.stop());
  await server.start();
  const context = await newContext(browser);
  t.after(() => context.close());
  const page = await openTestPage(context, server.origin, { reference, title: t.name });
  try {
    await body(server, page);
  } catch (e) {
    e.message += `\n--- server log (end) ---\n${server.log.slice(-3000)}`;
    throw e;
  }
}

function send(page, name, message) {
  return page.evaluate(([n, m]) => {
    window.H.sockets[n].socket.send(m);
  }, [name, message]);
}

function saveArtifact(fileName) {
  fs.mkdirSync(ARTIFACTS, { recursive: true });
  return path.join(ARTIFACTS, fileName);
}

module.exports = {
  REPO_ROOT,
  makeTestCertificate,
  REFERENCE_CLIENT,
  ExampleServer,
  startServer,
  startPageServer,
  startHttpOnlyProxy,
  launchBrowser,
  newContext,
  joinChat,
  openTestPage,
  routeReferenceClient,
  testPage,
  waitForEvent,
  waitForMessages,
  describe,
  openSocket,
  send,
  withEchoPage,
  saveArtifact,
  freePort,
  sleep,
};
