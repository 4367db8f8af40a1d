// Package api is the Star Wars API's domain: users and roles, tokens and
// their claims, Star Wars resources, the error codes every layer speaks,
// and the account rules (Accounts: signup, verification, login, sessions,
// user administration) written against small interfaces defined here
// (UserStore, Tokens, Revocations, PasswordHasher, Mailer, StarWars,
// LoginThrottle).
//
// Subpackages adapt one technology each and never import each other:
// mysql (users), redis (revocations, upstream cache, login budgets), auth
// (JWT, argon2id), mail (SMTP or log), swapi (the upstream and its
// queries), httpapi (the router), config (the environment).
// api/cmd/starwars-api wires them together.
package api
