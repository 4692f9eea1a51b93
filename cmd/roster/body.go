package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/spf13/cobra"
	"go.yaml.in/yaml/v3"
)

// A create or update sends a JSON object built from the -f file (YAML or
// JSON: the API's fields) and the flags given over it. The server checks
// it: a key it does not know is refused, not dropped.

// addFileFlag gives a create or update command -f.
func addFileFlag(cmd *cobra.Command) {
	cmd.Flags().StringP("filename", "f", "", "a YAML or JSON file of the request's fields (- for stdin); flags override it")
	cmd.MarkFlagFilename("filename", "yaml", "yml", "json")
}

// requestBody is the -f file's object, or an empty one.
func requestBody(cmd *cobra.Command) (map[string]any, error) {
	body := map[string]any{}
	path, _ := cmd.Flags().GetString("filename")
	if path == "" {
		return body, nil
	}
	if err := readObject(cmd, path, &body); err != nil {
		return nil, fmt.Errorf("-f %s: %w", path, err)
	}
	return body, nil
}

// readObject reads a YAML or JSON object from a file (- for stdin).
func readObject(cmd *cobra.Command, path string, out *map[string]any) error {
	var b []byte
	var err error
	if path == "-" {
		b, err = io.ReadAll(cmd.InOrStdin())
	} else {
		b, err = os.ReadFile(path)
	}
	if err != nil {
		return err
	}
	if len(bytes.TrimSpace(b)) == 0 {
		return fmt.Errorf("is empty")
	}
	if err := yaml.Unmarshal(b, out); err != nil {
		return fmt.Errorf("not a YAML or JSON object: %s", strings.TrimPrefix(err.Error(), "yaml: "))
	}
	// JSON cannot carry a mapping with keys that are not strings.
	if _, err := json.Marshal(*out); err != nil {
		return fmt.Errorf("not a YAML or JSON object with string keys: %v", err)
	}
	return nil
}

// set puts a flag's value in the body when the flag was given.
func set(cmd *cobra.Command, body map[string]any, flag, key string, value any) {
	if cmd.Flags().Changed(flag) {
		body[key] = value
	}
}

// jsonReader is v as a JSON request body.
func jsonReader(v any) (io.Reader, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	return bytes.NewReader(b), nil
}

const contentJSON = "application/json"
