// Package cloudsim is the chassis the cloud simulators (sources/aws/awssim,
// sources/gcp/gcpsim, sources/azure/azuresim, sources/openstack/openstacksim)
// share, so that a fault, a fleet feature or a server detail is written
// once, not four times:
//
//   - Faults, Injector and Stats: fault injection (latency, throttling,
//     server errors, denied scopes, failing pages) configured the same way
//     for every cloud. A simulator calls Injector.Admit at the point where
//     its protocol has authenticated and routed a request, and
//     Injector.FailPage where it pages, through a Renderer that holds the
//     only per-cloud part: how a Deny, Throttle, Error or failed page is
//     answered on its wire (EC2's XML error, ARM's JSON error, a Nova
//     overLimit).
//   - Endpoint (Server.Start underneath): one server lifecycle (127.0.0.1
//     or any address, optional TLS, shutdown on stop or when the context
//     ends), embedded in every simulator's Server; Exchange: what every
//     request carries and how it replies; NewCA: the throwaway CA of the
//     HTTPS simulators and the intercepting proxy.
//   - One deterministic fleet generator: the seed's streams (Stream,
//     ScopeStream), Scopes, Spread, Profile.Machine (the neutral machine
//     a cloud renders in its shapes), Odds, Namer, Age before Epoch, Tag
//     lists and Extra tables, Hex64, Bytes, FormatUUID, MAC, Scatter24,
//     PublicIP; Core, the part of every fleet that is not its cloud's (its
//     machines by id under its lock, its seed, the stream of machines
//     added later), and Tagger.
//   - PageToken: the opaque page token format; JSONStrings: the JSON
//     string escaping of the hand-written renderers.
//
// What stays in a simulator is what is truly its cloud's: routes,
// authentication, wire formats, filters, its fleet's shape and vocabulary,
// and the order it draws in (which keeps a seed's fleet byte-identical).
package cloudsim
