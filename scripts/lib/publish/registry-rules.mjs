// npm's rules, enforced in front of the embedded staging registry (Verdaccio 9),
// so that a rehearsal fails where the public registry would refuse. Plain
// JavaScript: it runs inside registry-server.mjs on the pinned Node 24.
//
// Who may do what (RELEASING.md, "Who may write"):
//   CI identity   trusted publishing (OIDC). npm exchanges the job's ID token
//                 inside `npm publish` / `npm stage publish` only, for a token
//                 that may stage-publish that one package. Here the registry
//                 plays both parts: GitHub's ID-token endpoint
//                 (GET /-/xsnap/oidc/id-token, the job's request token) and
//                 npm's exchange (POST /-/npm/v1/oidc/token/exchange/package/<name>).
//                 A token so obtained may POST /-/stage/package/<name> and
//                 nothing else: every other request carrying it answers 401.
//   nobody        reads packuments and tarballs; every /-/stage request and every
//                 write is 401.
//   maintainer    any other credential (their `npm login` session, a
//                 read-write granular token without 2FA bypass): may stage and
//                 read stages; every other write (approve, reject, publish,
//                 dist-tag, deprecate, unpublish) needs a one-time code in
//                 `npm-otp`, else 401 with `www-authenticate: OTP` (npm's EOTP).
//                 With `securityKey` the account has no authenticator: every
//                 such write answers EOTP carrying an authUrl, as npm does.
//
// The rules file (JSON, 0600, written by local-registry.ts):
//   { "oidcRequestToken": "<hex>", "publisherToken": "<the CI identity's Verdaccio token>",
//     "totpSecret": "<hex>", "securityKey": false }
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { pathToFileURL } from 'node:url';

/** RFC 6238 TOTP (HMAC-SHA1, 30 s steps, 6 digits): what an authenticator app shows for `secretHex` at `ms`. */
export function totp(secretHex, ms = Date.now(), digits = 6) {
  const counter = Buffer.alloc(8);
  counter.writeBigUInt64BE(BigInt(Math.floor(ms / 30000)));
  const mac = createHmac('sha1', Buffer.from(secretHex, 'hex')).update(counter).digest();
  const offset = mac[mac.length - 1] & 0xf;
  const code = (mac.readUInt32BE(offset) & 0x7fffffff) % 10 ** digits;
  return String(code).padStart(digits, '0');
}

const same = (a, b) => {
  if (a === undefined || b === undefined) return false;
  const x = Buffer.from(String(a));
  const y = Buffer.from(String(b));
  return x.length === y.length && timingSafeEqual(x, y);
};

const READ_METHODS = new Set(['GET', 'HEAD']);
const OIDC_TOKEN_TTL_MS = 5 * 60 * 1000;

function send(res, status, body, headers = {}) {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text), ...headers });
  res.end(text);
}

const bearer = (req) => /^Bearer\s+(\S+)$/i.exec(req.headers.authorization ?? '')?.[1];
const b64url = (obj) => Buffer.from(JSON.stringify(obj)).toString('base64url');

/**
 * The gate: returns a request handler that answers what npm's rules refuse
 * and hands everything else to `next` (Verdaccio), with the CI identity's
 * credential swapped for the publisher's Verdaccio token.
 */
