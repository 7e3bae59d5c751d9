// A gRPC client for graymesh's tests. Usage:
//   node client.js ADDR unary|bidi|server|client [key=value metadata...]
// Prints one JSON line: {"ok": [answers...]} or {"code": N, "details": "..."}.
// SLEEP_MS and DEADLINE_MS (environment) set the request's sleep and the
// call's deadline.
'use strict';
const path = require('path');
const grpc = require('@grpc/grpc-js');
const loader = require('@grpc/proto-loader');

const def = loader.loadSync(path.join(__dirname, 'echo.proto'));
const proto = grpc.loadPackageDefinition(def).graymesh.test;
const [addr, kind, ...pairs] = process.argv.slice(2);
const client = new proto.Echo(addr, grpc.credentials.createInsecure());
const md = new grpc.Metadata();
for (const p of pairs) {
  const i = p.indexOf('=');
  md.set(p.slice(0, i), p.slice(i + 1));
}
const opts = process.env.DEADLINE_MS
  ? { deadline: new Date(Date.now() + Number(process.env.DEADLINE_MS)) } : {};
const msg = { text: 'hi', sleepMs: Number(process.env.SLEEP_MS || 0) };

function fail(e) {
  console.log(JSON.stringify({ code: e.code, details: e.details }));
  process.exit(0);
}
function done(answers) {
  console.log(JSON.stringify({ ok: answers }));
  process.exit(0);
}

if (kind === 'unary') {
  client.Unary(msg, md, opts, (e, r) => (e ? fail(e) : done([r.text])));
} else if (kind === 'server') {
  const out = [];
  const call = client.ServerStream(msg, md, opts);
  call.on('data', (m) => out.push(m.text));
  call.on('error', fail);
  call.on('end', () => done(out));
} else if (kind === 'client') {
  const call = client.ClientStream(md, opts, (e, r) => (e ? fail(e) : done([r.text])));
  for (let i = 0; i < 5; i++) call.write(msg);
  call.end();
} else {
  // Bidi: each message is sent only after the answer to the previous one
  // came back, so the stream is really interactive through the proxies.
  const out = [];
  const call = client.Bidi(md, opts);
  let sent = 0;
  const send = () => { call.write({ text: 'm' + sent++ }); };
  call.on('data', (m) => {
    out.push(m.text);
    if (sent < 3) send(); else call.end();
  });
  call.on('error', fail);
  call.on('end', () => done(out));
  send();
}
