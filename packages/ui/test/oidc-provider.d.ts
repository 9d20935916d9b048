// oidc-provider ships no types; the sign-in test drives it as a real OpenID provider through its documented options.
declare module 'oidc-provider';
