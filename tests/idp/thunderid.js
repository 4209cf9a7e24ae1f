// The ThunderID profile of the test provider (IDP_PROFILE=thunderid): oidc-provider made to
// answer like ThunderID's server (github.com/thunder-id/thunderid, backend/internal/oauth/)
// wherever the middleware can observe a difference. The default profile is untouched.
//
// What differs from the default profile:
// - one client-auth method per client: another registered method -> 400 unauthorized_client,
//   two at once -> 400 invalid_request (oidc-provider's own answer);
// - any Authorization header on token/revocation/introspection/PAR is parsed as Basic: a Bearer
//   (or other) scheme is 401 invalid_client;
// - refreshed ID tokens carry no nonce, auth_time, acr or amr; no ID token carries sid;
// - a bad subject token in a token exchange is invalid_request (not invalid_grant);
// - no account_switch grant (unsupported_grant_type), no back-channel logout;
// - error pages (logout with an unregistered post_logout_redirect_uri...) are plain text 400;
// - signing keys RS256 + ES256 whose kids are their RFC 7638 thumbprints, and the JWKS also
//   publishes an ML-DSA-44 key (kty AKP) as a deployment may: nothing is signed with it.
// Token answers are JSON {error, error_description}; revocation answers 200 with an empty
// body and revokes the whole grant; rotated refresh tokens keep the first one's expiry and a
// reused one revokes the family; `iss` is in the authorization response: the default
// profile already does all of that (server.js).

import { createHash, generateKeyPairSync, randomBytes } from 'node:crypto';

import { calculateJwkThumbprint } from 'jose';

export const PROFILE = process.env.IDP_PROFILE || 'default';
export const IS_THUNDERID = PROFILE === 'thunderid';

if (!['default', 'thunderid'].includes(PROFILE)) {
  throw new Error(`IDP_PROFILE must be "default" or "thunderid", not ${JSON.stringify(PROFILE)}`);
}

const REFRESHED_ID_TOKEN_DROPS = ['nonce', 'auth_time', 'acr', 'amr'];

/** RS256 and ES256 signing keys, each with its RFC 7638 thumbprint as kid. */
export async function thunderidSigningKeys() {
  const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey.export({ format: 'jwk' });
  const ec = generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey.export({ format: 'jwk' });
  const withKid = async (jwk, alg) => ({ ...jwk, kid: await calculateJwkThumbprint(jwk), alg, use: 'sig' });
  return { keys: [await withKid(rsa, 'RS256'), await withKid(ec, 'ES256')] };
}

// An ML-DSA-44 public key (1,312 bytes) in the AKP JWK form; random bytes: never used to sign.
const AKP_PUB = randomBytes(1312).toString('base64url');
const AKP_KEY = {
  kty: 'AKP', alg: 'ML-DSA-44', use: 'sig', pub: AKP_PUB, kid: createHash('sha256').update(AKP_PUB).digest('base64url'),
};

/** ThunderID's error pages are plain text. */
export function renderPlainError(ctx, out) {
  ctx.status = ctx.status >= 400 ? ctx.status : 400;
  ctx.type = 'text/plain';
  ctx.body = `${out.error}: ${out.error_description || ''}\n`;
}

/** Refreshed ID tokens without nonce/auth_time/acr/amr; no sid in any ID token. */
export function patchIdTokens(provider) {
  const proto = provider.IdToken.prototype;
  const { payload } = proto;
  proto.payload = async function thunderidPayload() {
    const claims = await payload.call(this);
    delete claims.sid;
    if (this.ctx?.oidc?.params?.grant_type === 'refresh_token') {
      for (const name of REFRESHED_ID_TOKEN_DROPS) delete claims[name];
    }
    return claims;
  };
}

function jsonError(ctx, status, error, description) {
  ctx.status = status;
  ctx.type = 'application/json';
  ctx.body = { error, error_description: description };
}

/** The client-auth method a token request uses, or null when it uses several. */
function presentedAuthMethod(authorization, form) {
  const methods = [
    authorization ? 'client_secret_basic' : null,
    form.has('client_secret') ? 'client_secret_post' : null,
    form.has('client_assertion') ? 'private_key_jwt' : null,
  ].filter(Boolean);
  if (methods.length > 1) return null;
  return methods[0] || 'none';
}

function basicClientId(authorization) {
  try {
    const decoded = Buffer.from(authorization.slice(6).trim(), 'base64').toString();
    return decodeURIComponent(decoded.split(':')[0]);
  } catch {
    return undefined;
  }
}

/**
 * Koa middleware (install after control.js's instrument, which leaves the raw token form in
 * ctx.req.body) for ThunderID's client-auth and error answers.
 */
export function thunderidEndpoints(provider, routes, tokenExchangeGrant) {
  const clientAuthPaths = new Set([
    routes.token, routes.revocation, routes.introspection, routes.pushed_authorization_request,
  ]);
  return async function thunderid(ctx, next) {
    if (ctx.path === routes.jwks) {
      await next();
      if (Array.isArray(ctx.body?.keys)) ctx.body = { keys: [...ctx.body.keys, AKP_KEY] };
      return;
    }
    if (ctx.path === routes.end_session) {
      await next();
      // Logout errors are plain text whatever the client accepts.
      if (ctx.status >= 400 && ctx.body?.error) renderPlainError(ctx, ctx.body);
      return;
    }
    if (!clientAuthPaths.has(ctx.path) || ctx.method !== 'POST') {
      await next();
      return;
    }
    const authorization = ctx.get('authorization');
    if (authorization && !/^basic /i.test(authorization)) {
      jsonError(ctx, 401, 'invalid_client', 'invalid client credentials: Authorization header is not Basic');
      return;
    }
    if (ctx.path !== routes.token) {
      await next();
      return;
    }
    const form = new URLSearchParams(typeof ctx.req.body === 'string' ? ctx.req.body : '');
    const method = presentedAuthMethod(authorization, form);
    const clientId = authorization ? basicClientId(authorization) : form.get('client_id');
    const client = method && clientId ? await provider.Client.find(clientId) : undefined;
    if (client && client.clientAuthMethod !== method) {
      jsonError(ctx, 400, 'unauthorized_client', 'the client is not registered for this authentication method');
      return;
    }
    await next();
    if (ctx.body?.error === 'invalid_grant' && form.get('grant_type') === tokenExchangeGrant) {
      jsonError(ctx, 400, 'invalid_request', 'invalid subject_token');
    }
  };
}
