package main

import (
	"fmt"
	"io"
	"maps"
	"net/http"
	"os"
	"slices"
	"strings"

	"github.com/spf13/cobra"

	"github.com/rosterhq/roster/internal/client"
)

// ---- event sinks

var sinkColumns = columns[client.EventSink]{
	header: []string{"NAME", "ID", "TYPE", "STREAMS", "ENABLED", "TARGET", "QUEUE"},
	row: func(s client.EventSink) []string {
		streams := make([]string, len(s.Streams))
		for i, st := range s.Streams {
			streams[i] = string(st)
		}
		return []string{s.Name, s.Id, string(s.Type), strings.Join(streams, ","), fmt.Sprint(s.Enabled), s.Target, fmt.Sprint(s.QueueSize)}
	},
}

var sinkTestColumns = columns[client.EventSinkTestResult]{
	header: []string{"DELIVERED", "DURATION_MS", "ERROR"},
	row: func(r client.EventSinkTestResult) []string {
		return []string{fmt.Sprint(r.Delivered), fmt.Sprint(r.DurationMs), str(r.Error)}
	},
}

var sinkStatusColumns = columns[client.EventSinkStatus]{
	header: []string{"NODE", "RUNNING", "QUEUE", "SENT", "DROPPED", "FAILING", "LAST_SUCCESS", "LAST_ERROR"},
	row: func(s client.EventSinkStatus) []string {
		var dropped []string
		for _, reason := range slices.Sorted(maps.Keys(s.Dropped)) {
			if n := s.Dropped[reason]; n > 0 {
				dropped = append(dropped, fmt.Sprintf("%s=%d", reason, n))
			}
		}
		return []string{s.Node, fmt.Sprint(s.Running), fmt.Sprintf("%d/%d", s.QueueLength, s.QueueSize), fmt.Sprint(s.Sent),
			strings.Join(dropped, ","), fmt.Sprint(s.Failing), timeCell(s.LastSuccess), str(s.LastError)}
	},
}

// sinkCall runs one call about the sink named by the command's argument
// and prints its answer.
func sinkCall[T any](use, short string, call func(*cobra.Command, *client.Client, string) (*http.Response, error), cols columns[T]) *cobra.Command {
	return &cobra.Command{
		Use: use, Short: short, Args: cobra.ExactArgs(1),
		RunE: withAPI(func(cmd *cobra.Command, c *client.Client, args []string) error {
			r, err := client.Decode[T](call(cmd, c, args[0]))
			if err != nil {
				return err
			}
			return printOne(cmd, r.Value, r.JSON, cols)
		}),
	}
}

func newSinkCommand() *cobra.Command {
	return resourceCommand("sink", "Event sinks forwarding audit records, sync runs and logs: list, get, create, update, delete, test, status",
		listCommand("List event sinks (admin only)", sinkColumns, (*client.Client).ListEventSinks),
		sinkCall("get SINK", "Show an event sink (by name or id; never its secrets)",
			func(cmd *cobra.Command, c *client.Client, ref string) (*http.Response, error) {
				return c.GetEventSink(cmd.Context(), ref)
			},
			sinkColumns),
		sinkWriteCommand(false),
		sinkWriteCommand(true),
		&cobra.Command{
			Use: "delete SINK", Short: "Delete an event sink and its secrets", Args: cobra.ExactArgs(1),
			RunE: withAPI(func(cmd *cobra.Command, c *client.Client, args []string) error {
				if _, err := client.Decode[struct{}](c.DeleteEventSink(cmd.Context(), args[0])); err != nil {
					return err
				}
				return deleted(cmd, "event sink", args[0])
			}),
		},
		sinkCall("test SINK", "Send one test event to the sink now, bypassing its queue",
			func(cmd *cobra.Command, c *client.Client, ref string) (*http.Response, error) {
				return c.TestEventSink(cmd.Context(), ref)
			},
			sinkTestColumns),
		sinkCall("status SINK", "The sink's queue and counters on the node answering",
			func(cmd *cobra.Command, c *client.Client, ref string) (*http.Response, error) {
				return c.GetEventSinkStatus(cmd.Context(), ref)
			}, sinkStatusColumns),
	)
}

// sinkFlags are the settings flags of sink create and update: flag name,
// body key.
var sinkFlags = [][2]string{{"address", "address"}, {"transport", "transport"}, {"facility", "facility"}, {"app-name", "app_name"},
	{"tls-server-name", "tls_server_name"}, {"url", "url"}, {"index", "index"}, {"source", "source"}, {"sourcetype", "sourcetype"},
	{"format", "format"}, {"username", "username"}, {"log-level", "log_level"}}

// sinkSecretFlags are the secret files of sink create and update: flag
// name, body key.
var sinkSecretFlags = [][2]string{{"hec-token-file", "token"}, {"password-file", "password"}, {"bearer-token-file", "bearer_token"}}

