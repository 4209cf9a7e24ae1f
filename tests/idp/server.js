// Test OpenID provider for the thunderid_mw test suite (oidc-provider v9).
//
// Mimics ThunderID: endpoints under /oauth2/, `iss` in the authorization response (RFC 9207),
// refresh tokens rotated on every use with reuse detection, token exchange (RFC 8693) and
// the `account_switch` grant. A JSON admin API under /__test__/ lets tests count and
// perturb the token endpoint (see control.js).
//
// Environment: PORT (0 = any free port; the issuer is printed on stdout as
// `READY <issuer>`), TLS_CERT + TLS_KEY (PEM paths: serve HTTPS), ACCESS_TOKEN_TTL,
// REFRESH_TOKEN_TTL (seconds), PKJWT_CLIENT_JWK (public JWK of the private_key_jwt client
// `pkjwt-client`), PAR_REQUIRED=1 (every authorization request must be pushed, RFC 9126),
// DEBUG (verbose logs), IDP_PROFILE (`default`, or `thunderid`: answer like
// ThunderID's server, see thunderid.js).

import './quiet.js';

import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import * as http from 'node:http';
import * as https from 'node:https';

import Provider from 'oidc-provider';
import MemoryAdapter from 'oidc-provider/lib/adapters/memory_adapter.js';
import LRU from 'oidc-provider/lib/helpers/lru.js';

import { findAccount } from './accounts.js';
import {
  adminApi, instrument, onGrantError, onRefreshTokenConsumed, REFRESH_TOKEN_TTL, state,
} from './control.js';
import { ACCOUNT_SWITCH, registerGrants, TOKEN_EXCHANGE } from './grants.js';
import { esc, interactionRoutes, page } from './interactions.js';
import {
  IS_THUNDERID, patchIdTokens, renderPlainError, thunderidEndpoints, thunderidSigningKeys,
} from './thunderid.js';

const HOST = '127.0.0.1';

const ROUTES = {
  authorization: '/oauth2/authorize',
  token: '/oauth2/token',
  revocation: '/oauth2/revoke',
  introspection: '/oauth2/introspect',
  userinfo: '/oauth2/userinfo',
  jwks: '/oauth2/jwks',
  end_session: '/oauth2/logout',
  pushed_authorization_request: '/oauth2/par',
};

const SCOPES = ['openid', 'profile', 'email', 'offline_access', 'api:read', 'api:write'];

// ThunderID has no custom grants: its profile has no account_switch.
const GRANT_TYPES = ['authorization_code', 'refresh_token', TOKEN_EXCHANGE, ...(IS_THUNDERID ? [] : [ACCOUNT_SWITCH])];
const PLACEHOLDER_REDIRECT = 'http://127.0.0.1/callback';

const CLIENTS = [
  { client_id: 'conf-client', client_secret: 'conf-secret', token_endpoint_auth_method: 'client_secret_basic' },
  { client_id: 'conf-post-client', client_secret: 'conf-post-secret', token_endpoint_auth_method: 'client_secret_post' },
  { client_id: 'public-client', token_endpoint_auth_method: 'none' },
  // private_key_jwt (RFC 7523): the tests hold the private key (tests/support/idp.py).
  ...(process.env.PKJWT_CLIENT_JWK
    ? [{ client_id: 'pkjwt-client', token_endpoint_auth_method: 'private_key_jwt', jwks: { keys: [JSON.parse(process.env.PKJWT_CLIENT_JWK)] } }]
    : []),
].map((client) => ({
  ...client,
  grant_types: GRANT_TYPES,
  response_types: ['code'],
  // Any loopback URI is accepted (see allowLoopbackRedirects); these are placeholders.
  redirect_uris: [PLACEHOLDER_REDIRECT],
  post_logout_redirect_uris: [PLACEHOLDER_REDIRECT],
  // ThunderID's sign-in ID tokens always carry auth_time.
  ...(IS_THUNDERID ? { require_auth_time: true } : {}),
  // OpenID Connect Back-Channel Logout, when a test names the RP's endpoint.
  ...(process.env.BACKCHANNEL_LOGOUT_URI && !IS_THUNDERID && client.client_id === 'conf-client'
    ? { backchannel_logout_uri: process.env.BACKCHANNEL_LOGOUT_URI, backchannel_logout_session_required: true }
    : {}),
}));

