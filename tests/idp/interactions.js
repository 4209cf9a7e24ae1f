// Minimal login UI. Consent is implicit: loadExistingGrant (server.js) grants every
// requested scope, so one form post completes sign-in.

import { authenticate } from './accounts.js';
import { readBody } from './control.js';

export const esc = (value) => String(value ?? '').replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

export function page(title, body) {
  return `<!DOCTYPE html>
<html lang="en">
<head><meta charset="utf-8"><title>${esc(title)}</title></head>
<body>
<h1>${esc(title)}</h1>
${body}
</body>
</html>`;
}

function loginPage(uid, { username = '', error } = {}) {
  return page('Sign in to the test IdP', `
${error ? `<p id="error" role="alert">${esc(error)}</p>` : ''}
<form method="post" action="/interaction/${esc(uid)}/login" autocomplete="off">
  <label>Username <input name="username" value="${esc(username)}" autofocus></label>
  <label>Password <input name="password" type="password"></label>
  <button type="submit">Sign in</button>
</form>`);
}

function html(ctx, status, body) {
  ctx.status = status;
  ctx.type = 'html';
  ctx.set('cache-control', 'no-store');
  ctx.body = body;
}

/** Koa middleware for GET /interaction/:uid and POST /interaction/:uid/login. */
export function interactionRoutes(provider) {
  return async function interactions(ctx, next) {
    const match = /^\/interaction\/([\w-]+)(\/login)?$/.exec(ctx.path);
    if (!match) {
      await next();
      return;
    }
    const [, uid, login] = match;
    const details = await provider.interactionDetails(ctx.req, ctx.res);
    if (details.uid !== uid) {
      html(ctx, 400, page('Interaction mismatch', '<p>This sign-in page has expired.</p>'));
      return;
    }

    if (!login && ctx.method === 'GET') {
      if (details.prompt.name === 'login') {
        html(ctx, 200, loginPage(uid, { username: details.params.login_hint }));
      } else {
        // Consent (or any other prompt): grant it straight away.
        const returnTo = await provider.interactionResult(ctx.req, ctx.res, { consent: {} });
        ctx.status = 303;
        ctx.redirect(returnTo);
      }
      return;
    }

    if (login && ctx.method === 'POST') {
      const form = new URLSearchParams(await readBody(ctx.req));
      const username = form.get('username') || '';
      const accountId = authenticate(username, form.get('password'));
      if (!accountId) {
        html(ctx, 200, loginPage(uid, { username, error: 'Invalid username or password.' }));
        return;
      }
      // A test may say which acr this login achieved (a step-up factor), or none, and
      // when it happened (ts, Unix seconds: the ID token's auth_time).
      const acr = form.get('acr') || undefined;
      const ts = form.get('ts') ? Number(form.get('ts')) : undefined;
      const returnTo = await provider.interactionResult(
        ctx.req,
        ctx.res,
        { login: { accountId, acr, ts } },
        { mergeWithLastSubmission: false },
      );
      ctx.status = 303;
      ctx.redirect(returnTo);
      return;
    }

    ctx.status = 405;
  };
}
