// Package roster holds Roster's domain: inventories, the sources that fill
// them, the hosts and groups they hold, sync runs, API tokens, and the
// interfaces between the parts that implement them.
//
// It imports only the standard library. Adapter packages (internal/store,
// sources/..., api, vault) implement the interfaces declared here; cmd/ wires
// them together.
package roster
