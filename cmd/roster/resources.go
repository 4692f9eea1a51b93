package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"slices"
	"strconv"
	"strings"

	"github.com/spf13/cobra"

	"github.com/rosterhq/roster/internal/ansibleinv"
	"github.com/rosterhq/roster/internal/client"
)

// The resource commands: roster KIND list|get|create|update|delete, each
// a call of the API through the generated client, never the database, so
// that they work against a remote server.

// apiRun is a command's work with a client of the API.
type apiRun func(cmd *cobra.Command, c *client.Client, args []string) error

// withAPI runs fn with a client of the server the flags, environment and
// contexts choose, after checking -o.
func withAPI(fn apiRun) func(*cobra.Command, []string) error {
	return func(cmd *cobra.Command, args []string) error {
		if _, err := outputFormat(cmd); err != nil {
			return err
		}
		c, err := apiClient(cmd)
		if err != nil {
			return err
		}
		return fn(cmd, c, args)
	}
}

// listOperation is a list operation of the API that takes no parameters,
// as a method expression such as (*client.Client).ListUsers.
type listOperation func(*client.Client, context.Context, ...client.RequestEditorFn) (*http.Response, error)

// listCommand is a kind's "list": every object the operation returns,
// printed as -o says.
func listCommand[T any](short string, cols columns[T], list listOperation) *cobra.Command {
	return &cobra.Command{
		Use: "list", Short: short, Args: cobra.NoArgs,
		RunE: withAPI(func(cmd *cobra.Command, c *client.Client, _ []string) error {
			l, err := fetchList[T](func(*string) (*http.Response, error) { return list(c, cmd.Context()) }, 0)
			if err != nil {
				return err
			}
			return printList(cmd, l, cols)
		}),
	}
}

// resourceCommand is the parent of one kind's commands.
func resourceCommand(use, short string, children ...*cobra.Command) *cobra.Command {
	cmd := &cobra.Command{Use: use, Short: short, Args: cobra.NoArgs}
	cmd.AddCommand(children...)
	addClientFlags(cmd)
	addOutputFlag(cmd)
	return cmd
}

// deleted says what a delete did, as -o asks: a line, or the id as JSON.
func deleted(cmd *cobra.Command, kind, ref string) error {
	format, _ := outputFormat(cmd)
	if format == outputTable {
		fmt.Fprintf(cmd.OutOrStdout(), "deleted %s %s\n", kind, ref)
		return nil
	}
	raw, _ := json.Marshal(map[string]string{"kind": kind, "deleted": ref})
	return printJSON(cmd.OutOrStdout(), format, raw)
}

// ---- inventories

var inventoryColumns = columns[client.Inventory]{
	header: []string{"NAME", "ID", "KIND", "INPUTS", "NAME POLICY", "DESCRIPTION", "CREATED"},
	row: func(i client.Inventory) []string {
		kind, inputs := "plain", ""
		if i.Kind != nil {
			kind = string(*i.Kind)
		}
		if i.InputNames != nil {
			inputs = strings.Join(*i.InputNames, ",")
		}
		return []string{i.Name, i.Id, kind, inputs, string(i.NamePolicy), i.Description, timeCell(&i.CreatedAt)}
	},
}

