// Package oidcconfig is the configuration file of the test OpenID Connect
// provider (internal/testenv/oidcprovider, flag -config): internal/testenv
// writes it, the provider reads it. One definition keeps the two in step.
package oidcconfig

// File is the provider's configuration: its users and clients.
type File struct {
	Users   []User   `json:"users"`
	Clients []Client `json:"clients"`
}

// User is a user of the test provider. Its subject (sub) is its Username.
type User struct {
	Username   string   `json:"username"`
	Password   string   `json:"password"`
	Email      string   `json:"email,omitempty"`
	GivenName  string   `json:"given_name,omitempty"`
	FamilyName string   `json:"family_name,omitempty"`
	Groups     []string `json:"groups,omitempty"` // the groups claim, e.g. "ops", "ops/db"
}

// Client is a client of the provider: confidential, for the authorization
// code flow (RedirectURIs), or, with Device, for the device authorization
// grant only.
type Client struct {
	ID                   string   `json:"id"`
	Secret               string   `json:"secret"`
	RedirectURIs         []string `json:"redirect_uris,omitempty"`
	Device               bool     `json:"device,omitempty"`
	ClaimsInUserinfoOnly bool     `json:"claims_in_userinfo_only,omitempty"`
}
