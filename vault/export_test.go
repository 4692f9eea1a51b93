package vault

// Hooks for the package's tests (package vault_test).

// LoginCount is how many logins succeeded.
func (v *Vault) LoginCount() int64 { return v.logins.Load() }

// RenewalCount is how many times the LifetimeWatcher renewed the token.
func (v *Vault) RenewalCount() int64 { return v.renewals.Load() }

// TokenForTest returns the current token and its accessor ("" when logged out).
func (v *Vault) TokenForTest() (token, accessor string) {
	v.mu.Lock()
	defer v.mu.Unlock()
	return v.sess.token, v.sess.accessor
}
