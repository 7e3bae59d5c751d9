// A gRPC service for graymesh's tests (@grpc/grpc-js), an app behind a
// sidecar. Usage: node server.js PORT NAME [NEXT_ADDR NEXT_SERVICE]
// Every answer is "NAME:LANE" (LANE = the x-graymesh-lane metadata it got),
// followed by ">" and the next hop's answer when NEXT_ADDR (its sidecar's
// outbound side) is given. Like an OpenTelemetry-instrumented app, it
// forwards traceparent and baggage, not x-graymesh-lane.
// FAIL_CODE (environment): every unary call fails with that gRPC status.
// TLS_CERT (environment): serve over TLS with TLS_CERT.crt and TLS_CERT.key.
'use strict';
const fs = require('fs');
const path = require('path');
const grpc = require('@grpc/grpc-js');
const loader = require('@grpc/proto-loader');

const def = loader.loadSync(path.join(__dirname, 'echo.proto'));
const proto = grpc.loadPackageDefinition(def).graymesh.test;
const [port, name, nextAddr, nextService] = process.argv.slice(2);
const next = nextAddr
  ? new proto.Echo(nextAddr, grpc.credentials.createInsecure(),
                   { 'grpc.default_authority': nextService })
  : null;

function me(call) {
  return name + ':' + (call.metadata.get('x-graymesh-lane')[0] || '');
}
function forwarded(call) {
  const md = new grpc.Metadata();
  for (const k of ['traceparent', 'baggage']) {
    const v = call.metadata.get(k)[0];
    if (v) md.set(k, v);
  }
  return md;
}

const impl = {
  Unary(call, cb) {
    if (process.env.FAIL_CODE) {
      return cb({ code: Number(process.env.FAIL_CODE), details: name + ' fails on purpose' });
    }
    const answer = () => {
      if (!next) return cb(null, { text: me(call) });
      next.Unary(call.request, forwarded(call), (err, r) => {
        if (err) return cb(err);
        cb(null, { text: me(call) + '>' + r.text });
      });
    };
    setTimeout(answer, call.request.sleepMs || 0);
  },
  ServerStream(call) {
    for (let i = 0; i < 3; i++) call.write({ text: me(call) + '#' + i });
    call.end();
  },
  ClientStream(call, cb) {
    let n = 0;
    call.on('data', () => n++);
    call.on('end', () => cb(null, { text: me(call) + '#' + n }));
  },
  Bidi(call) {
    if (!next) {
      call.on('data', (m) => call.write({ text: me(call) + ':' + m.text }));
      call.on('end', () => call.end());
      return;
    }
    const down = next.Bidi(forwarded(call));
    down.on('data', (m) => call.write({ text: me(call) + '>' + m.text }));
    down.on('end', () => call.end());
    down.on('error', (e) => call.destroy(e));
    call.on('data', (m) => down.write(m));
    call.on('end', () => down.end());
  },
};

const server = new grpc.Server();
server.addService(proto.Echo.service, impl);
const credentials = process.env.TLS_CERT
  ? grpc.ServerCredentials.createSsl(null, [{
    private_key: fs.readFileSync(process.env.TLS_CERT + '.key'),
    cert_chain: fs.readFileSync(process.env.TLS_CERT + '.crt'),
  }], false)
  : grpc.ServerCredentials.createInsecure();
server.bindAsync('127.0.0.1:' + port, credentials, (err) => {
  if (err) { console.error(err); process.exit(1); }
  console.log('listening ' + port);
});
process.on('SIGTERM', () => process.exit(0));