export function npmRulesGate(readRules, next) {
  /** ID tokens handed out by the emulated GitHub endpoint */
  const idTokens = new Set();
  /** exchanged tokens: token -> { pkg, expires } */
  const exchanged = new Map();

  return (req, res) => {
    const rules = readRules();
    const url = new URL(req.url ?? '/', 'http://registry.invalid');
    const path = decodeURIComponent(url.pathname);
    const method = (req.method ?? 'GET').toUpperCase();
    const token = bearer(req);

    // GitHub's part: the job's OIDC ID token, for its request token
    if (path === '/-/xsnap/oidc/id-token') {
      if (method !== 'GET' || !token || !same(token, rules.oidcRequestToken))
        return send(res, 401, { error: 'bad OIDC request token' });
      const idToken = [
        b64url({ alg: 'none', typ: 'JWT' }),
        b64url({
          iss: 'local-rehearsal',
          aud: url.searchParams.get('audience') ?? '',
          // not "public": npm would then turn on provenance, which a loopback registry cannot take
          repository_visibility: 'private',
          jti: randomBytes(8).toString('hex'),
        }),
        'unsigned',
      ].join('.');
      idTokens.add(idToken);
      return send(res, 200, { value: idToken });
    }
    // npm's part: the exchange, done inside `npm publish` / `npm stage publish` only
    const exchange = /^\/-\/npm\/v1\/oidc\/token\/exchange\/package\/(.+)$/.exec(path);
    if (exchange) {
      if (method !== 'POST' || !token || !idTokens.has(token))
        return send(res, 401, { error: 'OIDC token exchange: not a valid ID token' });
      const minted = `oidc-${randomBytes(24).toString('hex')}`;
      exchanged.set(minted, { pkg: exchange[1], expires: Date.now() + OIDC_TOKEN_TTL_MS });
      return send(res, 201, { token: minted });
    }

    const oidc = token ? exchanged.get(token) : undefined;
    const ciIdentity = Boolean(oidc) || (token !== undefined && same(token, rules.publisherToken));
    const stagePublish = /^\/-\/stage\/package\/(.+)$/.exec(path);
    if (ciIdentity) {
      const live = !oidc || oidc.expires > Date.now();
      const mayStage = method === 'POST' && stagePublish && (!oidc || stagePublish[1] === oidc.pkg);
      if (!live || !mayStage)
        return send(res, 401, {
          error: `trusted publishing (OIDC) authorises npm stage publish of one package and nothing else: ${method} ${path} refused`,
        });
      req.headers.authorization = `Bearer ${rules.publisherToken}`;
      return next(req, res);
    }
    if (path === '/-/stage' || path.startsWith('/-/stage/')) {
      if (!token) return send(res, 401, { error: 'staged publishing needs a logged-in maintainer' });
    }
    const write =
      !READ_METHODS.has(method) &&
      !stagePublish &&
      // logging in / adding a user is how a maintainer gets a session, not a write to a package
      !path.startsWith('/-/user/') &&
      !path.startsWith('/-/v1/login');
    // npm answers every write without credentials with 401
    if (write && !token) return send(res, 401, { error: 'this write needs a logged-in user' });
    if (write) {
      if (rules.securityKey) {
        const id = randomBytes(8).toString('hex');
        const base = `http://${req.headers.host ?? '127.0.0.1'}`;
        return send(
          res,
          401,
          {
            error: 'This operation requires a one-time password (security key).',
            authUrl: `${base}/-/xsnap/webauth/${id}`,
            doneUrl: `${base}/-/xsnap/webauth/${id}/done`,
          },
          { 'www-authenticate': 'OTP' },
        );
      }
      const otp = String(req.headers['npm-otp'] ?? '');
      const now = Date.now();
      const secret = rules.totpSecret;
      const valid = Boolean(secret) && [-1, 0, 1].some((step) => otp && same(otp, totp(secret, now + step * 30000)));
      if (!valid)
        return send(
          res,
          401,
          { error: 'This operation requires a one-time password from your authenticator.' },
          { 'www-authenticate': 'OTP' },
        );
    }
    return next(req, res);
  };
}

/** Put the gate in front of an http.Server's request listeners. */
export function installNpmRules(server, rulesFile) {
  // read on every request: local-registry.ts writes the file once the server
  // answers (the CI identity's token is made through the server); until then,
  // and if it is unreadable, nothing but reads and logins passes
  const readRules = () => {
    try {
      return JSON.parse(readFileSync(rulesFile, 'utf8'));
    } catch {
      return {};
    }
  };
  const listeners = server.listeners('request');
  server.removeAllListeners('request');
  const next = (req, res) => {
    for (const l of listeners) l.call(server, req, res);
  };
  server.on('request', npmRulesGate(readRules, next));
}

// `node registry-rules.mjs --otp <registry dir>`: the local registry's current
// one-time code, as the maintainer's authenticator app would show it
if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href && process.argv[2] === '--otp') {
  const dir = process.argv[3] ?? '.registry';
  const rules = JSON.parse(readFileSync(`${dir}/rules.json`, 'utf8'));
  process.stdout.write(totp(rules.totpSecret) + '\n');
}