func newInventoryCommand() *cobra.Command {
	cmd := resourceCommand("inventory", "Inventories: list, get, create, update, delete (and --list / --host for Ansible)",
		listCommand("List inventories", inventoryColumns, (*client.Client).ListInventories),
		&cobra.Command{
			Use: "get INVENTORY", Short: "Show an inventory (by name or id)", Args: cobra.ExactArgs(1),
			ValidArgsFunction: completeInventories,
			RunE: withAPI(func(cmd *cobra.Command, c *client.Client, args []string) error {
				r, err := client.Decode[client.Inventory](c.GetInventory(cmd.Context(), args[0]))
				if err != nil {
					return err
				}
				return printOne(cmd, r.Value, r.JSON, inventoryColumns)
			}),
		},
		inventoryWriteCommand("create NAME", "Create an inventory", false),
		inventoryWriteCommand("update INVENTORY", "Change an inventory (by name or id)", true),
		&cobra.Command{
			Use: "delete INVENTORY", Short: "Delete an inventory with its sources, hosts and sync history", Args: cobra.ExactArgs(1),
			ValidArgsFunction: completeInventories,
			RunE: withAPI(func(cmd *cobra.Command, c *client.Client, args []string) error {
				if _, err := client.Decode[struct{}](c.DeleteInventory(cmd.Context(), args[0])); err != nil {
					return err
				}
				return deleted(cmd, "inventory", args[0])
			}),
		},
	)
	// roster inventory --list | --host NAME is the Ansible inventory
	// script, as it was before the subcommands: its flags are its own.
	cmd.Long = `Inventories through the API: roster inventory list|get|create|update|delete.

roster inventory --list | --host NAME is the Ansible dynamic inventory script
(what roster-inventory does), configured as roster-inventory is.`
	cmd.Args = cobra.ArbitraryArgs
	cmd.DisableFlagParsing = true
	cmd.RunE = func(cmd *cobra.Command, args []string) error {
		if len(args) == 0 || args[0] == "-h" || args[0] == "--help" {
			return cmd.Help()
		}
		if !strings.HasPrefix(args[0], "-") {
			return fmt.Errorf("unknown command %q for roster inventory (list, get, create, update, delete; or --list / --host NAME)", args[0])
		}
		exe, _ := os.Executable()
		if code := ansibleinv.Main(cmd.Context(), args, cmd.OutOrStdout(), cmd.ErrOrStderr(), os.Getenv, exe); code != 0 {
			return exitError{code}
		}
		return nil
	}
	return cmd
}

func inventoryWriteCommand(use, short string, update bool) *cobra.Command {
	var name, description, policy, promSD, kind, hostFilter, sourceVars, limit string
	var inputs []string
	cmd := &cobra.Command{
		Use: use, Short: short, Args: cobra.ExactArgs(1),
		RunE: withAPI(func(cmd *cobra.Command, c *client.Client, args []string) error {
			body, err := requestBody(cmd)
			if err != nil {
				return err
			}
			set(cmd, body, "description", "description", description)
			set(cmd, body, "name-policy", "name_policy", policy)
			if promSD != "" {
				m := map[string]any{}
				if err := readObject(cmd, promSD, &m); err != nil {
					return fmt.Errorf("--prometheus-sd %s: %w", promSD, err)
				}
				body["prometheus_sd"] = m
			}
			set(cmd, body, "host-filter", "host_filter", hostFilter)
			set(cmd, body, "limit", "limit", limit)
			if cmd.Flags().Changed("input") {
				body["inputs"] = inputs
			}
			if sourceVars != "" {
				m := map[string]any{}
				if err := readObject(cmd, sourceVars, &m); err != nil {
					return fmt.Errorf("--source-vars %s: %w", sourceVars, err)
				}
				body["source_vars"] = m
			}
			var r *client.Response[client.Inventory]
			if update {
				set(cmd, body, "name", "name", name)
				rd, err := jsonReader(body)
				if err != nil {
					return err
				}
				r, err = client.Decode[client.Inventory](c.UpdateInventoryWithBody(cmd.Context(), args[0], contentJSON, rd))
				if err != nil {
					return err
				}
			} else {
				body["name"] = args[0]
				set(cmd, body, "kind", "kind", kind)
				rd, err := jsonReader(body)
				if err != nil {
					return err
				}
				r, err = client.Decode[client.Inventory](c.CreateInventoryWithBody(cmd.Context(), contentJSON, rd))
				if err != nil {
					return err
				}
			}
			return printOne(cmd, r.Value, r.JSON, inventoryColumns)
		}),
	}
	if update {
		cmd.Flags().StringVar(&name, "name", "", "a new name")
		cmd.ValidArgsFunction = completeInventories
	} else {
		cmd.Flags().StringVar(&kind, "kind", "", "plain (default), smart or constructed: where the hosts come from (never changes)")
		cmd.RegisterFlagCompletionFunc("kind", cobra.FixedCompletions([]string{"plain", "smart", "constructed"}, cobra.ShellCompDirectiveNoFileComp))
	}
	cmd.Flags().StringArrayVar(&inputs, "input", nil, "smart/constructed: an input inventory (repeat, in order; on update the list replaces the old one)")
	cmd.Flags().StringVar(&hostFilter, "host-filter", "", "smart: which hosts of the inputs to keep, e.g. 'groups__name=web and not variables__env=dev'")
	cmd.Flags().StringVar(&sourceVars, "source-vars", "", "constructed: a constructed plugin file (YAML or JSON; - for stdin)")
	cmd.Flags().StringVar(&limit, "limit", "", "constructed: an Ansible host pattern the constructed hosts must match (\"\" removes it)")
	cmd.RegisterFlagCompletionFunc("input", completeInventories)
	cmd.Flags().StringVar(&description, "description", "", "what the inventory is for")
	cmd.Flags().StringVar(&policy, "name-policy", "", "what Ansible's view does with a host name several sources have: merge, prefix, first or fail")
	cmd.Flags().StringVar(&promSD, "prometheus-sd", "", "a YAML or JSON file of the Prometheus SD mapping (an empty object removes it)")
	cmd.RegisterFlagCompletionFunc("name-policy", cobra.FixedCompletions([]string{"merge", "prefix", "first", "fail"}, cobra.ShellCompDirectiveNoFileComp))
	addFileFlag(cmd)
	return cmd
}