function signingKeys() {
  const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  return { keys: [{ ...privateKey.export({ format: 'jwk' }), kid: 'test-idp-rs256', alg: 'RS256', use: 'sig' }] };
}

/** Make sure the session's grant covers everything requested: consent is implicit. */
async function loadExistingGrant(ctx) {
  const { oidc } = ctx;
  const grantId = oidc.result?.consent?.grantId || oidc.session.grantIdFor(oidc.client.clientId);
  let grant = grantId ? await oidc.provider.Grant.find(grantId) : undefined;
  grant ||= new oidc.provider.Grant({ accountId: oidc.session.accountId, clientId: oidc.client.clientId });
  grant.addOIDCScope(oidc.params.scope || 'openid');
  await grant.save();
  return grant;
}

// oidc-provider's own memory adapter keeps at most 1,000 entries and then evicts live
// refresh tokens and grants (a benchmark of 200 users rotating tokens exceeds that in
// seconds). One store sized for the tests and benchmarks instead.
const STORE = new LRU({ maxSize: Number(process.env.IDP_STORE_SIZE || 1000000) });

async function configuration() {
  return {
    adapter: (name) => new MemoryAdapter(name, STORE),
    clients: CLIENTS,
    findAccount,
    jwks: IS_THUNDERID ? await thunderidSigningKeys() : signingKeys(),
    cookies: { keys: ['thunderid-mw-test-idp-cookie-key'] },
    routes: ROUTES,
    scopes: SCOPES,
    claims: {
      acr: null, // only when a test login says which (interactions.js)
      openid: ['sub'],
      profile: ['name', 'given_name', 'family_name', 'preferred_username'],
      email: ['email', 'email_verified'],
    },
    responseTypes: ['code'],
    // What a test login may achieve (interactions.js: the form's acr field).
    acrValues: ['urn:thunderid:test:password', 'urn:thunderid:test:mfa'],
    clientAuthMethods: ['client_secret_basic', 'client_secret_post', 'private_key_jwt', 'none'],
    pkce: { required: () => true },
    // ID tokens carry the scope-based claims (name, email...), as ThunderID's do.
    conformIdTokenClaims: false,
    features: {
      devInteractions: { enabled: false },
      introspection: {
        enabled: true,
        allowedPolicy: async (_ctx, client) => client.clientAuthMethod !== 'none',
      },
      revocation: { enabled: true },
      // Pushed authorization requests (RFC 9126) at /oauth2/par; PAR_REQUIRED=1 makes the
      // metadata say require_pushed_authorization_requests (and refuses unpushed ones).
      pushedAuthorizationRequests: {
        enabled: true,
        requirePushedAuthorizationRequests: process.env.PAR_REQUIRED === '1',
      },
      // DPoP (RFC 9449): a request with a proof gets bound tokens; a nonce is always
      // required, so every DPoP client meets use_dpop_nonce first.
      dPoP: { enabled: true, nonceSecret: randomBytes(32), requireNonce: () => true },
      backchannelLogout: { enabled: !IS_THUNDERID },
      userinfo: { enabled: true },
      resourceIndicators: { enabled: false },
      rpInitiatedLogout: {
        enabled: true,
        // Auto-submits "yes, sign me out" in a browser; tests without JS post the form.
        async logoutSource(ctx, form) {
          ctx.body = page('Sign out', `${form.replace('</form>', '<input type="hidden" name="logout" value="yes"/></form>')}
<button type="submit" form="op.logoutForm">Sign out</button>
<script>document.forms[0].submit()</script>`);
        },
        async postLogoutSuccessSource(ctx) {
          ctx.body = page('Signed out', '<p>You are signed out.</p>');
        },
      },
    },
    interactions: { url: (_ctx, interaction) => `/interaction/${interaction.uid}` },
    loadExistingGrant,
    // Back-channel logout tokens go to RPs on 127.0.0.1: lift the SSRF guard against
    // special-use addresses (this IdP only ever talks to the tests' loopback servers).
    fetch: (url, options) => {
      const { dispatcher: _unused, ...rest } = options;
      return globalThis.fetch(url, rest);
    },
    // Refresh tokens: always issued, rotated on every use (reuse revokes the grant).
    issueRefreshToken: async (_ctx, client) => client.grantTypeAllowed('refresh_token'),
    rotateRefreshToken: true,
    expiresWithSession: async () => false,
    ttl: {
      AccessToken: () => state.accessTokenTtl,
      AuthorizationCode: 60,
      IdToken: 3600,
      Interaction: 3600,
      Grant: Math.max(REFRESH_TOKEN_TTL + 3600, 14 * 24 * 3600),
      Session: Math.max(REFRESH_TOKEN_TTL + 3600, 14 * 24 * 3600),
      RefreshToken(ctx, token) {
        // A rotated refresh token inherits the first one's expiry (absolute lifetime).
        const rotated = ctx?.oidc?.entities?.RotatedRefreshToken;
        if (rotated) {
          token.exp = rotated.exp;
          return Math.max(rotated.exp - Math.floor(Date.now() / 1000), 1);
        }
        return REFRESH_TOKEN_TTL;
      },
    },
    async renderError(ctx, out) {
      if (IS_THUNDERID) {
        renderPlainError(ctx, out);
        return;
      }
      ctx.type = 'html';
      ctx.body = page('Error', Object.entries(out)
        .map(([key, value]) => `<p><strong>${esc(key)}</strong>: <span class="${esc(key)}">${esc(value)}</span></p>`)
        .join('\n'));
    },
  };
}

