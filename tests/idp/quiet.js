// Imported first by server.js: silence oidc-provider's import-time notices (development
// defaults, Node version) unless DEBUG is set. Real errors still go to console.error.
if (!process.env.DEBUG) {
  console.info = () => {};
  console.warn = () => {};
}
