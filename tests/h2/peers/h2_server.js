// A real HTTP/2 server (Node's http2 module) as an upstream for the proxy's
// HTTP/2 tests. Usage: node h2_server.js PORT NAME
//   /echo        streams the request body back; response headers say what
//                lane headers arrived; trailers x-body-bytes and x-trailer
//   /slow?ms=N   answers after N ms
//   /reset       sends the head and part of the body, then resets the stream
//   /goaway      answers, then closes the session gracefully (GOAWAY: the
//                streams it accepted finish, later ones are refused)
//   /reset-early resets the stream (INTERNAL_ERROR) before any response byte
//   /reset-once?key=K  the same for the first request with key K, then answers
//   /hold        takes the body and never answers; /last-close says the
//                RST_STREAM code the last /hold stream closed with
'use strict';
const http2 = require('http2');

const port = Number(process.argv[2]);
const name = process.argv[3] || 'h2';

const server = http2.createServer();
const resetKeys = new Set();
let lastHoldClose = 'none';
server.on('stream', (stream, headers) => {
  stream.on('error', () => {});  // resets are part of the tests
  const url = new URL(headers[':path'], 'http://x');
  const seen = {
    'x-server': name,
    'x-seen-lane': headers['x-graymesh-lane'] || '',
    'x-seen-baggage': headers['baggage'] || '',
    'x-seen-traceparent': headers['traceparent'] || '',
    'x-seen-source': headers['x-graymesh-source'] || '',
    'x-seen-authority': headers[':authority'] || '',
  };
  if (url.pathname === '/echo') {
    stream.respond({ ':status': 200, ...seen }, { waitForTrailers: true });
    let bytes = 0;
    stream.on('data', (chunk) => { bytes += chunk.length; stream.write(chunk); });
    stream.on('end', () => {
      stream.on('wantTrailers', () => {
        stream.sendTrailers({ 'x-body-bytes': String(bytes), 'x-trailer': 'done' });
      });
      stream.end();
    });
    return;
  }
  if (url.pathname === '/slow') {
    const t = setTimeout(() => {
      if (!stream.destroyed) { stream.respond({ ':status': 200, ...seen }); stream.end('slow\n'); }
    }, Number(url.searchParams.get('ms') || 1000));
    stream.on('close', () => clearTimeout(t));
    return;
  }
  if (url.pathname === '/reset') {
    stream.respond({ ':status': 200, ...seen });
    stream.write('x'.repeat(1000));
    // destroy with an error: RST_STREAM INTERNAL_ERROR after part of the body
    setTimeout(() => stream.destroy(new Error('cut off')), 50);
    return;
  }
  if (url.pathname === '/reset-early' ||
      (url.pathname === '/reset-once' && !resetKeys.has(url.searchParams.get('key')))) {
    resetKeys.add(url.searchParams.get('key'));
    stream.close(http2.constants.NGHTTP2_INTERNAL_ERROR);
    return;
  }
  if (url.pathname === '/hold') {
    lastHoldClose = 'open';
    stream.on('data', () => {});
    stream.on('close', () => { lastHoldClose = String(stream.rstCode); });
    return;
  }
  if (url.pathname === '/last-close') {
    stream.resume();
    stream.respond({ ':status': 200 });
    stream.end(lastHoldClose + '\n');
    return;
  }
  if (url.pathname === '/goaway') {
    stream.respond({ ':status': 200, ...seen });
    stream.end('bye\n');
    // Graceful: GOAWAY with the last stream Node accepted; those finish,
    // later ones must go elsewhere.
    stream.session.close();
    return;
  }
  stream.resume();
  stream.respond({ ':status': 200, ...seen });
  stream.end(name + '\n');
});
server.listen(port, '127.0.0.1', () => console.log('listening ' + port));
process.on('SIGTERM', () => process.exit(0));
