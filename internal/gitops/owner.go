package gitops

import (
	"slices"
	"sort"
	"strings"
)

// Ownership: --prune deletes only what apply created. Roster's resources
// carry no labels, so apply keeps that record on the server, in the one
// free-text field it has: the description of inventories and
// credentials. Apply appends one last line to it,
//
//	managed-by: roster-apply created=true sources=a,b webhooks=w grants=tok:cred
//
// on an inventory: created=true when apply created the inventory, and
// the names of the sources, webhooks and grants (token:credential) apply
// created in it. On a credential apply created: "managed-by: roster-apply
// created=true". Export, and the diff, leave the line out; everything
// else of the description is the user's. A resource apply adopted (it
// existed, the files declare it) is updated but never pruned. Sources,
// webhooks and grants without a description are recorded in their
// inventory's line: they belong to it, and go with it.
const ownerPrefix = "managed-by: roster-apply"

// owner is the record of one description's line.
type owner struct {
	Created  bool
	Sources  []string
	Webhooks []string
	Grants   []string // token:credential
}

func (o owner) empty() bool {
	return !o.Created && len(o.Sources) == 0 && len(o.Webhooks) == 0 && len(o.Grants) == 0
}

// splitOwner separates a stored description into the user's text and the
// ownership record.
func splitOwner(desc string) (string, owner) {
	i := strings.LastIndex(desc, ownerPrefix)
	if i < 0 || (i > 0 && desc[i-1] != '\n') || strings.Contains(desc[i:], "\n") {
		return desc, owner{}
	}
	var o owner
	for _, f := range strings.Fields(desc[i+len(ownerPrefix):]) {
		k, v, _ := strings.Cut(f, "=")
		list := func() []string {
			if v == "" {
				return nil
			}
			return strings.Split(v, ",")
		}
		switch k {
		case "created":
			o.Created = v == "true"
		case "sources":
			o.Sources = list()
		case "webhooks":
			o.Webhooks = list()
		case "grants":
			o.Grants = list()
		}
	}
	return strings.TrimRight(desc[:i], "\n"), o
}

// joinOwner is the description to store: the user's text and the record.
func joinOwner(text string, o owner) string {
	if o.empty() {
		return text
	}
	var b strings.Builder
	b.WriteString(ownerPrefix)
	if o.Created {
		b.WriteString(" created=true")
	}
	for _, l := range []struct {
		k string
		v []string
	}{{"sources", o.Sources}, {"webhooks", o.Webhooks}, {"grants", o.Grants}} {
		if len(l.v) > 0 {
			v := slices.Clone(l.v)
			sort.Strings(v)
			b.WriteString(" " + l.k + "=" + strings.Join(slices.Compact(v), ","))
		}
	}
	if text == "" {
		return b.String()
	}
	return text + "\n\n" + b.String()
}

func (o *owner) add(list *[]string, name string) {
	if !slices.Contains(*list, name) {
		*list = append(*list, name)
	}
}

func remove(list []string, name string) []string {
	return slices.DeleteFunc(slices.Clone(list), func(s string) bool { return s == name })
}
