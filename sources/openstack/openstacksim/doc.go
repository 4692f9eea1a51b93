// Package openstacksim simulates the parts of OpenStack that Roster's
// OpenStack source uses, over their real JSON APIs, for tests, benchmarks
// and the `roster demo` / `roster simulate openstack` commands: Keystone v3
// (tokens and the service catalog), Nova (servers and flavors) and Glance
// (images). Unmodified clients such as gophercloud reach every service
// through the Keystone URL alone, the way they reach a real cloud:
//
//	srv := openstacksim.New(openstacksim.Options{Seed: 1, Size: 5000})
//	base, stop, err := srv.Start(ctx, "127.0.0.1:0")
//	...
//	provider, err := openstack.AuthenticatedClient(ctx, gophercloud.AuthOptions{
//		IdentityEndpoint: openstacksim.AuthURL(base), // base + "/identity/v3"
//		Username: openstacksim.DefaultUser, Password: openstacksim.DefaultPassword,
//		DomainName: "Default", TenantName: "demo",
//	})
//
// # Keystone
//
// GET /identity/ answers 300 with the version list, GET /identity/v3 the
// v3 version document. POST /identity/v3/auth/tokens takes the password
// method (user by id, or by name in the Default domain) or the
// application_credential method (by id, or by name with its user), and a
// project scope (by id, or by name in the Default domain); without a scope
// the user's first project is used. It answers 201 with X-Subject-Token
// and the token body (user, project, roles, expires_at, and the catalog
// unless ?nocatalog). Bad credentials, an unknown project or one the user
// is not a member of are 401; an application credential that asks for a
// scope is 401 "Application credentials cannot request a scope."
//
// The catalog lists Keystone (first region) and, in every region, a public
// and an internal endpoint of Nova (base/compute/REGION/v2.1) and Glance
// (base/image/REGION). Endpoint URLs use the Host the request came to.
//
// Every Nova and Glance call but the version documents needs a valid
// X-Auth-Token; a missing, unknown or expired one is 401 with Keystone's
// error body and a WWW-Authenticate header. Tokens live Options.TokenTTL;
// Server.ExpireTokens and Faults.ExpireTokensAfter expire them early.
//
// # Nova
//
// GET servers/detail lists the token's project's servers in the region,
// the newest first; all_tenants (admins only, else 403) lists every
// project's. limit (capped at Options.MaxLimit, which is also the default)
// and marker (a server id; deleted servers still work; unknown is 400)
// page; a full page carries servers_links with a "next" href keeping the
// other query parameters. Filters: name and ip/ip6 (regular expressions),
// status (400 "Invalid status value" from 2.38), image, flavor,
// availability_zone, key_name, user_id, tags, tags-any, not-tags,
// not-tags-any, and for admins uuid, project_id, host and locked. As in
// Nova, a non-admin's filters outside the allowed set of the requested
// microversion are ignored, and from 2.75 an unknown query parameter is
// 400.
//
// The microversion comes from OpenStack-API-Version ("compute 2.N") or
// X-OpenStack-Nova-API-Version, 2.1 without either, "latest" for the
// maximum; out of range is 406. Fields follow it: the admin-only
// OS-EXT-SRV-ATTR fields (2.3 adds reservation_id, hostname, user_data,
// ...), locked (2.9), host_status (2.16, admin), description (2.19), tags
// (2.26), the embedded flavor with original_name (2.47; before, the flavor
// is {id, links}), trusted_image_certificates (2.63), server_groups
// (2.71), locked_reason (2.73), hostname for everyone (2.90),
// pinned_availability_zone (2.96). Servers booted from a volume have
// "image": "". GET flavors/detail pages the same way (flavors_links).
//
// # Glance
//
// GET /image/REGION/ answers 300 with the versions; GET
// /image/REGION/v2/images lists the public images and the project's
// private ones (every image for an admin), limit (default 25) and marker
// paging with a relative "next" link.
//
// # Fleet and faults
//
// The Fleet is generated from (seed, size, regions, projects) and changes
// while the server runs (Fleet.SetStatus, Rename, SetMetadata,
// SetFloatingIP, Delete, Add). Faults (latency, 503s, 413/429 over-limit
// with Retry-After, regions down, tokens expiring mid-pagination, a
// failing later page) are set in Options.Faults or with Server.SetFaults;
// Server.Stats counts requests, injected faults, issued tokens and 401s so
// tests can assert that retries and re-authentication happened.
package openstacksim
