package main

import (
	"context"
	"net/http"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/rosterhq/roster/internal/client"
)

// Shell completion is cobra's (roster completion bash|zsh|fish|powershell);
// these complete names from the server, within a second, and quietly
// complete nothing when the server cannot say.

const completionTimeout = time.Second

// completeWith completes the first argument with what names lists.
func completeWith(names func(ctx context.Context, c *client.Client) []string) cobra.CompletionFunc {
	return func(cmd *cobra.Command, args []string, toComplete string) ([]cobra.Completion, cobra.ShellCompDirective) {
		if len(args) > 0 {
			return nil, cobra.ShellCompDirectiveNoFileComp
		}
		c, err := apiClient(cmd)
		if err != nil {
			return nil, cobra.ShellCompDirectiveNoFileComp
		}
		ctx, cancel := context.WithTimeout(cmd.Context(), completionTimeout)
		defer cancel()
		var out []cobra.Completion
		for _, n := range names(ctx, c) {
			if strings.HasPrefix(n, toComplete) {
				out = append(out, n)
			}
		}
		return out, cobra.ShellCompDirectiveNoFileComp
	}
}

func inventoryNames(ctx context.Context, c *client.Client) []string {
	l, err := fetchList[client.Inventory](func(*string) (*http.Response, error) { return c.ListInventories(ctx) }, 0)
	if err != nil {
		return nil
	}
	var names []string
	for _, inv := range l.values {
		names = append(names, inv.Name)
	}
	return names
}

var completeInventories = completeWith(inventoryNames)

// completeSources offers INVENTORY/NAME, which always names one source.
var completeSources = completeWith(func(ctx context.Context, c *client.Client) []string {
	var names []string
	for _, inv := range inventoryNames(ctx, c) {
		l, err := fetchList[client.Source](func(*string) (*http.Response, error) { return c.ListSources(ctx, inv) }, 0)
		if err != nil {
			continue
		}
		for _, s := range l.values {
			names = append(names, inv+"/"+s.Name)
		}
	}
	return names
})

var completeCredentials = completeWith(func(ctx context.Context, c *client.Client) []string {
	l, err := fetchList[client.Credential](func(*string) (*http.Response, error) { return c.ListCredentials(ctx) }, 0)
	if err != nil {
		return nil
	}
	var names []string
	for _, cr := range l.values {
		names = append(names, cr.Name)
	}
	return names
})

var completeTokens = completeWith(func(ctx context.Context, c *client.Client) []string {
	l, err := fetchList[client.Token](func(*string) (*http.Response, error) { return c.ListTokens(ctx) }, 0)
	if err != nil {
		return nil
	}
	var names []string
	for _, t := range l.values {
		names = append(names, t.Name)
	}
	return names
})

var completeWebhooks = completeWith(func(ctx context.Context, c *client.Client) []string {
	l, err := fetchList[client.Webhook](func(*string) (*http.Response, error) { return c.ListWebhooks(ctx, nil) }, 0)
	if err != nil {
		return nil
	}
	var names []string
	for _, w := range l.values {
		names = append(names, w.Name)
	}
	return names
})

// completeContexts completes the names of the contexts file.
func completeContexts(cmd *cobra.Command, args []string, toComplete string) ([]cobra.Completion, cobra.ShellCompDirective) {
	f, _, err := readContexts()
	if err != nil {
		return nil, cobra.ShellCompDirectiveNoFileComp
	}
	var out []cobra.Completion
	for _, n := range f.names() {
		if strings.HasPrefix(n, toComplete) {
			out = append(out, n)
		}
	}
	return out, cobra.ShellCompDirectiveNoFileComp
}
