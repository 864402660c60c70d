package main

import (
	"errors"
	"fmt"
	"io"
	"net/http"
)

const keyUsage = "usage: weavego key list | install KEY | use KEY | remove KEY | generate"

// runKey runs `weavego key ...`. generate needs no plugin.
func runKey(args []string, socket string, out io.Writer) error {
	if len(args) == 0 {
		return errors.New(keyUsage)
	}
	if args[0] == "generate" && len(args) == 1 {
		k, err := newKey()
		if err != nil {
			return fmt.Errorf("generate a key: %w", err)
		}
		fmt.Fprintln(out, encodeKey(k))
		return nil
	}
	c := newControlClient(socket)
	switch {
	case args[0] == "list" && len(args) == 1:
		var a keysAnswer
		if err := c.do(http.MethodGet, "/keys", nil, &a); err != nil {
			return err
		}
		for i, k := range a.Keys {
			role := ""
			if i == 0 {
				role = "  (primary: used to send)"
			}
			fmt.Fprintf(out, "%s%s\n", k, role)
		}
		return nil
	case len(args) == 2 && (args[0] == "install" || args[0] == "use" || args[0] == "remove"):
		return c.result(http.MethodPost, "/keys/"+args[0], keyRequest{Key: args[1]}, out)
	}
	return errors.New(keyUsage)
}
