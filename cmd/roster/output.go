package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
	"go.yaml.in/yaml/v3"

	"github.com/rosterhq/roster/internal/client"
)

// The output formats of -o.
const (
	outputTable = "table"
	outputJSON  = "json"
	outputYAML  = "yaml"
)

// addOutputFlag gives cmd and its subcommands -o.
func addOutputFlag(cmd *cobra.Command) {
	cmd.PersistentFlags().StringP("output", "o", outputTable, "output format: table, json (the API's objects; a list is an array) or yaml")
	cmd.RegisterFlagCompletionFunc("output", cobra.FixedCompletions([]string{outputTable, outputJSON, outputYAML}, cobra.ShellCompDirectiveNoFileComp))
}

// outputFormat is the -o a command was given, checked.
func outputFormat(cmd *cobra.Command) (string, error) {
	f := cmd.Flags().Lookup("output")
	if f == nil {
		return outputTable, nil
	}
	switch v := f.Value.String(); v {
	case outputTable, outputJSON, outputYAML:
		return v, nil
	default:
		return "", fmt.Errorf("--output %q: want table, json or yaml", v)
	}
}

// columns is how a table shows one kind of object.
type columns[T any] struct {
	header []string
	row    func(T) []string
}

// list is objects as decoded and as the API sent them.
type list[T any] struct {
	values []T
	raw    []json.RawMessage
}

// page is one answer of a list operation.
type page struct {
	Items      []json.RawMessage `json:"items"`
	NextCursor *string           `json:"next_cursor"`
}

// fetchList gets a list, following next_cursor through every page (up
// to limit objects when limit > 0).
func fetchList[T any](fetch func(cursor *string) (*http.Response, error), limit int) (list[T], error) {
	var l list[T]
	var cursor *string
	for {
		p, err := client.Decode[page](fetch(cursor))
		if err != nil {
			return l, err
		}
		for _, raw := range p.Value.Items {
			if limit > 0 && len(l.raw) == limit {
				return l, nil
			}
			var v T
			if err := json.Unmarshal(raw, &v); err != nil {
				return l, fmt.Errorf("decode Roster's answer: %v", err)
			}
			l.values = append(l.values, v)
			l.raw = append(l.raw, raw)
		}
		if p.Value.NextCursor == nil || *p.Value.NextCursor == "" || limit > 0 && len(l.raw) == limit {
			return l, nil
		}
		cursor = p.Value.NextCursor
	}
}

// add appends one object.
func (l *list[T]) add(v T, raw json.RawMessage) {
	l.values = append(l.values, v)
	l.raw = append(l.raw, raw)
}

// printList prints objects as -o says: a table, or a JSON / YAML array.
func printList[T any](cmd *cobra.Command, l list[T], cols columns[T]) error {
	format, err := outputFormat(cmd)
	if err != nil {
		return err
	}
	w := cmd.OutOrStdout()
	if format == outputTable {
		rows := make([][]string, len(l.values))
		for i, v := range l.values {
			rows[i] = cols.row(v)
		}
		return printTable(w, cols.header, rows)
	}
	var b bytes.Buffer
	b.WriteByte('[')
	for i, raw := range l.raw {
		if i > 0 {
			b.WriteByte(',')
		}
		b.Write(raw)
	}
	b.WriteByte(']')
	return printJSON(w, format, b.Bytes())
}

// printOne prints one object as -o says.
func printOne[T any](cmd *cobra.Command, v T, raw json.RawMessage, cols columns[T]) error {
	format, err := outputFormat(cmd)
	if err != nil {
		return err
	}
	if format == outputTable {
		return printTable(cmd.OutOrStdout(), cols.header, [][]string{cols.row(v)})
	}
	return printJSON(cmd.OutOrStdout(), format, raw)
}

// printTable prints aligned columns.
func printTable(w io.Writer, header []string, rows [][]string) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, strings.Join(header, "\t"))
	for _, r := range rows {
		for i := range r {
			r[i] = cell(r[i])
		}
		fmt.Fprintln(tw, strings.Join(r, "\t"))
	}
	return tw.Flush()
}

// cell is a value as a table shows it: one line, no tab, "-" for none.
func cell(s string) string {
	s = strings.Join(strings.Fields(s), " ")
	if s == "" {
		return "-"
	}
	return s
}

// printJSON prints JSON indented, or as YAML with the same keys in the
// same order.
func printJSON(w io.Writer, format string, data []byte) error {
	if format == outputJSON {
		var b bytes.Buffer
		if err := json.Indent(&b, data, "", "  "); err != nil {
			return fmt.Errorf("decode Roster's answer: %v", err)
		}
		b.WriteByte('\n')
		_, err := w.Write(b.Bytes())
		return err
	}
	// JSON is YAML: parsed as a node tree, it keeps its order; the
	// styles are dropped so that it is written as block YAML.
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return fmt.Errorf("decode Roster's answer: %v", err)
	}
	blockStyle(&doc)
	enc := yaml.NewEncoder(w)
	enc.SetIndent(2)
	if err := enc.Encode(&doc); err != nil {
		return err
	}
	return enc.Close()
}

func blockStyle(n *yaml.Node) {
	n.Style = 0
	if n.Kind == yaml.ScalarNode && n.Tag == "!!str" && needsQuotes(n.Value) {
		n.Style = yaml.DoubleQuotedStyle
	}
	for _, c := range n.Content {
		blockStyle(c)
	}
}

// needsQuotes says whether a string would read back as something else
// (a number, a boolean, null) written plain.
func needsQuotes(s string) bool {
	var v any
	if err := yaml.Unmarshal([]byte(s), &v); err != nil {
		return true
	}
	_, isString := v.(string)
	return !isString || v != s
}

// timeCell shows a time in the table's local, minute-precise form.
func timeCell(t *time.Time) string {
	if t == nil || t.IsZero() {
		return "-"
	}
	return t.Local().Format("2006-01-02 15:04")
}

// str is a pointer's string, "" for nil.
func str[T ~string](p *T) string {
	if p == nil {
		return ""
	}
	return string(*p)
}
