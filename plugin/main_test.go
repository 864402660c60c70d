package main

import (
	"bytes"
	"context"
	"errors"
	"io"
	"strings"
	"testing"

	"github.com/weavego/weavego/plugin/control/client"
)

func TestRun(t *testing.T) {
	boom := errors.New("boom")
	for _, tc := range []struct {
		name       string
		args       []string
		env        map[string]string
		daemonErr  error
		wantCode   int
		wantDaemon bool
		wantOut    string
		wantErr    string
	}{
		{name: "no command", wantCode: 2, wantErr: "usage: weavego"},
		{name: "unknown command", args: []string{"frob"}, wantCode: 2, wantErr: `unknown command "frob"`},
		{name: "socket without path", args: []string{"--socket"}, wantCode: 2, wantErr: "--socket needs a path"},
		{name: "version", args: []string{"version"}, wantOut: "weavego dev"},
		{name: "client", args: []string{"--socket", "/nonexistent/control.sock", "status"}, wantCode: 1,
			wantErr: "weavego status: the weavego plugin does not answer on /nonexistent/control.sock"},
		{name: "key client", args: []string{"--socket=/nonexistent/control.sock", "key"}, wantCode: 1,
			wantErr: "weavego key: usage: weavego key list"},
		{name: "help", args: []string{"--help"}, wantOut: "Commands:"},
		{name: "daemon", args: []string{"daemon"}, wantDaemon: true},
		{name: "daemon fails", args: []string{"daemon"}, daemonErr: boom, wantCode: 1, wantDaemon: true,
			wantErr: "weavego: boom"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var out, errOut bytes.Buffer
			called := false
			p := process{stdout: &out, stderr: &errOut,
				getenv: func(k string) (string, bool) { v, ok := tc.env[k]; return v, ok },
				daemon: func(ctx context.Context, getenv func(string) (string, bool), stderr io.Writer) error {
					called = true
					if ctx.Err() != nil {
						t.Error("daemon started with an ended context")
					}
					return tc.daemonErr
				}}
			code := run(tc.args, p)
			if code != tc.wantCode || called != tc.wantDaemon {
				t.Errorf("exit %d, daemon run %v; want %d, %v (stderr %q)", code, called, tc.wantCode,
					tc.wantDaemon, errOut.String())
			}
			if !strings.Contains(out.String(), tc.wantOut) || !strings.Contains(errOut.String(), tc.wantErr) {
				t.Errorf("stdout %q, stderr %q; want %q, %q", out.String(), errOut.String(), tc.wantOut, tc.wantErr)
			}
		})
	}
}

func noEnv(string) (string, bool) { return "", false }

func TestGlobalFlags(t *testing.T) {
	tests := []struct {
		args    []string
		env     string
		socket  string
		rest    int
		wantErr bool
	}{
		{[]string{"status"}, "", client.DefaultSocket, 1, false},
		{[]string{"status"}, "/e.sock", "/e.sock", 1, false},
		{[]string{"--socket", "/a.sock", "status"}, "/e.sock", "/a.sock", 1, false},
		{[]string{"--socket=/b.sock", "token"}, "", "/b.sock", 1, false},
		{[]string{"--socket"}, "", "", 0, true},
		{[]string{"--socket="}, "", "", 0, true},
	}
	for _, tt := range tests {
		env := func(string) (string, bool) { return tt.env, tt.env != "" }
		socket, rest, err := globalFlags(tt.args, env)
		if (err != nil) != tt.wantErr || socket != tt.socket || len(rest) != tt.rest {
			t.Errorf("globalFlags(%v) = %q, %v, %v", tt.args, socket, rest, err)
		}
	}
}