// ---- sources

func sourceColumns(invNames map[string]string) columns[client.Source] {
	return columns[client.Source]{
		header: []string{"INVENTORY", "NAME", "ID", "PROVIDER", "SCHEDULE", "CREDENTIAL", "NEXT SYNC"},
		row: func(s client.Source) []string {
			inv := invNames[s.InventoryId]
			if inv == "" {
				inv = s.InventoryId
			}
			return []string{inv, s.Name, s.Id, s.Provider, str(s.Schedule), str(s.Credential), timeCell(s.NextSyncAt)}
		},
	}
}

func newSourceCommand() *cobra.Command {
	return resourceCommand("source", "Sources of inventories: list, get, create, update, delete",
		&cobra.Command{
			Use: "list [INVENTORY]", Short: "List the sources of an inventory, or of all", Args: cobra.MaximumNArgs(1),
			ValidArgsFunction: completeInventories,
			RunE: withAPI(func(cmd *cobra.Command, c *client.Client, args []string) error {
				invs, err := fetchList[client.Inventory](func(*string) (*http.Response, error) { return c.ListInventories(cmd.Context()) }, 0)
				if err != nil {
					return err
				}
				names := map[string]string{}
				var refs []string
				for _, inv := range invs.values {
					names[inv.Id] = inv.Name
					refs = append(refs, inv.Id)
				}
				if len(args) == 1 {
					refs = args
				}
				var all list[client.Source]
				for _, ref := range refs {
					l, err := fetchList[client.Source](func(*string) (*http.Response, error) { return c.ListSources(cmd.Context(), ref) }, 0)
					if isNotFound(err) && len(args) == 0 {
						continue // deleted meanwhile
					}
					if err != nil {
						return err
					}
					all.values, all.raw = append(all.values, l.values...), append(all.raw, l.raw...)
				}
				return printList(cmd, all, sourceColumns(names))
			}),
		},
		&cobra.Command{
			Use: "get SOURCE", Short: "Show a source (by id, INVENTORY/NAME, or its name)", Args: cobra.ExactArgs(1),
			ValidArgsFunction: completeSources,
			RunE: withAPI(func(cmd *cobra.Command, c *client.Client, args []string) error {
				s, raw, err := resolveSource(cmd.Context(), c, args[0])
				if err != nil {
					return err
				}
				return printOne(cmd, s, raw, sourceColumns(nil))
			}),
		},
		sourceWriteCommand(false),
		sourceWriteCommand(true),
		&cobra.Command{
			Use: "delete SOURCE", Short: "Delete a source with its hosts and sync history", Args: cobra.ExactArgs(1),
			ValidArgsFunction: completeSources,
			RunE: withAPI(func(cmd *cobra.Command, c *client.Client, args []string) error {
				s, _, err := resolveSource(cmd.Context(), c, args[0])
				if err != nil {
					return err
				}
				if _, err := client.Decode[struct{}](c.DeleteSource(cmd.Context(), s.Id)); err != nil {
					return err
				}
				return deleted(cmd, "source", s.Id)
			}),
		},
	)
}