func sinkWriteCommand(update bool) *cobra.Command {
	var typ, caFile string
	var streams []string
	var queue int
	var allowInsecure, enabled bool
	values := map[string]*string{}
	cmd := &cobra.Command{
		Use:   "create NAME --type syslog|hec|http_json --stream STREAM... [settings]",
		Short: "Forward audit records, sync runs or logs to a log system (admin only)",
		Long: `Forward audit records, sync runs or logs to a log system (admin only).

Secrets (a HEC token, a password, a bearer token) are read from files (- for
stdin), never from the command line, which other users of the machine can read.`,
		Example: `  roster sink create splunk --type hec --url https://splunk.example:8088 --hec-token-file hec.txt --stream audit --stream sync
  roster sink create audit-syslog --type syslog --address logs.example:6514 --transport tls --stream audit`,
		Args: cobra.ExactArgs(1),
	}
	if update {
		cmd.Use, cmd.Short, cmd.Example = "update SINK", "Change an event sink (admin only); secrets not given keep their values", ""
	}
	cmd.RunE = withAPI(func(cmd *cobra.Command, c *client.Client, args []string) error {
		body, err := requestBody(cmd)
		if err != nil {
			return err
		}
		for _, f := range sinkFlags {
			set(cmd, body, f[0], f[1], *values[f[0]])
		}
		for _, f := range sinkSecretFlags {
			if !cmd.Flags().Changed(f[0]) {
				continue
			}
			v := ""
			if path := *values[f[0]]; path != "" {
				if v, err = readSecretArg(cmd, path); err != nil {
					return fmt.Errorf("--%s: %w", f[0], err)
				}
			}
			body[f[1]] = v
		}
		if caFile != "" {
			pem, err := os.ReadFile(caFile)
			if err != nil {
				return fmt.Errorf("--tls-ca-file: %w", err)
			}
			body["tls_ca"] = string(pem)
		}
		set(cmd, body, "stream", "streams", streams)
		set(cmd, body, "queue-size", "queue_size", queue)
		set(cmd, body, "allow-insecure", "allow_insecure", allowInsecure)
		set(cmd, body, "enabled", "enabled", enabled)
		rd, err := jsonReader(withName(body, update, args[0], typ, cmd))
		if err != nil {
			return err
		}
		var resp *http.Response
		if update {
			resp, err = c.UpdateEventSinkWithBody(cmd.Context(), args[0], contentJSON, rd)
		} else {
			resp, err = c.CreateEventSinkWithBody(cmd.Context(), contentJSON, rd)
		}
		r, err := client.Decode[client.EventSink](resp, err)
		if err != nil {
			return err
		}
		return printOne(cmd, r.Value, r.JSON, sinkColumns)
	})
	fs := cmd.Flags()
	if !update {
		fs.StringVar(&typ, "type", "", "syslog, hec or http_json")
		cmd.RegisterFlagCompletionFunc("type", cobra.FixedCompletions([]string{"syslog", "hec", "http_json"}, cobra.ShellCompDirectiveNoFileComp))
	}
	help := map[string]string{"address": "syslog: host:port", "transport": "syslog: tcp, tls or udp", "facility": "syslog: facility (default local0)",
		"app-name": "syslog: APP-NAME (default roster)", "tls-server-name": "syslog over tls: the certificate's name",
		"url": "hec, http_json: where to post", "index": "hec: index", "source": "hec: source", "sourcetype": "hec: sourcetype",
		"format": "http_json: ndjson or array", "username": "http_json: basic auth user", "log-level": "the log stream's least level (default warn)",
		"hec-token-file": "hec: a file holding the HEC token (- for stdin)", "password-file": "http_json: a file holding the basic auth password (- for stdin)",
		"bearer-token-file": "http_json: a file holding a bearer token (- for stdin)"}
	for _, f := range append(slices.Clone(sinkFlags), sinkSecretFlags...) {
		values[f[0]] = new(string)
		fs.StringVar(values[f[0]], f[0], "", help[f[0]])
	}
	fs.StringVar(&caFile, "tls-ca-file", "", "syslog over tls: a PEM file of the CAs to trust")
	fs.StringArrayVar(&streams, "stream", nil, "a stream to forward: audit, sync, log (repeat)")
	fs.IntVar(&queue, "queue-size", 0, "events the queue holds before dropping (default 10000)")
	fs.BoolVar(&allowInsecure, "allow-insecure", false, "allow plain tcp/udp/http to a host that is not loopback")
	fs.BoolVar(&enabled, "enabled", true, "forward events (--enabled=false pauses it)")
	cmd.RegisterFlagCompletionFunc("stream", cobra.FixedCompletions([]string{"audit", "sync", "log"}, cobra.ShellCompDirectiveNoFileComp))
	addFileFlag(cmd)
	return cmd
}

// withName adds what only create sends: the name and the type.
func withName(body map[string]any, update bool, name, typ string, cmd *cobra.Command) map[string]any {
	if !update {
		body["name"] = name
		set(cmd, body, "type", "type", typ)
	}
	return body
}

// readSecretArg reads a secret from path (- for stdin), without the
// surrounding white space an editor leaves.
func readSecretArg(cmd *cobra.Command, path string) (string, error) {
	if path != "-" {
		v, err := readSecretFile("file", path)
		return strings.TrimSpace(v.Reveal()), err
	}
	b, err := io.ReadAll(io.LimitReader(cmd.InOrStdin(), maxSecretFile))
	return strings.TrimSpace(string(b)), err
}
