// Test users with real password checks. Claims follow OpenID Connect Core §5.1.

const USERS = [
  {
    username: 'alice',
    password: 'alice-password',
    sub: 'user-alice',
    name: 'Alice Liddell',
    given_name: 'Alice',
    family_name: 'Liddell',
    email: 'alice@example.test',
  },
  {
    username: 'bob',
    password: 'bob-password',
    sub: 'user-bob',
    name: 'Bob Builder',
    given_name: 'Bob',
    family_name: 'Builder',
    email: 'bob@example.test',
  },
];

const bySub = new Map(USERS.map((u) => [u.sub, u]));
const byUsername = new Map(USERS.map((u) => [u.username, u]));

function toAccount(user) {
  return {
    accountId: user.sub,
    async claims() {
      // oidc-provider filters these by the granted scopes/claims.
      return {
        sub: user.sub,
        preferred_username: user.username,
        name: user.name,
        given_name: user.given_name,
        family_name: user.family_name,
        email: user.email,
        email_verified: true,
      };
    },
  };
}

/** `findAccount` hook for oidc-provider: look a user up by subject. */
export async function findAccount(_ctx, sub) {
  const user = bySub.get(sub);
  return user ? toAccount(user) : undefined;
}

/** The subject of a username, or undefined. */
export function subjectOf(username) {
  return byUsername.get(username)?.sub;
}

/** The subject when username and password match, else undefined. */
export function authenticate(username, password) {
  const user = byUsername.get(username);
  if (!user || typeof password !== 'string' || password !== user.password) {
    return undefined;
  }
  return user.sub;
}
