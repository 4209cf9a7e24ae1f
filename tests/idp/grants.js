// Extra token-endpoint grants: RFC 8693 token exchange and ThunderID's `account_switch`.
// Both take a live access token of this provider and mint new tokens under a new Grant.

import { errors } from 'oidc-provider';
// Not exported by name; the built-in grants validate DPoP proofs with it.
import validateDpop from 'oidc-provider/lib/helpers/validate_dpop.js';

import { findAccount, subjectOf } from './accounts.js';

export const TOKEN_EXCHANGE = 'urn:ietf:params:oauth:grant-type:token-exchange';
export const ACCOUNT_SWITCH = 'account_switch';
const ACCESS_TOKEN_TYPE = 'urn:ietf:params:oauth:token-type:access_token';

const { InvalidGrant, InvalidRequest, InvalidScope } = errors;

/** A live (unexpired, unrevoked) access token of this provider, else invalid_grant. */
async function liveAccessToken(provider, value, label) {
  if (!value) throw new InvalidRequest(`missing required parameter '${label}'`);
  const token = await provider.AccessToken.find(value);
  if (!token || !token.isValid) throw new InvalidGrant(`${label} is invalid, expired or revoked`);
  return token;
}

/** Requested scope (default: the subject token's), checked against the provider's scopes. */
function resolveScope(ctx, fallback, supported) {
  const requested = ctx.oidc.params.scope;
  const scope = requested ? requested.split(' ').filter(Boolean) : fallback.split(' ');
  const unknown = scope.filter((s) => !supported.has(s));
  if (unknown.length) throw new InvalidScope('requested scope is not supported', unknown.join(' '));
  return [...new Set(scope)].join(' ');
}

async function newGrant(provider, ctx, accountId, scope) {
  const grant = new provider.Grant({ accountId, clientId: ctx.oidc.client.clientId });
  grant.addOIDCScope(scope);
  await grant.save();
  return grant;
}

/** RFC 8693 §2: exchange a live access token for a new one (same subject). */
function tokenExchange(provider, supportedScopes) {
  return async function tokenExchangeHandler(ctx) {
    const { params, client } = ctx.oidc;
    if (params.subject_token_type !== ACCESS_TOKEN_TYPE) {
      throw new InvalidRequest(`subject_token_type must be ${ACCESS_TOKEN_TYPE}`);
    }
    if (params.requested_token_type && params.requested_token_type !== ACCESS_TOKEN_TYPE) {
      throw new InvalidRequest(`requested_token_type must be ${ACCESS_TOKEN_TYPE}`);
    }
    // A DPoP proof binds the new token to the client's key, as the built-in grants do.
    const dPoP = await validateDpop(provider, ctx);
    const subject = await liveAccessToken(provider, params.subject_token, 'subject_token');
    const scope = resolveScope(ctx, subject.scope || 'openid', supportedScopes);
    const grant = await newGrant(provider, ctx, subject.accountId, scope);

    const at = new provider.AccessToken({
      accountId: subject.accountId,
      client,
      grantId: grant.jti,
      gty: TOKEN_EXCHANGE,
      scope,
    });
    // audience and resource (RFC 8693 §2.1) both name the target; record them as `aud`.
    const targets = [params.audience, params.resource].flat().filter(Boolean);
    if (targets.length) at.setAudience(targets.length === 1 ? targets[0] : targets);
    if (dPoP) at.setThumbprint('jkt', dPoP.thumbprint);

    ctx.body = {
      access_token: await at.save(),
      issued_token_type: ACCESS_TOKEN_TYPE,
      token_type: dPoP ? 'DPoP' : 'Bearer',
      expires_in: at.expiration,
      scope,
    };
  };
}

/** ThunderID `account_switch`: a full token set for `username` (default: same user). */
function accountSwitch(provider, supportedScopes) {
  return async function accountSwitchHandler(ctx) {
    const { params, client } = ctx.oidc;
    const current = await liveAccessToken(provider, params.token, 'token');
    let accountId = current.accountId;
    if (params.username) {
      accountId = subjectOf(params.username);
      if (!accountId) throw new InvalidGrant('unknown username');
    }
    const account = await findAccount(ctx, accountId);
    if (!account) throw new InvalidGrant('account not found');

    const scope = resolveScope(ctx, current.scope || 'openid', supportedScopes);
    const grant = await newGrant(provider, ctx, accountId, scope);
    const base = {
      accountId, client, grantId: grant.jti, gty: ACCOUNT_SWITCH, scope,
    };

    const at = new provider.AccessToken(base);
    const accessToken = await at.save();
    const refreshToken = await new provider.RefreshToken({ ...base, rotations: 0 }).save();

    let idToken;
    if (scope.split(' ').includes('openid')) {
      const idt = new provider.IdToken(
        { ...(await account.claims('id_token', scope, {}, [])) },
        { ctx },
      );
      idt.scope = scope;
      idToken = await idt.issue({ use: 'idtoken' });
    }

    ctx.body = {
      access_token: accessToken,
      token_type: 'Bearer',
      expires_in: at.expiration,
      refresh_token: refreshToken,
      id_token: idToken,
      scope,
    };
  };
}

export function registerGrants(provider, supportedScopes, { withAccountSwitch = true } = {}) {
  provider.registerGrantType(
    TOKEN_EXCHANGE,
    tokenExchange(provider, supportedScopes),
    ['subject_token', 'subject_token_type', 'audience', 'resource', 'scope', 'requested_token_type',
      'actor_token', 'actor_token_type'],
    ['audience', 'resource'],
  );
  if (!withAccountSwitch) return;
  provider.registerGrantType(
    ACCOUNT_SWITCH,
    accountSwitch(provider, supportedScopes),
    ['token', 'scope', 'username'],
  );
}