func sourceWriteCommand(update bool) *cobra.Command {
	var name, provider, config, credential, schedule, jitter, timeout, onMissing string
	var updateCache int
	cmd := &cobra.Command{
		Use:   "create INVENTORY NAME --provider aws|gcp|azure|openstack [--config PLUGIN-FILE]",
		Short: "Add a source to an inventory",
		Example: `  roster source create prod ec2 --provider aws --config aws_ec2.yml --credential aws-prod --schedule 15m
  roster source create prod gce -f source.yaml`,
		Args: cobra.ExactArgs(2),
	}
	if update {
		cmd.Use, cmd.Short, cmd.Example, cmd.Args = "update SOURCE", "Change a source (a new --config replaces the old one whole)", "", cobra.ExactArgs(1)
		cmd.ValidArgsFunction = completeSources
	} else {
		cmd.ValidArgsFunction = completeInventories
	}
	cmd.RunE = withAPI(func(cmd *cobra.Command, c *client.Client, args []string) error {
		body, err := requestBody(cmd)
		if err != nil {
			return err
		}
		if config != "" {
			m := map[string]any{}
			if err := readObject(cmd, config, &m); err != nil {
				return fmt.Errorf("--config %s: %w", config, err)
			}
			body["config"] = m
		}
		set(cmd, body, "credential", "credential", credential)
		set(cmd, body, "schedule", "schedule", schedule)
		set(cmd, body, "schedule-jitter", "schedule_jitter", jitter)
		set(cmd, body, "timeout", "timeout", timeout)
		set(cmd, body, "on-missing", "on_missing", onMissing)
		set(cmd, body, "update-cache-timeout", "update_cache_timeout", updateCache)
		var r *client.Response[client.Source]
		if update {
			set(cmd, body, "name", "name", name)
			s, _, err := resolveSource(cmd.Context(), c, args[0])
			if err != nil {
				return err
			}
			rd, err := jsonReader(body)
			if err != nil {
				return err
			}
			if r, err = client.Decode[client.Source](c.UpdateSourceWithBody(cmd.Context(), s.Id, contentJSON, rd)); err != nil {
				return err
			}
		} else {
			body["name"] = args[1]
			set(cmd, body, "provider", "provider", provider)
			rd, err := jsonReader(body)
			if err != nil {
				return err
			}
			if r, err = client.Decode[client.Source](c.CreateSourceWithBody(cmd.Context(), args[0], contentJSON, rd)); err != nil {
				return err
			}
		}
		if r.Value.Warnings != nil {
			for _, w := range *r.Value.Warnings {
				fmt.Fprintln(cmd.ErrOrStderr(), "warning:", w)
			}
		}
		return printOne(cmd, r.Value, r.JSON, sourceColumns(nil))
	})
	fs := cmd.Flags()
	if update {
		fs.StringVar(&name, "name", "", "a new name")
	} else {
		fs.StringVar(&provider, "provider", "", "aws, gcp, azure or openstack")
		cmd.RegisterFlagCompletionFunc("provider", cobra.FixedCompletions([]string{"aws", "gcp", "azure", "openstack"}, cobra.ShellCompDirectiveNoFileComp))
	}
	fs.StringVar(&config, "config", "", "the provider's options: an Ansible inventory plugin file (YAML or JSON; - for stdin)")
	fs.StringVar(&credential, "credential", "", "the credential (name or id) the source syncs with; \"\" detaches it")
	fs.StringVar(&schedule, "schedule", "", "when it syncs by itself: an interval (15m) or a cron expression; \"\" only on demand")
	fs.StringVar(&jitter, "schedule-jitter", "", "delay each tick by up to this much")
	fs.StringVar(&timeout, "timeout", "", "the run timeout, e.g. 10m")
	fs.StringVar(&onMissing, "on-missing", "", "what a sync does with hosts the cloud stopped reporting: remove or disable")
	fs.IntVar(&updateCache, "update-cache-timeout", 0, "seconds: reads of the inventory's Ansible view sync the source first when its data is older (0: never)")
	cmd.MarkFlagFilename("config", "yaml", "yml", "json")
	cmd.RegisterFlagCompletionFunc("on-missing", cobra.FixedCompletions([]string{"remove", "disable"}, cobra.ShellCompDirectiveNoFileComp))
	addFileFlag(cmd)
	return cmd
}

