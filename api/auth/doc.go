// Package auth signs and checks the API's JWTs (HS256 only, one secret and
// lifetime per token type) and hashes passwords with argon2id.
package auth
