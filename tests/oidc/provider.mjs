// provider.mjs: a real OpenID Connect provider (oidc-provider) on loopback for Blatt's tests.
// Licensed under the Apache License, Version 2.0.
//
// Usage: node provider.mjs PORT
// Listens on 127.0.0.1:PORT with issuer http://127.0.0.1:PORT and fresh signing keys (RSA-2048
// "rsa-1" for RS256, P-256 "ec-1" for ES256). When ready it prints, on stdout:
//   issuer http://127.0.0.1:PORT
//   jwks_uri http://127.0.0.1:PORT/jwks
//   token_endpoint http://127.0.0.1:PORT/token
// Environment: OIDC_KID_SUFFIX=N names the keys "rsa-N" and "ec-N" instead (a restart with
// another suffix is a key rotation); OIDC_KEYS_FILE=PATH keeps the private keys in PATH (read
// when it exists, else written), so that two providers can sign with the same keys;
// OIDC_TLS_CERT and OIDC_TLS_KEY (PEM files) serve https, with issuer https://127.0.0.1:PORT.
//
// Per-user tokens without a browser: oidc-provider has no password grant, so every test user
// is a client of its own (client_id = user name, client_secret = "<user>-secret") that uses
// the client_credentials grant. Its JWT access token (typ at+jwt) carries sub = the user name
// (oidc-provider sets sub to the client_id when there is no end-user), client_id, iss, aud,
// iat, exp (10 minutes), jti, and, from extraTokenClaims, preferred_username, name, email and
// groups. Client "blatt-service" (secret "blatt-service-secret") is a plain service: no groups.
//
// The audience comes from the resource indicator (RFC 8707): no resource or "urn:blatt" gives
// aud "blatt" signed RS256; "urn:blatt-test:ALG:AUD[:TTL]" gives aud AUD signed with ALG (RS256
// or ES256), valid for TTL seconds (default 600). tests/oidc/get-token.sh wraps this.
import crypto from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import https from 'node:https';

import Provider, { errors } from 'oidc-provider';

// oidc-provider prints its development notices with console.info: keep stdout for our lines.
console.info = (...args) => console.error(...args);

const USERS = {
  alice: { name: 'Alice Liddell', groups: ['staff'] },
  bob: { name: 'Bob Marley', groups: ['staff', 'students'] },
  carol: { name: 'Carol Danvers', groups: ['admins'] },
};

const port = Number(process.argv[2]);
if (!Number.isInteger(port) || port < 1 || port > 65535) {
  console.error('usage: node provider.mjs PORT');
  process.exit(2);
}
const tls = process.env.OIDC_TLS_CERT && process.env.OIDC_TLS_KEY;
const issuer = `${tls ? 'https' : 'http'}://127.0.0.1:${port}`;
const kidSuffix = /^[A-Za-z0-9-]{1,16}$/.test(process.env.OIDC_KID_SUFFIX || '')
  ? process.env.OIDC_KID_SUFFIX
  : '1';

// Signing keys, new on every start unless OIDC_KEYS_FILE has them (private JWKs for
// oidc-provider's keystore).
function signingKeys() {
  const file = process.env.OIDC_KEYS_FILE;
  if (file && fs.existsSync(file)) {
    return JSON.parse(fs.readFileSync(file, 'utf8'));
  }
  const keys = newKeys();
  if (file) {
    fs.writeFileSync(file, JSON.stringify(keys), { mode: 0o600 });
  }
  return keys;
}

function newKeys() {
  const rsa = crypto.generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey;
  const ec = crypto.generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey;
  return [
    { ...rsa.export({ format: 'jwk' }), kid: `rsa-${kidSuffix}`, use: 'sig', alg: 'RS256' },
    { ...ec.export({ format: 'jwk' }), kid: `ec-${kidSuffix}`, use: 'sig', alg: 'ES256' },
  ];
}

function client(id) {
  return {
    client_id: id,
    client_secret: `${id}-secret`,
    grant_types: ['client_credentials'],
    response_types: [],
    redirect_uris: [],
    token_endpoint_auth_method: 'client_secret_basic',
  };
}

// The resource server (audience, signing algorithm) a resource indicator stands for.
async function getResourceServerInfo(ctx, resource) {
  let alg = 'RS256';
  let audience = 'blatt';
  let ttl = 600;
  if (resource !== 'urn:blatt') {
    const m = /^urn:blatt-test:(RS256|ES256):([A-Za-z0-9._-]{1,64})(?::([1-9][0-9]{0,4}))?$/.exec(
      resource,
    );
    if (!m) {
      throw new errors.InvalidTarget('unknown resource indicator');
    }
    [, alg, audience] = m;
    ttl = m[3] ? Number(m[3]) : ttl;
  }
  return {
    scope: 'print',
    audience,
    accessTokenFormat: 'jwt',
    accessTokenTTL: ttl,
    jwt: { sign: { alg } },
  };
}

// The user claims of a test user's token; nothing for other clients.
async function extraTokenClaims(ctx, token) {
  const user = Object.hasOwn(USERS, token.clientId) ? USERS[token.clientId] : null;
  if (token.kind !== 'ClientCredentials' || !user) {
    return undefined;
  }
  return {
    preferred_username: token.clientId,
    name: user.name,
    email: `${token.clientId}@example.test`,
    groups: user.groups,
  };
}

const provider = new Provider(issuer, {
  clients: [...Object.keys(USERS), 'blatt-service'].map(client),
  jwks: { keys: signingKeys() },
  scopes: ['openid', 'print'],
  features: {
    devInteractions: { enabled: false },
    clientCredentials: { enabled: true },
    introspection: { enabled: true },
    resourceIndicators: {
      enabled: true,
      defaultResource: async () => 'urn:blatt',
      getResourceServerInfo,
      useGrantedResource: async () => true,
    },
  },
  extraTokenClaims,
  cookies: { keys: [crypto.randomBytes(32).toString('base64url')] },
});

const server = tls
  ? https.createServer(
      {
        cert: fs.readFileSync(process.env.OIDC_TLS_CERT),
        key: fs.readFileSync(process.env.OIDC_TLS_KEY),
      },
      provider.callback(),
    )
  : http.createServer(provider.callback());
server.listen(port, '127.0.0.1', () => {
  process.stdout.write(
    `issuer ${issuer}\njwks_uri ${issuer}/jwks\ntoken_endpoint ${issuer}/token\n`,
  );
});
server.on('error', (err) => {
  console.error(`provider: ${err.message}`);
  process.exit(1);
});
for (const sig of ['SIGTERM', 'SIGINT']) {
  process.on(sig, () => {
    server.close(() => process.exit(0));
    server.closeAllConnections();
  });
}