// ---- hosts

var hostColumns = columns[client.Host]{
	header: []string{"ID", "NAME", "ADDRESS", "ENABLED", "SCOPE", "GROUPS", "LAST SEEN"},
	row: func(h client.Host) []string {
		groups := h.Groups
		more := ""
		if len(groups) > 4 {
			groups, more = groups[:4], fmt.Sprintf(" +%d", len(h.Groups)-4)
		}
		return []string{strconv.FormatInt(h.Id, 10), h.Name, h.Address, strconv.FormatBool(h.Enabled), h.Scope, strings.Join(groups, ",") + more, timeCell(&h.LastSeen)}
	},
}

func newHostCommand() *cobra.Command {
	var group, name, source, enabled string
	var limit int
	list := &cobra.Command{
		Use: "list INVENTORY", Short: "List an inventory's hosts, by name", Args: cobra.ExactArgs(1),
		ValidArgsFunction: completeInventories,
		RunE: withAPI(func(cmd *cobra.Command, c *client.Client, args []string) error {
			p := client.ListHostsParams{}
			if group != "" {
				p.Group = &group
			}
			if name != "" {
				p.Name = &name
			}
			if source != "" {
				p.Source = &source // the inventory's source, by name or id
			}
			if enabled != "" {
				b, err := strconv.ParseBool(enabled)
				if err != nil {
					return fmt.Errorf("--enabled %q: want true or false", enabled)
				}
				p.Enabled = &b
			}
			l, err := fetchList[client.Host](func(cursor *string) (*http.Response, error) {
				p.Cursor = cursor
				return c.ListHosts(cmd.Context(), args[0], &p)
			}, limit)
			if err != nil {
				return err
			}
			return printList(cmd, l, hostColumns)
		}),
	}
	list.Flags().StringVar(&group, "group", "", "only direct members of this group")
	list.Flags().StringVar(&name, "name", "", "only hosts of this name; * matches any run of characters (web-*)")
	list.Flags().StringVar(&source, "source", "", "only hosts of this source (id, INVENTORY/NAME or name)")
	list.Flags().StringVar(&enabled, "enabled", "", "only enabled (true) or disabled (false) hosts")
	list.Flags().IntVar(&limit, "limit", 0, "at most this many hosts (0: all)")
	return resourceCommand("host", "Hosts of inventories: list, get, history (hosts come from sources' syncs)",
		list,
		&cobra.Command{
			Use: "get INVENTORY HOST", Short: "Show a host with its vars (HOST: its name or id)", Args: cobra.ExactArgs(2),
			ValidArgsFunction: completeInventories,
			RunE: withAPI(func(cmd *cobra.Command, c *client.Client, args []string) error {
				h, raw, err := resolveHost(cmd.Context(), c, args[0], args[1])
				if err != nil {
					return err
				}
				return printOne(cmd, h, raw, hostColumns)
			}),
		},
		newHostHistoryCommand(),
	)
}

func newHostHistoryCommand() *cobra.Command {
	var limit int
	cmd := &cobra.Command{
		Use:   "history INVENTORY HOST",
		Short: "What syncs changed of a host, newest first (HOST: its name; kept for the server's change retention)",
		Args:  cobra.ExactArgs(2), ValidArgsFunction: completeInventories,
		RunE: withAPI(func(cmd *cobra.Command, c *client.Client, args []string) error {
			l, err := fetchList[client.HostChange](func(cursor *string) (*http.Response, error) {
				return c.GetHostHistory(cmd.Context(), args[0], args[1], &client.GetHostHistoryParams{Cursor: cursor, Limit: pageSize(limit)})
			}, limit)
			if err != nil {
				return err
			}
			return printList(cmd, l, historyColumns)
		}),
	}
	cmd.Flags().IntVar(&limit, "limit", 0, "at most this many changes (0: all)")
	return cmd
}

// pageSize is the page size to ask for to list limit items (0: all).
func pageSize(limit int) *int {
	n := 1000
	if limit > 0 {
		n = min(limit, n)
	}
	return &n
}

