// Test-only control plane: counters, injected failures, delays and the refresh hold.
// Everything here is driven by the JSON admin API under /__test__/ (see adminApi).

const TOKEN_REFRESH = 'refresh_token';

function positiveSeconds(raw, fallback, name) {
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw);
  if (!Number.isInteger(value) || value <= 0) {
    throw new Error(`${name} must be a positive integer number of seconds, got ${raw}`);
  }
  return value;
}

export const DEFAULT_ACCESS_TOKEN_TTL = positiveSeconds(process.env.ACCESS_TOKEN_TTL, 300, 'ACCESS_TOKEN_TTL');
export const REFRESH_TOKEN_TTL = positiveSeconds(process.env.REFRESH_TOKEN_TTL, 86400, 'REFRESH_TOKEN_TTL');

function zeroCounts() {
  return {
    token: {},
    refresh_reuse: 0,
    revocations: 0,
    introspections: 0,
    refresh_dropped: 0,
    // Pushed authorization requests (RFC 9126): how many, and the last one's parameter
    // names (values stay here: they hold PKCE challenges and client secrets).
    pushed_authorization_requests: 0,
    last_pushed_params: [],
  };
}

export const state = {
  accessTokenTtl: DEFAULT_ACCESS_TOKEN_TTL,
  counts: zeroCounts(),
  /** endpoint name -> { status, times } (times -1: until reset) */
  failures: new Map(),
  /** endpoint name -> ms */
  delays: new Map(),
  holdRefreshMs: 0,
};

function resetState() {
  state.counts = zeroCounts();
  state.failures.clear();
  state.delays.clear();
  state.holdRefreshMs = 0;
}

const sleep = (ms) => new Promise((resolve) => { setTimeout(resolve, ms); });

const BODY_LIMIT = 64 * 1024;

/** Read a request body fully (the stream is consumed). */
export async function readBody(req) {
  const chunks = [];
  let size = 0;
  for await (const chunk of req) {
    size += chunk.length;
    if (size > BODY_LIMIT) throw Object.assign(new Error('body too large'), { status: 413 });
    chunks.push(chunk);
  }
  return Buffer.concat(chunks).toString('utf8');
}

function tokenCounter(grantType) {
  const key = grantType || 'unknown';
  state.counts.token[key] ||= { calls: 0, ok: 0, errors: 0 };
  return state.counts.token[key];
}

/** True once the client has gone away (connection closed before we answered). */
function watchClose(ctx) {
  let closed = false;
  const onClose = () => { closed = true; };
  ctx.res.once('close', onClose);
  return {
    get closed() {
      return closed || ctx.req.socket.destroyed;
    },
    stop() { ctx.res.off('close', onClose); },
  };
}

function json(ctx, status, body) {
  ctx.status = status;
  ctx.type = 'application/json';
  ctx.body = body;
}

/**
 * Koa middleware (installed with provider.use) that instruments the provider's endpoints.
 * `endpoints` maps an endpoint name ("token", "discovery", ...) to its path.
 */
export function instrument(endpoints) {
  const byPath = new Map(Object.entries(endpoints).map(([name, path]) => [path, name]));

  return async function instrumentation(ctx, next) {
    const endpoint = byPath.get(ctx.path);
    if (!endpoint) {
      await next();
      return;
    }

    let counter;
    let grantType;
    if (endpoint === 'token' && ctx.method === 'POST') {
      // Read the form here to learn the grant type before anything else happens. oidc-provider
      // then reads the already-parsed body from req.body (its documented fallback).
      const raw = await readBody(ctx.req);
      ctx.req.body = raw;
      grantType = new URLSearchParams(raw).get('grant_type');
      counter = tokenCounter(grantType);
      counter.calls += 1;
    } else if (endpoint === 'pushed_authorization_request' && ctx.method === 'POST') {
      const raw = await readBody(ctx.req);
      ctx.req.body = raw;
      state.counts.pushed_authorization_requests += 1;
      state.counts.last_pushed_params = [...new URLSearchParams(raw).keys()].sort();
    } else if (endpoint === 'revocation') {
      state.counts.revocations += 1;
    } else if (endpoint === 'introspection') {
      state.counts.introspections += 1;
    }

    const delay = state.delays.get(endpoint);
    if (delay) await sleep(delay);

    if (grantType === TOKEN_REFRESH && state.holdRefreshMs > 0) {
      const watch = watchClose(ctx);
      await sleep(state.holdRefreshMs);
      watch.stop();
      if (watch.closed) {
        // The client gave up (or was killed) while we held it: drop the request unprocessed,
        // so the refresh token it carried is not consumed.
        state.counts.refresh_dropped += 1;
        ctx.respond = false;
        ctx.req.socket.destroy();
        return;
      }
    }

    const failure = state.failures.get(endpoint);
    if (failure && failure.times !== 0) {
      if (failure.times > 0) failure.times -= 1;
      if (counter) counter.errors += 1;
      if (failure.error === '') {
        ctx.status = failure.status;
        ctx.body = '';
        return;
      }
      json(ctx, failure.status, {
        error: failure.error || (failure.status >= 500 ? 'temporarily_unavailable' : 'invalid_request'),
        error_description: `injected failure (${failure.status}) by the test IdP`,
      });
      return;
    }

    try {
      await next();
    } finally {
      if (counter) {
        if (ctx.status === 200) counter.ok += 1;
        else counter.errors += 1;
      }
    }
  };
}