const isLoopback = (value) => {
  try {
    const url = new URL(value);
    return ['http:', 'https:'].includes(url.protocol)
      && ['127.0.0.1', 'localhost', '[::1]'].includes(url.hostname)
      && !url.hash;
  } catch {
    return false;
  }
};

/** Test apps run on random ports: accept any loopback redirect / post-logout URI. */
function allowLoopbackRedirects(provider) {
  const proto = provider.Client.prototype;
  const { redirectUriAllowed, postLogoutRedirectUriAllowed } = proto;
  proto.redirectUriAllowed = function allowed(value) {
    return isLoopback(value) || redirectUriAllowed.call(this, value);
  };
  proto.postLogoutRedirectUriAllowed = function allowed(value) {
    return isLoopback(value) || postLogoutRedirectUriAllowed.call(this, value);
  };
}

function createServer(handlerRef) {
  const handler = (req, res) => handlerRef.current(req, res);
  if (process.env.TLS_CERT || process.env.TLS_KEY) {
    if (!process.env.TLS_CERT || !process.env.TLS_KEY) {
      throw new Error('set both TLS_CERT and TLS_KEY to serve HTTPS');
    }
    const options = { cert: readFileSync(process.env.TLS_CERT), key: readFileSync(process.env.TLS_KEY) };
    return { server: https.createServer(options, handler), scheme: 'https' };
  }
  return { server: http.createServer(handler), scheme: 'http' };
}

async function main() {
  // Listen first so PORT=0 works: the issuer needs the real port.
  const handlerRef = { current: (_req, res) => { res.statusCode = 503; res.end(); } };
  const { server, scheme } = createServer(handlerRef);
  await new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(Number(process.env.PORT || 0), HOST, resolve);
  });
  const issuer = `${scheme}://${HOST}:${server.address().port}`;

  const provider = new Provider(issuer, await configuration());
  allowLoopbackRedirects(provider);
  registerGrants(provider, new Set(SCOPES), { withAccountSwitch: !IS_THUNDERID });
  provider.on('grant.error', onGrantError);
  provider.on('refresh_token.consumed', onRefreshTokenConsumed);
  provider.on('backchannel.error', (_ctx, err, clientId) => console.error('backchannel.error', clientId?.clientId, err.message, err.cause));
  if (process.env.DEBUG) {
    provider.on('server_error', (_ctx, err) => console.error('server_error', err));
  }
  provider.use(adminApi('/__test__/'));
  provider.use(instrument({ ...ROUTES, discovery: '/.well-known/openid-configuration' }));
  if (IS_THUNDERID) {
    patchIdTokens(provider);
    provider.use(thunderidEndpoints(provider, ROUTES, TOKEN_EXCHANGE));
  }
  provider.use(interactionRoutes(provider));

  handlerRef.current = provider.callback();
  process.stdout.write(`READY ${issuer}\n`);

  const stop = () => process.exit(0);
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