// changedKeys is a change's keys for a table: the first few, and how
// many more.
func changedKeys(c client.HostChange) string {
	keys, more := c.ChangedKeys, ""
	if len(keys) > 6 {
		keys, more = keys[:6], fmt.Sprintf(" +%d", len(c.ChangedKeys)-6)
	}
	s := strings.Join(keys, ",") + more
	if c.Truncated {
		s += " (diff truncated)"
	}
	return s
}

// changeColumns show a run's changes; historyColumns a host's.
var (
	changeColumns = columns[client.HostChange]{
		header: []string{"KIND", "HOST", "HOST ID", "KEYS"},
		row: func(c client.HostChange) []string {
			return []string{string(c.Kind), c.Host, strconv.FormatInt(c.HostId, 10), changedKeys(c)}
		},
	}
	historyColumns = columns[client.HostChange]{
		header: []string{"AT", "RUN", "KIND", "HOST ID", "KEYS"},
		row: func(c client.HostChange) []string {
			return []string{timeCell(&c.At), c.RunId, string(c.Kind), strconv.FormatInt(c.HostId, 10), changedKeys(c)}
		},
	}
)

// ---- groups

var groupColumns = columns[client.Group]{
	header: []string{"NAME", "HOSTS", "CHILDREN", "VARS"},
	row: func(g client.Group) []string {
		return []string{g.Name, strconv.Itoa(g.Hosts), strings.Join(g.Children, ","), varNames(g.Vars)}
	},
}

// varNames is the names of a vars object, for a table.
func varNames(v *client.Vars) string {
	if v == nil {
		return ""
	}
	var m map[string]any
	if json.Unmarshal(*v, &m) != nil {
		return ""
	}
	var names []string
	for k := range m {
		names = append(names, k)
	}
	slices.Sort(names)
	return strings.Join(names, ",")
}

func newGroupCommand() *cobra.Command {
	listGroups := func(cmd *cobra.Command, c *client.Client, inv string) (list[client.Group], error) {
		return fetchList[client.Group](func(*string) (*http.Response, error) { return c.ListGroups(cmd.Context(), inv) }, 0)
	}
	var vars string
	update := &cobra.Command{
		Use: "update INVENTORY GROUP --vars FILE", Short: "Replace a group's vars (Roster keeps them; syncs never change them)", Args: cobra.ExactArgs(2),
		ValidArgsFunction: completeInventories,
		RunE: withAPI(func(cmd *cobra.Command, c *client.Client, args []string) error {
			m := map[string]any{}
			if err := readObject(cmd, vars, &m); err != nil {
				return fmt.Errorf("--vars %s: %w", vars, err)
			}
			rd, err := jsonReader(m)
			if err != nil {
				return err
			}
			if _, err := client.Decode[client.Vars](c.SetGroupVarsWithBody(cmd.Context(), args[0], args[1], contentJSON, rd)); err != nil {
				return err
			}
			l, err := listGroups(cmd, c, args[0])
			if err != nil {
				return err
			}
			g, raw, ok := findIn(l, args[1], func(g client.Group) string { return g.Name }, nil)
			if !ok {
				// Vars of a group no host is in yet: kept for when one is.
				fmt.Fprintf(cmd.OutOrStdout(), "set the vars of group %s\n", args[1])
				return nil
			}
			return printOne(cmd, g, raw, groupColumns)
		}),
	}
	update.Flags().StringVar(&vars, "vars", "", "a YAML or JSON file of the vars (- for stdin); {} removes them")
	update.MarkFlagRequired("vars")
	update.MarkFlagFilename("vars", "yaml", "yml", "json")
	return resourceCommand("group", "Groups of inventories: list, get, update (their vars)",
		&cobra.Command{
			Use: "list INVENTORY", Short: "List an inventory's groups", Args: cobra.ExactArgs(1),
			ValidArgsFunction: completeInventories,
			RunE: withAPI(func(cmd *cobra.Command, c *client.Client, args []string) error {
				l, err := listGroups(cmd, c, args[0])
				if err != nil {
					return err
				}
				return printList(cmd, l, groupColumns)
			}),
		},
		&cobra.Command{
			Use: "get INVENTORY GROUP", Short: "Show a group", Args: cobra.ExactArgs(2),
			ValidArgsFunction: completeInventories,
			RunE: withAPI(func(cmd *cobra.Command, c *client.Client, args []string) error {
				l, err := listGroups(cmd, c, args[0])
				if err != nil {
					return err
				}
				g, raw, ok := findIn(l, args[1], func(g client.Group) string { return g.Name }, nil)
				if !ok {
					return fmt.Errorf("inventory %s has no group %s", args[0], args[1])
				}
				return printOne(cmd, g, raw, groupColumns)
			}),
		},
		update,
	)
}

