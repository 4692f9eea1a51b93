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
//   - Server.Start: one server lifecycle (127.0.0.1 or any address,
//     optional TLS, shutdown on stop or when the context ends); NewCA: the
//     throwaway CA of the HTTPS simulators and the intercepting proxy.
//   - PageToken: the opaque page token format; Spread, Pick, ID, Uniq and
//     HashString: the seeded draws of the fleet generators; JSONStrings:
//     the JSON string escaping of the hand-written renderers.
//
// What stays in a simulator is what is truly its cloud's: routes,
// authentication, wire formats, filters and its fleet's shape.
package cloudsim