/** Refresh tokens consumed by rotation (values; opaque token value = jti). */
const rotated = new Set();

/** Hook for provider.on('refresh_token.consumed'). */
export function onRefreshTokenConsumed(token) {
  rotated.add(token.jti);
}

/**
 * Hook for provider.on('grant.error'): count refresh attempts rejected because the token was
 * already rotated. oidc-provider answers the first such attempt with "refresh token already
 * used" and revokes the grant (destroying the token), later ones with "not found".
 */
export function onGrantError(ctx, _err) {
  const { params } = ctx.oidc;
  if (params?.grant_type === TOKEN_REFRESH && rotated.has(params.refresh_token)) {
    state.counts.refresh_reuse += 1;
  }
}

const FAILABLE = new Set([
  'token', 'revocation', 'introspection', 'discovery', 'jwks', 'userinfo', 'authorization', 'end_session',
  'pushed_authorization_request',
]);

function intField(body, name, { min = 0, allowMinusOne = false } = {}) {
  const value = body[name];
  if (!Number.isInteger(value) || (value < min && !(allowMinusOne && value === -1))) {
    throw Object.assign(new Error(`"${name}" must be an integer >= ${min}${allowMinusOne ? ' or -1' : ''}`), { status: 400 });
  }
  return value;
}

function endpointField(body) {
  const { endpoint } = body;
  if (!FAILABLE.has(endpoint)) {
    throw Object.assign(new Error(`"endpoint" must be one of ${[...FAILABLE].join(', ')}`), { status: 400 });
  }
  return endpoint;
}

const ADMIN = {
  'GET counts': () => state.counts,
  'POST reset': () => {
    resetState();
    return { ok: true };
  },
  'POST config': (body) => {
    if ('access_token_ttl' in body) {
      state.accessTokenTtl = intField(body, 'access_token_ttl', { min: 1 });
    }
    return { access_token_ttl: state.accessTokenTtl, refresh_token_ttl: REFRESH_TOKEN_TTL };
  },
  'GET config': () => ({ access_token_ttl: state.accessTokenTtl, refresh_token_ttl: REFRESH_TOKEN_TTL }),
  'POST fail': (body) => {
    const endpoint = endpointField(body);
    const status = intField(body, 'status', { min: 100 });
    const times = body.times === undefined ? 1 : intField(body, 'times', { allowMinusOne: true });
    // error: the OAuth error code to send; "" sends an empty body (as some providers do).
    if (body.error !== undefined && typeof body.error !== 'string') {
      throw Object.assign(new Error('error must be a string'), { status: 400 });
    }
    state.failures.set(endpoint, { status, times, error: body.error });
    return { ok: true };
  },
  'POST hold_refresh': (body) => {
    state.holdRefreshMs = intField(body, 'ms');
    return { ok: true };
  },
  'POST delay': (body) => {
    const endpoint = endpointField(body);
    state.delays.set(endpoint, intField(body, 'ms'));
    return { ok: true };
  },
};

/** Koa middleware serving the JSON admin API under `prefix`. */
export function adminApi(prefix = '/__test__/') {
  return async function admin(ctx, next) {
    if (!ctx.path.startsWith(prefix)) {
      await next();
      return;
    }
    const action = ADMIN[`${ctx.method} ${ctx.path.slice(prefix.length)}`];
    if (!action) {
      json(ctx, 404, { error: 'not_found' });
      return;
    }
    try {
      const raw = ctx.method === 'POST' ? await readBody(ctx.req) : '';
      const body = raw ? JSON.parse(raw) : {};
      if (body === null || typeof body !== 'object' || Array.isArray(body)) {
        throw Object.assign(new Error('body must be a JSON object'), { status: 400 });
      }
      json(ctx, 200, action(body));
    } catch (err) {
      json(ctx, err.status || 400, { error: 'invalid_request', error_description: err.message });
    }
  };
}