// ---- sync runs

var runColumns = columns[client.SyncRun]{
	header: []string{"ID", "STATUS", "TRIGGER", "SCOPES", "SEEN", "ADDED", "UPDATED", "REMOVED", "CREATED", "ERROR"},
	row: func(r client.SyncRun) []string {
		done, _ := scopeProgress(r)
		n := r.Counts
		return []string{r.Id, string(r.Status), string(r.Trigger), fmt.Sprintf("%d/%d", done, len(r.Scopes)),
			strconv.Itoa(n.Seen), strconv.Itoa(n.Added), strconv.Itoa(n.Updated), strconv.Itoa(n.Removed), timeCell(&r.CreatedAt), str(r.Error)}
	},
}

// scopeProgress is how many of a run's scopes are done, and the hosts
// they saw.
func scopeProgress(r client.SyncRun) (done, hosts int) {
	for _, s := range r.Scopes {
		if s.Status != client.ScopeResultStatusPending {
			done++
		}
		hosts += s.Hosts
	}
	return done, hosts
}

func newRunCommand() *cobra.Command {
	var limit int
	list := &cobra.Command{
		Use: "list SOURCE", Short: "A source's sync runs, newest first", Args: cobra.ExactArgs(1),
		ValidArgsFunction: completeSources,
		RunE: withAPI(func(cmd *cobra.Command, c *client.Client, args []string) error {
			s, _, err := resolveSource(cmd.Context(), c, args[0])
			if err != nil {
				return err
			}
			l, err := fetchList[client.SyncRun](func(cursor *string) (*http.Response, error) {
				return c.ListSyncRuns(cmd.Context(), s.Id, &client.ListSyncRunsParams{Cursor: cursor})
			}, limit)
			if err != nil {
				return err
			}
			return printList(cmd, l, runColumns)
		}),
	}
	list.Flags().IntVar(&limit, "limit", 20, "at most this many runs (0: all)")
	return resourceCommand("run", "Sync runs: list, get, changes (roster sync starts one)",
		list,
		newRunChangesCommand(),
		&cobra.Command{
			Use: "get RUN-ID", Short: "Show a sync run with its per-scope progress and counts", Args: cobra.ExactArgs(1),
			RunE: withAPI(func(cmd *cobra.Command, c *client.Client, args []string) error {
				r, err := client.Decode[client.SyncRun](c.GetSyncRun(cmd.Context(), args[0]))
				if err != nil {
					return err
				}
				return printOne(cmd, r.Value, r.JSON, runColumns)
			}),
		},
	)
}

func newRunChangesCommand() *cobra.Command {
	var kind string
	var limit int
	cmd := &cobra.Command{
		Use:   "changes RUN-ID [--kind added|changed|disabled|enabled|removed]",
		Short: "What a succeeded sync run did to each host: added, changed (with the keys), disabled, enabled, removed",
		Args:  cobra.ExactArgs(1),
		RunE: withAPI(func(cmd *cobra.Command, c *client.Client, args []string) error {
			p := client.ListSyncRunChangesParams{Limit: pageSize(limit)}
			if kind != "" {
				p.Kind = (*client.HostChangeKind)(&kind)
			}
			l, err := fetchList[client.HostChange](func(cursor *string) (*http.Response, error) {
				p.Cursor = cursor
				return c.ListSyncRunChanges(cmd.Context(), args[0], &p)
			}, limit)
			if err != nil {
				return err
			}
			return printList(cmd, l, changeColumns)
		}),
	}
	cmd.Flags().StringVar(&kind, "kind", "", "only the changes of this kind: added, changed, disabled, enabled or removed")
	cmd.Flags().IntVar(&limit, "limit", 0, "at most this many changes (0: all)")
	cmd.RegisterFlagCompletionFunc("kind", cobra.FixedCompletions([]string{"added", "changed", "disabled", "enabled", "removed"}, cobra.ShellCompDirectiveNoFileComp))
	return cmd
}
