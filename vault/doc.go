// Package vault holds Roster's secret backends, the two implementations of
// roster.SecretBackend:
//
//   - Vault, the production backend: HashiCorp Vault's KV v2 engine for
//     credentials' secret fields, its SSH engine as the certificate authority,
//     response wrapping, and AppRole or token authentication kept alive with
//     the api's LifetimeWatcher.
//   - Local, the embedded default for one-machine starts: secret fields sealed
//     with AES-256-GCM into Roster's own database (roster.SecretBlobStore) and
//     a local ed25519 SSH certificate authority.
//
// Both fail closed. Every Vault call is bounded (2 s by default); a sealed,
// unreachable or misconfigured Vault makes every method fail quickly with
// roster.EUNAVAILABLE and a message that says what to fix, and service
// resumes by itself when Vault is back. Secret values, tokens, secret_ids and
// wrapping tokens never appear in returned errors or in log records: values
// are held as roster.Secret, and Vault's own error text is scrubbed of
// anything the request carried before it is used.
//
// The package vault/backendtest is the conformance suite both backends pass;
// vault/vaulttest configures a real Vault dev server for Roster.
package vault
