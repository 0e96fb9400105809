/*!
 * Socket.IO 0.6 browser client.
 *
 * Speaks the Socket.IO 0.6 wire protocol (`~m~<len>~m~<data>` framing, `~h~` heartbeats,
 * `~j~` JSON messages) over six transports, in the same order of preference and with the
 * same public API as the original 0.6 client, using only what current browsers provide.
 *
 * One file, no build step, no dependencies.
 */
(function (global) {
  'use strict';

  const VERSION = '0.6.3';
  // How a 403 from the server begins when the application refused the session.
  const REFUSAL = 'refused by the application';

  const FRAME = '~m~';
  const HEARTBEAT = '~h~';
  const JSON_MARK = '~j~';

  const DEFAULT_TRANSPORTS = [
    'websocket',
    'flashsocket',
    'htmlfile',
    'xhr-multipart',
    'xhr-polling',
    'jsonp-polling',
  ];

  // Transports without a timeout of their own wait this long for data. The server sends a
  // heartbeat every 10 s on the streaming transports, so 15 s of silence means it is gone.
  const DEFAULT_TIMEOUT = 15000;
  // The server holds a poll for up to 20 s before answering it empty.
  const POLLING_TIMEOUT = 25000;

  // A length prefix longer than this is not something a server would send.
  const MAX_LENGTH_DIGITS = 10;
  // Part headers of the multipart stream are one short line; anything longer is garbage.
  const MAX_PART_HEADER = 1024;

  const FORM_CONTENT_TYPE = 'application/x-www-form-urlencoded; charset=UTF-8';

  // ---------------------------------------------------------------------------------------
  // Codec
  // ---------------------------------------------------------------------------------------

  /**
   * The string a message travels as: nothing for null/undefined, `~j~` and JSON for any
   * object (arrays included: they are one JSON message, not a list of messages), and the
   * string form of everything else.
   */
  function stringify(message) {
    if (message === null || message === undefined) return '';
    if (typeof message === 'object') return JSON_MARK + JSON.stringify(message);
    return String(message);
  }

  /**
   * Replaces unpaired surrogates with U+FFFD. One code unit is replaced by one, so lengths do
   * not change; without it `encodeURIComponent` throws on such strings, and WebSocket would
   * replace them anyway.
   */
  function wellFormed(text) {
    if (typeof text.toWellFormed === 'function') return text.toWellFormed();
    let out = '';
    let start = 0;
    for (let i = 0; i < text.length; i++) {
      const c = text.charCodeAt(i);
      if (isHighSurrogate(c) && i + 1 < text.length && isLowSurrogate(text.charCodeAt(i + 1))) {
        i++;
      } else if (isHighSurrogate(c) || isLowSurrogate(c)) {
        out += text.slice(start, i) + '\uFFFD';
        start = i + 1;
      }
    }
    return start === 0 ? text : out + text.slice(start);
  }

  function isHighSurrogate(c) {
    return c >= 0xd800 && c <= 0xdbff;
  }

  function isLowSurrogate(c) {
    return c >= 0xdc00 && c <= 0xdfff;
  }

  function isDigit(c) {
    return c >= 0x30 && c <= 0x39;
  }

  /**
   * Frames a list of messages as one payload. Lengths are JavaScript string lengths (UTF-16
   * code units), which is what the 0.6 protocol counts.
   */
  function encode(messages) {
    let payload = '';
    for (const message of messages) {
      const data = wellFormed(stringify(message));
      payload += FRAME + data.length + FRAME + data;
    }
    return payload;
  }

  /**
   * Reads the frame that starts at `pos`. Returns one of
   *   { ok: true, data, end }  a whole frame; `end` is where the next one starts,
   *   { partial: true }        the text stops before the frame does,
   *   { error: 'reason' }      this is not a well-formed frame.
   * Streams use `partial` to wait for more text; for a complete payload it is an error.
   */
  function readFrame(text, pos) {
    const head = expect(text, pos, FRAME);
    if (head !== true) return head;
    let i = pos + FRAME.length;
    const digitsStart = i;
    while (i < text.length && isDigit(text.charCodeAt(i)) && i - digitsStart <= MAX_LENGTH_DIGITS) i++;
    const digits = text.slice(digitsStart, i);
    if (digits.length > MAX_LENGTH_DIGITS) return { error: 'length prefix too long' };
    if (i === text.length) return { partial: true };
    if (digits === '') return { error: 'missing length' };
    if (digits.length > 1 && digits[0] === '0') return { error: 'length with leading zero' };
    const separator = expect(text, i, FRAME);
    if (separator !== true) return separator;
    const begin = i + FRAME.length;
    const end = begin + Number(digits);
    if (end > text.length) return { partial: true };
    // A length that cuts a character in half means the sender counted differently; nothing
    // after that point can be trusted.
    if (end > begin && (isLowSurrogate(text.charCodeAt(begin)) || isHighSurrogate(text.charCodeAt(end - 1)))) {
      return { error: 'length splits a surrogate pair' };
    }
    return { ok: true, data: text.slice(begin, end), end };
  }

  /** `true` if `text` has `literal` at `pos`; otherwise partial (prefix only) or error. */
  function expect(text, pos, literal) {
    for (let k = 0; k < literal.length; k++) {
      if (pos + k >= text.length) return { partial: true };
      if (text[pos + k] !== literal[k]) return { error: `expected ${JSON.stringify(literal)}` };
    }
    return true;
  }

  /**
   * Splits a complete payload into messages. Decoding is strict: it stops at the first
   * byte that is not part of a well-formed frame and says why in `error`, keeping the
   * messages before it.
   */
  function decode(payload) {
    const messages = [];
    let pos = 0;
    while (pos < payload.length) {
      const frame = readFrame(payload, pos);
      if (!frame.ok) {
        const reason = frame.partial ? 'payload ends inside a frame' : frame.error;
        return { messages, error: `${reason} at offset ${pos}` };
      }
      messages.push(frame.data);
      pos = frame.end;
    }
    return { messages, error: null };
  }

  /**
   * Incremental parser for the xhr-multipart stream:
   *
   *   --socketio\n
   *   Content-Type: text/plain\n\n<payload>\n--socketio\n
   *   Content-Type: text/plain\n\n<payload>\n--socketio\n ...
   *
   * It is given the whole response text received so far and returns the payloads of parts
   * that are now complete, remembering how far it got. A part's end is found by reading its
   * frames by their lengths rather than by searching for the boundary, so a message that
   * happens to contain "\n--socketio\n" cannot cut a part short.
   */
  class MultipartReader {
    constructor() {
      this.boundary = '--socketio\n';
      this.partEnd = '\n--socketio\n';
      this.consumed = 0;
      this.opened = false;
    }

    /** Returns { payloads, error }; `error` is set once the stream stops making sense. */
    read(text) {
      const payloads = [];
      for (;;) {
        const step = this.opened ? this.readPart(text, this.consumed) : this.readOpening(text);
        if (step.partial) return { payloads, error: null };
        if (step.error) return { payloads, error: step.error };
        if (step.payload !== undefined) payloads.push(step.payload);
        this.consumed = step.end;
      }
    }

    readOpening(text) {
      const found = expect(text, 0, this.boundary);
      if (found !== true) return found.partial ? found : { error: 'stream does not open with the boundary' };
      this.opened = true;
      return { end: this.boundary.length };
    }

    readPart(text, start) {
      const headerEnd = text.indexOf('\n\n', start);
      if (headerEnd === -1) {
        return text.length - start > MAX_PART_HEADER ? { error: 'part header too long' } : { partial: true };
      }
      const body = headerEnd + 2;
      let pos = body;
      for (;;) {
        const end = expect(text, pos, this.partEnd);
        if (end === true) return { payload: text.slice(body, pos), end: pos + this.partEnd.length };
        // "\n" cannot start a frame, so a prefix of the boundary means: wait for the rest.
        if (end.partial) return end;
        const frame = readFrame(text, pos);
        if (!frame.ok) return frame.partial ? frame : { error: `${frame.error} in a part` };
        pos = frame.end;
      }
    }
  }

  // ---------------------------------------------------------------------------------------
  // Small helpers
  // ---------------------------------------------------------------------------------------

  /** Runs `fn` later, so that callers finish their own work (and listeners attach) first. */
  function later(fn) {
    return setTimeout(fn, 0);
  }

  /** Reports an exception from application code without unwinding our own state changes. */
  function rethrowLater(error) {
    setTimeout(() => {
      throw error;
    }, 0);
  }

  let lastStamp = 0;

  /**
   * A millisecond timestamp for cache-busting URLs, strictly increasing so that two requests
   * in the same millisecond never share a URL.
   */
  function stamp() {
    lastStamp = Math.max(Date.now(), lastStamp + 1);
    return lastStamp;
  }

  function hasOwn(object, key) {
    return Object.prototype.hasOwnProperty.call(object, key);
  }

  function isNativeFunction(fn) {
    try {
      return /\[native code\]/.test(Function.prototype.toString.call(fn));
    } catch (e) {
      return false;
    }
  }

  /**
   * Runs `fn` once the page has finished loading. Script tags and iframes that stay open
   * for a long time would otherwise hold back the page's `load` event and keep the
   * browser's loading indicator spinning.
   */
  function whenPageLoaded(fn) {
    const doc = global.document;
    if (!doc || doc.readyState === 'complete') return fn();
    global.addEventListener('load', () => fn(), { once: true });
  }

  function removeNode(node) {
    if (node && node.parentNode) node.parentNode.removeChild(node);
  }

  /** Keeps a helper element out of sight, out of the tab order and away from screen readers. */
  function hideElement(el) {
    el.setAttribute('aria-hidden', 'true');
    el.tabIndex = -1;
    const s = el.style;
    s.position = 'absolute';
    s.top = s.left = '-10000px';
    s.width = s.height = '1px';
    s.border = '0';
    s.visibility = 'hidden';
  }

  function readCookie(name) {
    const doc = global.document;
    if (!doc || typeof doc.cookie !== 'string') return null;
    const match = doc.cookie.match(new RegExp('(?:^|;)\\s*' + name + '=([^;]*)'));
    if (!match) return null;
    try {
      return decodeURIComponent(match[1]);
    } catch (e) {
      return null;
    }
  }

  function writeCookie(name, value) {
    const doc = global.document;
    if (doc) doc.cookie = name + '=' + encodeURIComponent(value);
  }

  /** Starts an XMLHttpRequest. `on.done(xhr)` gets any complete response, `on.fail()` the rest. */
  function httpRequest(method, url, body, on) {
    const xhr = new global.XMLHttpRequest();
    xhr.open(method, url, true);
    if (body !== null) xhr.setRequestHeader('Content-Type', FORM_CONTENT_TYPE);
    if (on.timeout) xhr.timeout = on.timeout;
    xhr.onload = () => on.done(xhr);
    xhr.onerror = xhr.ontimeout = () => on.fail();
    xhr.send(body);
    return xhr;
  }

  function abortRequest(xhr) {
    if (!xhr) return;
    xhr.onload = xhr.onerror = xhr.ontimeout = xhr.onprogress = xhr.onreadystatechange = null;
    try {
      xhr.abort();
    } catch (e) {
      // Already finished; nothing to abort.
    }
  }

  // ---------------------------------------------------------------------------------------
  // Transports
  // ---------------------------------------------------------------------------------------

  /**
   * What all transports share: URLs, receiving payloads, the session id handshake, the
   * data timeout, heartbeat echoes, and an outgoing buffer with one request in flight.
   *
   * Every asynchronous callback is wrapped with `bind`, which ties it to one connection
   * attempt: once the transport is closed (or reopened), late callbacks from the old
   * attempt do nothing. Subclasses implement `start()`, `teardown()` and `post(payload)`.
   */
  class Transport {
    constructor(socket, options) {
      this.socket = socket;
      this.options = Object.assign({ timeout: DEFAULT_TIMEOUT }, options);
      this.sessionid = null;
      this.connected = false;
      this.connecting = false;
      this.live = null;
      this.idleTimer = null;
      this.sendBuffer = [];
      this.posting = false;
    }

    get type() {
      return this.constructor.type;
    }

    /** Starts a new connection attempt, dropping whatever the previous one left behind. */
    open() {
      this.close();
      this.live = {};
      this.connecting = true;
      this.start();
    }

    /** Tears the connection down without telling the socket. Safe to call repeatedly. */
    close() {
      const wasLive = this.live !== null;
      this.live = null;
      clearTimeout(this.idleTimer);
      this.idleTimer = null;
      this.connected = false;
      this.connecting = false;
      this.sessionid = null;
      this.sendBuffer = [];
      this.posting = false;
      if (wasLive) this.teardown();
    }

    /** Closes the connection because it broke, and tells the socket. */
    fail(reason) {
      if (this.live === null) return;
      this.close();
      this.socket._onTransportClose(this, reason);
    }

    /**
     * Whether an HTTP answer refuses the session on the application's behalf (a 403 that
     * says so): then the socket gives up at once instead of trying other transports.
     */
    refused(xhr) {
      const text = xhr.status === 403 ? String(xhr.responseText || '') : '';
      if (!text.startsWith(REFUSAL)) return false;
      this.close();
      this.socket._onRefused(this, text.trim());
      return true;
    }

    /** Wraps a callback so that it only runs while this attempt is still the current one. */
    bind(fn) {
      const live = this.live;
      return (...args) => {
        if (live !== null && this.live === live) return fn.apply(this, args);
        return undefined;
      };
    }

    /** `<scheme>[s]://host:port/<resource>/<type>`; the port is always written out. */
    endpoint(scheme) {
      const options = this.socket.options;
      const secure = options.secure ? 's' : '';
      return `${scheme}${secure}://${this.socket.host}:${options.port}/${options.resource}/${this.type}`;
    }

    /**
     * `http[s]://host:port/<resource>/<type>/<sid>` followed by `suffix`. Before the
     * handshake the id is empty, which is how the server knows to start a new session.
     */
    url(suffix) {
      const sid = this.sessionid === null ? '' : encodeURIComponent(this.sessionid);
      return `${this.endpoint('http')}/${sid}${suffix}`;
    }

    /** Handles one payload from the server. Any data at all proves the link is alive. */
    onData(payload) {
      const live = this.live;
      this.resetIdleTimer();
      const { messages, error } = decode(payload);
      for (const message of messages) {
        if (this.live !== live) return;
        this.onMessage(message);
      }
      if (error && this.live === live) this.socket._onError(new Error(`Socket.IO: malformed payload (${error})`));
    }

    onMessage(message) {
      if (this.sessionid === null) return this.onSessionId(message);
      if (message.startsWith(HEARTBEAT)) return this.send([message]);
      if (message.startsWith(JSON_MARK)) return this.onJson(message.slice(JSON_MARK.length));
      return this.socket._onMessage(message);
    }

    /** The first message of every session is its id; only then is the transport connected. */
    onSessionId(id) {
      if (id === '') return this.fail('empty session id');
      this.sessionid = id;
      this.connecting = false;
      this.connected = true;
      this.socket._onTransportConnect(this);
    }

    onJson(text) {
      let value;
      try {
        value = JSON.parse(text);
      } catch (e) {
        return this.socket._onError(e);
      }
      return this.socket._onMessage(value);
    }

    resetIdleTimer() {
      clearTimeout(this.idleTimer);
      const timeout = this.options.timeout;
      this.idleTimer = setTimeout(this.bind(() => this.fail(`no data for ${timeout} ms`)), timeout);
    }

    /**
     * Queues messages and sends them when no other send is in flight; whatever arrives
     * meanwhile goes out together in the next request.
     */
    send(messages) {
      this.sendBuffer.push(...messages);
      this.flushSendBuffer();
    }

    flushSendBuffer() {
      if (this.posting || this.sendBuffer.length === 0 || this.sessionid === null) return;
      const payload = encode(this.sendBuffer);
      this.sendBuffer = [];
      this.posting = true;
      this.post(payload);
    }

    /** Subclasses call this when a send request has completed successfully. */
    postDone() {
      if (!this.posting) return;
      this.posting = false;
      this.flushSendBuffer();
    }

    static check() {
      return false;
    }

    static xdomainCheck() {
      return false;
    }
  }

  /**
   * `websocket`: the browser's native RFC 6455 WebSocket. One text message per payload,
   * both ways.
   */
  class WebSocketTransport extends Transport {
    start() {
      const ws = (this.ws = new global.WebSocket(this.endpoint('ws')));
      ws.onmessage = this.bind((event) => {
        if (typeof event.data === 'string') this.onData(event.data);
      });
      ws.onclose = this.bind(() => this.fail('websocket closed'));
      ws.onerror = this.bind(() => this.socket._onError(new Error('Socket.IO: WebSocket error')));
    }

    // No buffering: the socket keeps order, and the server reads frames one by one.
    send(messages) {
      const ws = this.ws;
      if (ws && ws.readyState === 1) ws.send(encode(messages));
    }

    teardown() {
      const ws = this.ws;
      this.ws = null;
      if (!ws) return;
      ws.onmessage = ws.onclose = ws.onerror = null;
      if (ws.readyState === 0 || ws.readyState === 1) ws.close();
    }

    static check() {
      return typeof global.WebSocket === 'function' && isNativeFunction(global.WebSocket);
    }

    static xdomainCheck() {
      return true;
    }
  }
  WebSocketTransport.type = 'websocket';

  /**
   * `flashsocket`: the same protocol through the web-socket-js Flash polyfill. It only
   * counts as available when that polyfill is what `WebSocket` is (there is no native one)
   * and it was told where its SWF lives, which in current browsers is never.
   */
  class FlashSocketTransport extends WebSocketTransport {
    static check() {
      const Polyfill = global.WebSocket;
      return (
        typeof Polyfill === 'function' &&
        !isNativeFunction(Polyfill) &&
        typeof Polyfill.__addTask === 'function' &&
        typeof global.WEB_SOCKET_SWF_LOCATION === 'string'
      );
    }

    static xdomainCheck() {
      return true;
    }
  }
  FlashSocketTransport.type = 'flashsocket';

  /** Base of the transports that send with an XHR POST to `…/<sid>/send`. */
  class XhrTransport extends Transport {
    post(payload) {
      this.postXhr = httpRequest('POST', this.url('/send'), 'data=' + encodeURIComponent(payload), {
        timeout: this.options.timeout,
        done: this.bind((xhr) => {
          this.postXhr = null;
          if (xhr.status === 200) this.postDone();
          else this.fail(`send answered ${xhr.status}`);
        }),
        fail: this.bind(() => this.fail('send failed')),
      });
    }

    teardown() {
      abortRequest(this.postXhr);
      this.postXhr = null;
    }

    static check() {
      return typeof global.XMLHttpRequest === 'function';
    }

    /** Cross-origin XHR needs CORS support, which `withCredentials` reveals. */
    static xdomainCheck() {
      return this.check() && 'withCredentials' in new global.XMLHttpRequest();
    }
  }

  /**
   * `htmlfile`: a "forever iframe". The server streams an HTML document that never ends,
   * one `<script>parent.s._("<payload>", document);</script>` per payload.
   *
   * `parent.s` has to reach this transport even with several sockets on one page, so the
   * stream is not loaded into an iframe of the page itself (its `parent` would be the page's
   * window, shared by everyone). Each transport makes its own blank container iframe, puts
   * its callback object at `s` on the container's window, and loads the stream in an iframe
   * inside the container: the stream's `parent` is then this transport's container. The
   * container is about:blank and so shares the page's origin, which is also the stream's
   * origin (htmlfile is only used same-origin), so the stream may call into it.
   */
  class HtmlFileTransport extends XhrTransport {
    start() {
      whenPageLoaded(this.bind(() => this.createContainer()));
    }

    createContainer() {
      const doc = global.document;
      const container = (this.container = doc.createElement('iframe'));
      hideElement(container);
      // A blank iframe's document is usable only once its load event has fired: before
      // that, some browsers may still swap in a fresh about:blank document.
      container.onload = this.bind(() => this.openStream());
      doc.body.appendChild(container);
    }

    openStream() {
      if (this.stream) return;
      const win = this.container.contentWindow;
      const doc = this.container.contentDocument;
      win.s = { _: this.bind((payload, streamDoc) => this.onScript(payload, streamDoc)) };
      const stream = (this.stream = doc.createElement('iframe'));
      // The stream never ends while the session lives: a load event means it ended or failed.
      stream.onload = this.bind(() => this.fail('htmlfile stream ended'));
      stream.src = this.url('/' + stamp());
      doc.body.appendChild(stream);
    }

    onScript(payload, streamDoc) {
      // Drop the script element that brought the payload, or the document grows forever.
      if (streamDoc && streamDoc.currentScript) removeNode(streamDoc.currentScript);
      this.onData(String(payload));
    }

    teardown() {
      super.teardown();
      if (this.container) {
        this.container.onload = null;
        if (this.stream) this.stream.onload = null;
        // Removing the container ends the stream's request too.
        removeNode(this.container);
      }
      this.container = this.stream = null;
    }

    static check() {
      return !!global.document && XhrTransport.check();
    }

    /** The stream must share the page's origin to reach `parent.s`. */
    static xdomainCheck() {
      return false;
    }
  }
  HtmlFileTransport.type = 'htmlfile';

  /**
   * `xhr-multipart`: one long GET whose `responseText` keeps growing with
   * `multipart/x-mixed-replace` parts, one payload per part.
   */
  class XhrMultipartTransport extends XhrTransport {
    start() {
      this.reader = new MultipartReader();
      const xhr = (this.streamXhr = new global.XMLHttpRequest());
      xhr.open('GET', this.url(''), true);
      // Read the body as plain UTF-8 text, whatever the browser thinks of multipart types.
      if (typeof xhr.overrideMimeType === 'function') xhr.overrideMimeType('text/plain; charset=UTF-8');
      // Browsers differ in which of these they fire for each chunk; reading is idempotent.
      xhr.onprogress = this.bind(() => this.readStream(false));
      xhr.onreadystatechange = this.bind(() => {
        if (xhr.readyState === 3) this.readStream(false);
      });
      xhr.onload = this.bind(() => {
        this.readStream(true);
        this.fail('xhr-multipart stream ended');
      });
      xhr.onerror = this.bind(() => this.fail('xhr-multipart stream failed'));
      xhr.send(null);
    }

    readStream(complete) {
      const xhr = this.streamXhr;
      // A refusal's text is read once it is whole.
      if (xhr.status === 403 && !complete) return undefined;
      if (complete && this.refused(xhr)) return undefined;
      if (xhr.status !== 200) return this.fail(`xhr-multipart stream answered ${xhr.status}`);
      let text = xhr.responseText;
      // While loading, the text may end with a replacement character standing in for the
      // first bytes of a character whose rest has not arrived. No part ends with one (parts
      // end with the boundary), so leave it for the next read.
      if (!complete && text.endsWith('\uFFFD')) text = text.slice(0, -1);
      const live = this.live;
      const { payloads, error } = this.reader.read(text);
      for (const payload of payloads) {
        if (this.live !== live) return undefined;
        this.onData(payload);
      }
      if (error && this.live === live) {
        this.socket._onError(new Error(`Socket.IO: malformed multipart stream (${error})`));
        this.fail('malformed multipart stream');
      }
      return undefined;
    }

    teardown() {
      super.teardown();
      abortRequest(this.streamXhr);
      this.streamXhr = null;
      this.reader = null;
    }
  }
  XhrMultipartTransport.type = 'xhr-multipart';

  /** `xhr-polling`: long polling with XHR GETs; the next poll starts as each one returns. */
  class XhrPollingTransport extends XhrTransport {
    constructor(socket, options) {
      super(socket, Object.assign({ timeout: POLLING_TIMEOUT }, options));
    }

    start() {
      this.poll();
    }

    poll() {
      this.pollXhr = httpRequest('GET', this.url('/' + stamp()), null, {
        done: this.bind((xhr) => this.onPollAnswer(xhr)),
        fail: this.bind(() => this.fail('poll failed')),
      });
    }

    onPollAnswer(xhr) {
      this.pollXhr = null;
      if (this.refused(xhr)) return undefined;
      if (xhr.status !== 200) return this.fail(`poll answered ${xhr.status}`);
      const live = this.live;
      // An empty answer only means the server had nothing to say; it still counts as data.
      this.onData(xhr.responseText);
      if (this.live === live) this.poll();
      return undefined;
    }

    teardown() {
      super.teardown();
      abortRequest(this.pollXhr);
      this.pollXhr = null;
    }
  }
  XhrPollingTransport.type = 'xhr-polling';

  /**
   * A stand-in for a jsonp transport that has been closed, kept at its `io.JSONP` slot: a
   * poll script still in flight calls it harmlessly instead of delivering old data.
   */
  const CLOSED_JSONP = Object.freeze({ _() {} });

  /**
   * `jsonp-polling`: each poll is a `<script>` whose answer calls `io.JSONP[index]._(payload)`;
   * sends are `no-cors` POSTs. Works across origins without CORS.
   *
   * Every session gets a fresh index, so a script of an earlier session that arrives late
   * finds `CLOSED_JSONP` at its index and cannot be mistaken for the new session's data.
   */
  class JsonpPollingTransport extends Transport {
    constructor(socket, options) {
      super(socket, Object.assign({ timeout: POLLING_TIMEOUT }, options));
      this.index = null;
      this.sendUrl = null;
      this.postAbort = null;
    }

    start() {
      this.index = io.JSONP.length;
      io.JSONP.push(this);
      whenPageLoaded(this.bind(() => this.poll()));
    }

    poll() {
      const doc = global.document;
      const script = doc.createElement('script');
      const poll = (this.currentPoll = { script, answered: false });
      script.async = true;
      script.src = this.url(`/${stamp()}/${this.index}`);
      // A script that loads but never calls back (the server refusing us, say) is as dead
      // as one that fails to load.
      script.onload = this.bind(() => {
        removeNode(script);
        if (!poll.answered) this.fail('poll script did not call back');
      });
      script.onerror = this.bind(() => {
        removeNode(script);
        this.fail('poll script failed to load');
      });
      (doc.head || doc.documentElement).appendChild(script);
    }

    /** Called by the poll's script: `io.JSONP[index]._("<payload>")`. */
    _(payload) {
      const poll = this.currentPoll;
      if (this.live === null || !poll || poll.answered) return;
      poll.answered = true;
      this.currentPoll = null;
      const live = this.live;
      this.onData(String(payload));
      if (this.live === live) this.poll();
    }

    /**
     * Sends with a `no-cors` fetch of a form-encoded body to a URL fixed for the session,
     * as the server expects. The answer cannot be read across origins, only that one came.
     *
     * The 0.6 client submitted a hidden form into an iframe instead. A form submission
     * turns every "\n" of the text into "\r\n" (so the length prefixes no longer match
     * and the rest of the payload is lost), and encodes the text in the page's charset
     * rather than UTF-8. A fetch body is sent exactly as given.
     */
    post(payload) {
      if (this.sendUrl === null) this.sendUrl = this.url(`/${stamp()}/${this.index}`);
      const controller = (this.postAbort = new global.AbortController());
      const timer = setTimeout(this.bind(() => this.fail('send timed out')), this.options.timeout);
      const finish = this.bind((ok) => {
        clearTimeout(timer);
        this.postAbort = null;
        if (ok) this.postDone();
        else this.fail('send failed');
      });
      global
        .fetch(this.sendUrl, {
          method: 'POST',
          mode: 'no-cors',
          credentials: 'include',
          headers: { 'Content-Type': FORM_CONTENT_TYPE },
          body: 'data=' + encodeURIComponent(payload),
          signal: controller.signal,
        })
        .then(
          () => finish(true),
          () => finish(false)
        );
    }

    teardown() {
      if (this.postAbort) this.postAbort.abort();
      if (this.index !== null) io.JSONP[this.index] = CLOSED_JSONP;
      if (this.currentPoll) removeNode(this.currentPoll.script);
      this.currentPoll = this.postAbort = this.sendUrl = null;
    }

    static check() {
      return !!global.document && typeof global.fetch === 'function' && typeof global.AbortController === 'function';
    }

    static xdomainCheck() {
      return true;
    }
  }
  JsonpPollingTransport.type = 'jsonp-polling';

  const transports = {
    websocket: WebSocketTransport,
    flashsocket: FlashSocketTransport,
    htmlfile: HtmlFileTransport,
    'xhr-multipart': XhrMultipartTransport,
    'xhr-polling': XhrPollingTransport,
    'jsonp-polling': JsonpPollingTransport,
  };

  // ---------------------------------------------------------------------------------------
  // The 0.6 extension point
  // ---------------------------------------------------------------------------------------

  /**
   * `io.Transport` as the 0.6 client had it: the base a page's own transport inherits from
   * (`io.Transport.apply(this, arguments)` and `io.util.inherit(Mine, io.Transport)`), and
   * the holder of every transport by name (`io.Transport['xhr-polling']`,
   * `io.Transport.mytransport = Mine`), each with `check()` and `xdomainCheck()`. A name in
   * the `transports` option is looked up here, so a transport a page adds is used like the
   * built-in ones. A page's transport keeps the 0.6 contract: `connect()`, `send(data)` and
   * `disconnect()`, calling `onData(payload)` (or `onMessage`) and `onDisconnect()`; it
   * reaches the socket through `this.base` (`options`, `host`, `isXDomain()`).
   */
  function LegacyTransport(base, options) {
    this.base = base;
    this.options = { timeout: 15000 };
    legacyUtil.merge(this.options, options);
  }
  LegacyTransport.prototype.send = function () {
    throw new Error('Missing send() implementation');
  };
  LegacyTransport.prototype.connect = function () {
    throw new Error('Missing connect() implementation');
  };
  LegacyTransport.prototype.disconnect = function () {
    throw new Error('Missing disconnect() implementation');
  };
  LegacyTransport.prototype.encode = function (messages) {
    return encode(Array.isArray(messages) ? messages : [messages]);
  };
  LegacyTransport.prototype.decode = function (data) {
    return decode(data).messages;
  };
  LegacyTransport.prototype.onData = function (data) {
    this.setTimeout();
    for (const message of this.decode(data)) this.onMessage(message);
  };
  LegacyTransport.prototype.setTimeout = function () {
    clearTimeout(this.timeout);
    this.timeout = setTimeout(() => this.onTimeout(), this.options.timeout);
  };
  LegacyTransport.prototype.onTimeout = function () {
    this.onDisconnect();
  };
  LegacyTransport.prototype.onMessage = function (message) {
    if (!this.sessionid) {
      this.sessionid = message;
      this.onConnect();
    } else if (message.startsWith(HEARTBEAT)) {
      this.onHeartbeat(message.slice(HEARTBEAT.length));
    } else if (message.startsWith(JSON_MARK)) {
      let value;
      try {
        value = JSON.parse(message.slice(JSON_MARK.length));
      } catch (e) {
        return this.base.onError(e);
      }
      this.base.onMessage(value);
    } else {
      this.base.onMessage(message);
    }
    return undefined;
  };
  LegacyTransport.prototype.onHeartbeat = function (heartbeat) {
    this.send(HEARTBEAT + heartbeat);
  };
  LegacyTransport.prototype.onConnect = function () {
    this.connected = true;
    this.connecting = false;
    this.base.onConnect();
    this.setTimeout();
  };
  LegacyTransport.prototype.onDisconnect = function () {
    clearTimeout(this.timeout);
    this.connecting = false;
    this.connected = false;
    this.sessionid = null;
    this.base.onDisconnect();
  };
  LegacyTransport.prototype.prepareUrl = function () {
    const o = this.base.options;
    return `${o.secure ? 'https' : 'http'}://${this.base.host}:${o.port}/${o.resource}/${this.type}` +
      (this.sessionid ? `/${this.sessionid}` : '/');
  };
  LegacyTransport.check = () => false;
  LegacyTransport.xdomainCheck = () => false;
  for (const name of Object.keys(transports)) LegacyTransport[name] = transports[name];

  /** The helpers a 0.6 transport of a page's own uses. */
  const legacyUtil = {
    inherit(ctor, superCtor) {
      // As in 0.6: the prototype's methods are copied, there is no `instanceof`.
      for (const key in superCtor.prototype) ctor.prototype[key] = superCtor.prototype[key];
    },
    merge(target, additional) {
      for (const key in additional) if (hasOwn(additional, key)) target[key] = additional[key];
    },
    isArray: (obj) => Array.isArray(obj),
    indexOf: (arr, item, from) => Array.prototype.indexOf.call(arr, item, from),
    defer: (fn) => later(fn),
    load(fn) {
      if (!global.document || /loaded|complete/.test(global.document.readyState)) return fn();
      return global.addEventListener('load', fn, false);
    },
  };

  /**
   * Runs a page's 0.6 transport under the socket: the socket sees the same few methods as
   * on its own transports, and the page's transport sees a `base` shaped like 0.6's socket.
   */
  class LegacyBridge {
    constructor(socket, name, Ctor, options) {
      this.socket = socket;
      this.name = name;
      this.Ctor = Ctor;
      this.options = options;
      this.inner = null;
    }

    get type() {
      return (this.inner && this.inner.type) || this.Ctor.prototype.type || this.name;
    }

    get sessionid() {
      return this.inner ? this.inner.sessionid || null : null;
    }

    open() {
      this.close();
      const socket = this.socket;
      const bridge = this;
      let inner = null;
      const live = () => bridge.inner === inner;
      const base = {
        options: socket.options,
        host: socket.host,
        isXDomain: () => socket._isCrossOrigin(),
        onConnect: () => live() && socket._onTransportConnect(bridge),
        onMessage: (m) => live() && socket._onMessage(m),
        onError: (e) => live() && socket._onError(e),
        onDisconnect: () => {
          if (!live()) return;
          bridge.inner = null;
          socket._onTransportClose(bridge, 'transport closed');
        },
        emit: (...args) => socket.emit(...args),
      };
      inner = new this.Ctor(base, this.options);
      this.inner = inner;
      inner.connecting = true;
      inner.connect();
    }

    close() {
      const inner = this.inner;
      this.inner = null;
      if (inner) {
        clearTimeout(inner.timeout);
        inner.disconnect();
      }
    }

    send(messages) {
      if (this.inner) this.inner.send(messages);
    }
  }

  // ---------------------------------------------------------------------------------------
  // Socket
  // ---------------------------------------------------------------------------------------

  function pageLocation() {
    return global.location || { hostname: 'localhost', port: '', protocol: 'http:' };
  }

  function defaultPort(secure) {
    return secure ? 443 : 80;
  }

  /**
   * Option defaults, with per-transport options merged one level deep. An option given as
   * `undefined` keeps its default.
   */
  function resolveOptions(options) {
    const page = pageLocation();
    const given = {};
    for (const [key, value] of Object.entries(options || {})) if (value !== undefined) given[key] = value;
    const secure = hasOwn(given, 'secure') ? !!given.secure : page.protocol === 'https:';
    const resolved = Object.assign(
      {
        port: page.port || defaultPort(secure),
        resource: 'socket.io',
        transports: DEFAULT_TRANSPORTS.slice(),
        connectTimeout: 5000,
        tryTransportsOnConnectTimeout: true,
        reconnect: true,
        reconnectionDelay: 500,
        maxReconnectionAttempts: 10,
        rememberTransport: true,
      },
      given,
      { secure }
    );
    resolved.transportOptions = {
      'xhr-polling': { timeout: POLLING_TIMEOUT },
      'jsonp-polling': { timeout: POLLING_TIMEOUT },
    };
    const perTransport = given.transportOptions || {};
    for (const name of Object.keys(perTransport)) {
      resolved.transportOptions[name] = Object.assign({}, resolved.transportOptions[name], perTransport[name]);
    }
    resolved.resource = String(resolved.resource).replace(/^\/+|\/+$/g, '');
    return resolved;
  }

  /** Accepts a bare host name, an IPv6 literal, or a URL such as `http://example.com:8080`. */
  function parseHost(host) {
    if (!host) return { host: pageLocation().hostname };
    const text = String(host);
    if (!/^[a-z][a-z0-9+.-]*:\/\//i.test(text)) {
      const bareIpv6 = text.includes(':') && !text.startsWith('[');
      return { host: bareIpv6 ? `[${text}]` : text };
    }
    const url = new URL(text);
    const parsed = { host: url.hostname, secure: url.protocol === 'https:' || url.protocol === 'wss:' };
    if (url.port) parsed.port = url.port;
    return parsed;
  }

  /**
   * A connection to a Socket.IO 0.6 server.
   *
   * Events: `connecting(type)`, `connect`, `connect_failed` (with the server's reason when
   * the application refused the session), `message(msg)`, `disconnect`,
   * `reconnecting(delay, attempt)`, `reconnect(type, attempts)`, `reconnect_failed`,
   * `error(e)`.
   */
  class Socket {
    constructor(host, options) {
      const parsed = parseHost(host);
      const given = Object.assign({}, options);
      // A URL given as host supplies scheme and port unless the options say otherwise.
      if (parsed.secure !== undefined && !hasOwn(given, 'secure')) given.secure = parsed.secure;
      if (parsed.port !== undefined && !hasOwn(given, 'port')) given.port = parsed.port;
      this.host = parsed.host;
      this.options = resolveOptions(given);
      this.connected = false;
      this.connecting = false;
      this.reconnecting = false;
      this.rememberedTransport = false;
      this._events = Object.create(null);
      this._queue = [];
      this._remaining = null;
      this._userClosed = false;
      this._connectTimer = null;
      this._reconnectTimer = null;
      this._finalPass = false;
      this._attempts = 0;
      this._delay = 0;
      this.transport = this._pickTransport(null);
    }

    // -- public API --

    /** Connects with the chosen transport; `fn`, if given, runs once on `connect`. */
    connect(fn) {
      if (typeof fn === 'function') this.once('connect', fn);
      if (this.connected) return this;
      this._userClosed = false;
      if (!this.transport) {
        later(() => this.emit('connect_failed'));
        return this;
      }
      if (this.connecting) this._abandonAttempt();
      this.connecting = true;
      this.emit('connecting', this.transport.type);
      // A `connecting` listener may have called disconnect().
      if (this.connecting) this._startAttempt();
      return this;
    }

    /** Sends a message; before the socket is connected, messages wait and go out together. */
    send(message) {
      if (this.connected && this.transport) this.transport.send([message]);
      else this._queue.push(message);
      return this;
    }

    /** Closes the connection for good: no reconnection, and queued messages are dropped. */
    disconnect() {
      const wasConnected = this.connected;
      this._userClosed = true;
      this._stopReconnecting(false);
      clearTimeout(this._connectTimer);
      this._queue = [];
      this._remaining = null;
      this.connected = false;
      this.connecting = false;
      if (this.transport) this.transport.close();
      if (wasConnected) this.emit('disconnect');
      return this;
    }

    on(event, fn) {
      (this._events[event] || (this._events[event] = [])).push(fn);
      return this;
    }

    once(event, fn) {
      const self = this;
      function wrapper(...args) {
        self.removeEvent(event, wrapper);
        return fn.apply(self, args);
      }
      wrapper.listener = fn;
      return this.on(event, wrapper);
    }

    /** Removes `fn`, whether it was added with `on` or with `once`. */
    removeEvent(event, fn) {
      const list = this._events[event];
      if (!list) return this;
      const at = list.findIndex((l) => l === fn || l.listener === fn);
      if (at !== -1) list.splice(at, 1);
      return this;
    }

    /**
     * Calls the listeners of `event`. A listener that throws does not stop the others nor
     * the socket's own bookkeeping; its exception is rethrown on its own.
     */
    emit(event, ...args) {
      const list = this._events[event];
      if (!list) return this;
      for (const fn of list.slice()) {
        try {
          fn.apply(this, args);
        } catch (e) {
          rethrowLater(e);
        }
      }
      return this;
    }

    // -- choosing and starting transports --

    /**
     * The first usable transport of `names`, or of the configured list. With
     * `rememberTransport`, the one that last worked (from the `socketio` cookie) is the
     * only candidate, and fallback is off.
     */
    _pickTransport(names) {
      let candidates = names || this.options.transports;
      this.rememberedTransport = false;
      if (!names && this.options.rememberTransport) {
        const remembered = readCookie('socketio');
        if (remembered && this._usable(remembered)) {
          this.rememberedTransport = true;
          candidates = [remembered];
        }
      }
      const name = candidates.find((n) => this._usable(n));
      if (name === undefined) return null;
      const T = LegacyTransport[name];
      const options = this.options.transportOptions[name] || {};
      if (T.prototype instanceof Transport) return new T(this, options);
      return new LegacyBridge(this, name, T, options);
    }

    /** A transport by name: built in, or added by the page to `io.Transport` (0.6's way). */
    _usable(name) {
      if (!hasOwn(LegacyTransport, name) || typeof LegacyTransport[name] !== 'function') return false;
      const T = LegacyTransport[name];
      if (typeof T.check !== 'function' || !T.check()) return false;
      return !this._isCrossOrigin() || (typeof T.xdomainCheck === 'function' && !!T.xdomainCheck());
    }

    /** A different host or port than the page counts as cross-origin. */
    _isCrossOrigin() {
      const page = pageLocation();
      const pagePort = page.port || defaultPort(page.protocol === 'https:');
      return (
        String(this.host).toLowerCase() !== String(page.hostname).toLowerCase() ||
        String(this.options.port) !== String(pagePort)
      );
    }

    _startAttempt() {
      const transport = this.transport;
      if (this.options.connectTimeout) {
        this._connectTimer = setTimeout(() => this._attemptFailed(), this.options.connectTimeout);
      }
      try {
        transport.open();
      } catch (e) {
        // E.g. a URL the WebSocket constructor rejects. Fail on a later turn, like any
        // other failed attempt, so that `connect()` itself returns normally.
        later(() => {
          if (this.transport === transport) this._attemptFailed();
        });
      }
    }

    /** Stops the current attempt without any event. */
    _abandonAttempt() {
      clearTimeout(this._connectTimer);
      this.transport.close();
      this.connecting = false;
    }

    /**
     * The attempt timed out or its transport failed before connecting. Move on to the next
     * usable transport if fallback is on; otherwise, or when none is left, `connect_failed`.
     */
    _attemptFailed() {
      if (this.connected || !this.connecting) return;
      this._abandonAttempt();
      const next = this._fallbackAllowed() ? this._nextTransport() : null;
      if (next) {
        this.transport = next;
        this.connect();
        return;
      }
      this._remaining = null;
      this.emit('connect_failed');
      if (this.reconnecting && this._finalPass) this._reconnectStep();
    }

    _fallbackAllowed() {
      if (this.rememberedTransport) return false;
      // While reconnecting, only the final pass walks the list.
      return this.reconnecting ? this._finalPass : !!this.options.tryTransportsOnConnectTimeout;
    }

    /** The first usable transport after the current one in this pass over the list. */
    _nextTransport() {
      const remaining = this._remaining || (this._remaining = this.options.transports.slice());
      remaining.splice(0, remaining.indexOf(this.transport.name || this.transport.type) + 1);
      return this._pickTransport(remaining);
    }

    // -- callbacks from the transport --

    _onTransportConnect(transport) {
      if (transport !== this.transport) return;
      clearTimeout(this._connectTimer);
      this.connected = true;
      this.connecting = false;
      this._remaining = null;
      if (this.options.rememberTransport) writeCookie('socketio', transport.type);
      if (this._queue.length) {
        const queued = this._queue;
        this._queue = [];
        transport.send(queued);
      }
      this.emit('connect');
      if (this.reconnecting) this._reconnectStep();
    }

    _onTransportClose(transport) {
      if (transport !== this.transport) return;
      if (this.connected) {
        this.connected = false;
        this.emit('disconnect');
        if (this.options.reconnect && !this._userClosed && !this.reconnecting) this._startReconnecting();
      } else if (this.connecting) {
        // Failing fast beats waiting for the connect timeout to notice.
        this._attemptFailed();
      }
    }

    /**
     * The server refused the session for the application (a missing or bad credential):
     * `connect_failed` with its reason, and no more attempts, now or in a reconnection,
     * since the same request would be refused again.
     */
    _onRefused(transport, reason) {
      if (transport !== this.transport) return;
      const wasReconnecting = this.reconnecting;
      clearTimeout(this._connectTimer);
      this.connecting = false;
      this.connected = false;
      this._remaining = null;
      this._stopReconnecting(false);
      this.emit('connect_failed', reason);
      if (wasReconnecting) this.emit('reconnect_failed');
    }

    _onMessage(message) {
      this.emit('message', message);
    }

    _onError(error) {
      this.emit('error', error);
    }

    // -- reconnection --

    /**
     * After an unexpected disconnect: try the same transport again after 1 s, 2 s, 4 s…
     * (the delay doubles before each attempt), up to `maxReconnectionAttempts` attempts;
     * then one last pass over every configured transport, ignoring the remembered one.
     * Each attempt is a new session.
     */
    _startReconnecting() {
      this.reconnecting = true;
      this._attempts = 0;
      this._delay = this.options.reconnectionDelay;
      this._finalPass = false;
      this._reconnectTimer = setTimeout(() => this._reconnectStep(), this._delay);
    }

    _reconnectStep() {
      clearTimeout(this._reconnectTimer);
      if (!this.reconnecting) return;
      if (this.connected) {
        this._stopReconnecting(true);
      } else if (this.connecting) {
        this._reconnectTimer = setTimeout(() => this._reconnectStep(), 1000);
      } else if (this._attempts >= this.options.maxReconnectionAttempts) {
        this._finalPassOrGiveUp();
      } else {
        this._attempts++;
        this._delay *= 2;
        this.connect();
        this.emit('reconnecting', this._delay, this._attempts);
        this._reconnectTimer = setTimeout(() => this._reconnectStep(), this._delay);
      }
    }

    /** Ends through `_onTransportConnect` or `connect_failed`, which call the step again. */
    _finalPassOrGiveUp() {
      const transport = this._finalPass ? null : this._pickTransport(this.options.transports);
      if (!transport) {
        this._stopReconnecting(false);
        this.emit('reconnect_failed');
        return;
      }
      this._finalPass = true;
      this._remaining = null;
      this.transport = transport;
      this.connect();
    }

    _stopReconnecting(succeeded) {
      if (!this.reconnecting) return;
      clearTimeout(this._reconnectTimer);
      this.reconnecting = false;
      this._finalPass = false;
      if (succeeded) this.emit('reconnect', this.transport.type, this._attempts);
    }
  }

  // Names the 0.6 client also answered to.
  Socket.prototype.addListener = Socket.prototype.addEvent = Socket.prototype.addEventListener = Socket.prototype.on;
  Socket.prototype.removeListener = Socket.prototype.removeEventListener = Socket.prototype.removeEvent;
  Socket.prototype.fire = Socket.prototype.emit;

  // ---------------------------------------------------------------------------------------
  // Exports
  // ---------------------------------------------------------------------------------------

  const previous = global.io;
  const io = {
    version: VERSION,
    Socket,
    // 0.6's base transport, holding every transport by name; the built-in ones are also in
    // `transports`.
    Transport: LegacyTransport,
    transports,
    util: legacyUtil,
    // Poll scripts call `io.JSONP[<index>]._(…)`. Keep the array of a copy loaded earlier,
    // whose sockets may still be polling.
    JSONP: previous && Array.isArray(previous.JSONP) ? previous.JSONP : [],
    codec: { encode, decode, stringify, MultipartReader },
  };

  global.io = io;
  if (typeof module === 'object' && module && module.exports) module.exports = io;
})(typeof window !== 'undefined' ? window : globalThis);
