package roster

// ExternalIdentity is a person as an identity provider (OpenID Connect) or a
// directory (LDAP, Active Directory) vouches for them at sign-in. Packages
// that speak to a provider return one; the API turns it into a User, team
// memberships and a session.
type ExternalIdentity struct {
	Source   UserSource // UserOIDC or UserLDAP
	Provider string     // the name of the provider or directory in Roster's config
	// Subject identifies the person at the provider for good, whatever
	// their name becomes: the ID token's issuer and subject, or a
	// directory entry's entryUUID (objectGUID on Active Directory).
	Subject string
	// Username is the sign-in name the provider gives (a claim, or uid /
	// sAMAccountName), folded to lower case; the caller validates it.
	Username    string
	DisplayName string
	Email       string
	// Groups are the groups the person is in, as the provider names them
	// (a claim's strings, or the directory groups' names, nested ones
	// included), without duplicates, sorted.
	Groups []string
}
