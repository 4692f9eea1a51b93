// Package gcpsim simulates the parts of the Compute Engine API and of
// Google's OAuth2 token endpoint that Roster's GCP source uses, over their
// real wire formats, for tests, benchmarks and the `roster demo` /
// `roster simulate gcp` commands. It is driven by the unmodified Google
// client libraries pointed at it:
//
//	srv, err := gcpsim.New(gcpsim.Options{Seed: 1, Size: 5000})
//	url, stop, err := srv.Start(ctx, "127.0.0.1:0")
//	key := srv.KeyFile(url) // a service account key file, token_uri on the simulator
//	creds, err := credentials.DetectDefault(&credentials.DetectOptions{CredentialsJSON: key, Scopes: ...})
//	client, err := compute.NewInstancesRESTClient(ctx, option.WithEndpoint(url), option.WithAuthCredentials(creds))
//
// # Token endpoint
//
// POST /token takes the JWT-bearer grant
// (grant_type=urn:ietf:params:oauth:grant-type:jwt-bearer, assertion=JWT)
// and answers {"access_token", "expires_in": 3599, "token_type": "Bearer"}.
// The assertion must be an RS256 JWT signed with the private key of an
// accepted ServiceAccount (iss = its e-mail, kid = its key id when
// given), with aud = the URL it was posted to, iat/exp spanning at most an
// hour, not expired, and a scope claim of OAuth scope URLs. Failures answer
// 400 with Google's OAuth2 error body ({"error": "invalid_grant" or
// "invalid_scope", "error_description": ...}). The keys are generated at
// run time (NewServiceAccount); KeyFile hands out the key file JSON.
//
// # Compute API
//
// Requests need "Authorization: Bearer TOKEN" with a token the endpoint
// issued and has not expired: else 401 UNAUTHENTICATED. A token whose
// scopes include none of compute, compute.readonly, cloud-platform or
// cloud-platform.read-only gets 403 PERMISSION_DENIED "Request had
// insufficient authentication scopes." (ACCESS_TOKEN_SCOPE_INSUFFICIENT).
// An unknown project answers 404 notFound, as does an unknown zone.
// Errors have the API's shape: {"error": {"code", "message", "errors":
// [{"message", "domain", "reason"}], "status", "details"}}.
//
//   - GET /compute/v1/projects/P/aggregated/instances: every zone of the
//     catalog (real zones, plus the fleet's) is a key of "items": zones
//     with instances on the page hold {"instances": [...]}, the others a
//     NO_RESULTS_ON_PAGE warning, as the real API answers.
//   - GET /compute/v1/projects/P/zones/Z/instances: an instanceList.
//   - GET /compute/v1/projects/P/aggregated/disks: the instances' boot
//     disks (for retrieve_image_info).
//
// Lists take maxResults (0-500; default 500; more is 400 invalid),
// pageToken (opaque, bound to the method, project, zone and filter it came
// from; else 400) and filter (see the filter syntax in filter.go: AIP-160
// comparisons with AND/OR/NOT, or eq/ne regular expressions; an invalid
// filter is 400). orderBy accepts only "name". Instances are listed by
// zone, then by name. Resource URLs in responses name
// https://www.googleapis.com/compute/v1/ as the real API's do, whatever
// endpoint was called.
//
// # Fleet and faults
//
// The Fleet is generated from (seed, size, projects, zones) and can be
// changed while the server runs (Fleet.SetStatus, Rename, SetLabel,
// DeleteLabel, Remove, Add). Faults (429 with Retry-After, 503, latency,
// denied projects, a failing later page) are set in Options.Faults or
// with Server.SetFaults; Server.Stats counts requests and injected faults
// so tests can assert that retries happened.
package gcpsim
