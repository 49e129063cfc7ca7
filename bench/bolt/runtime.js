// A Lambda Runtime API client for plain Node.js (what the managed nodejs runtime does for
// a handler): poll /invocation/next, call the handler, post the result. Bolt has no runtime
// client of its own; this is the loop the benchmark's emulator talks to.
const http = require('node:http');

const api = process.env.AWS_LAMBDA_RUNTIME_API;
const base = `/2018-06-01/runtime`;
const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
const [modulePath, exportName] = (process.env._HANDLER || './app.handler').split(/\.(?=[^.]+$)/);
const [host, port] = api.split(':');

function request(method, path, body) {
  return new Promise((resolve, reject) => {
    const data = body === undefined ? undefined : Buffer.from(body);
    const req = http.request(
      { host, port: Number(port), method, path, agent, headers: data ? { 'content-type': 'application/json', 'content-length': data.length } : {} },
      (res) => {
        const chunks = [];
        res.on('data', (c) => chunks.push(c));
        res.on('end', () => resolve({ headers: res.headers, body: Buffer.concat(chunks).toString('utf8') }));
      },
    );
    req.on('error', reject);
    if (data) req.write(data);
    req.end();
  });
}

async function main() {
  let handler;
  try {
    handler = require(require('node:path').resolve(__dirname, modulePath))[exportName];
  } catch (e) {
    await request('POST', `${base}/init/error`, JSON.stringify({ errorType: 'Runtime.ImportModuleError', errorMessage: String(e) }));
    process.exit(1);
  }
  for (;;) {
    const next = await request('GET', `${base}/invocation/next`);
    const id = next.headers['lambda-runtime-aws-request-id'];
    const context = {
      awsRequestId: id,
      invokedFunctionArn: next.headers['lambda-runtime-invoked-function-arn'],
      getRemainingTimeInMillis: () => Number(next.headers['lambda-runtime-deadline-ms']) - Date.now(),
    };
    try {
      const result = await handler(JSON.parse(next.body), context, () => {});
      await request('POST', `${base}/invocation/${id}/response`, JSON.stringify(result === undefined ? null : result));
    } catch (e) {
      await request('POST', `${base}/invocation/${id}/error`, JSON.stringify({ errorType: e.name || 'Error', errorMessage: String(e && e.message) }));
    }
  }
}

main();
