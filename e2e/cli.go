//go:build linux

package e2e

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// cliLinePrefix starts the README's line that installs the weavego command from the installed plugin's own
// files, on a host that installed the plugin from a registry.
const cliLinePrefix = `install -m 0755 "$(docker info `

// cliDest is where the README's line puts the command.
const cliDest = "/usr/local/bin/weavego"

// ReadmeCLILine returns the README's line that installs the weavego command from the installed plugin: the
// first line of README.md that starts with cliLinePrefix. Every other such line must be the same command
// (a comment after it aside), so that the README gives one way only.
func ReadmeCLILine() (string, error) {
	path := filepath.Join(RepoRoot(), "README.md")
	b, err := os.ReadFile(path)
	if err != nil {
		return "", err
	}
	line := ""
	for _, l := range strings.Split(string(b), "\n") {
		if !strings.HasPrefix(l, cliLinePrefix) {
			continue
		}
		cmd, _, _ := strings.Cut(l, "   #")
		cmd = strings.TrimSpace(cmd)
		switch {
		case line == "":
			line = cmd
		case cmd != line:
			return "", fmt.Errorf("%s gives two lines for the weavego command:\n%s\n%s", path, line, cmd)
		}
	}
	if line == "" {
		return "", fmt.Errorf("%s has no line starting with %s", path, cliLinePrefix)
	}
	if !strings.HasSuffix(line, " "+cliDest) {
		return "", fmt.Errorf("the README's line does not install to %s: %s", cliDest, line)
	}
	return line, nil
}

// InstallCLI runs line (the README's, from ReadmeCLILine) on h as a user would, as root in h's network
// namespace with h's daemon as the docker command's default, then `command -v weavego` and `weavego version`;
// it returns what those two print. It runs in a mount namespace of its own where /usr/local/bin is an
// overlay whose changes go to dir/upper: the machine's /usr/local/bin stays as it was, and the installed
// command is dir/upper/weavego afterwards (a second call with the same dir replaces it, as running the line
// again after an upgrade does).
func (h *Host) InstallCLI(line, dir string) (string, error) {
	upper, work := filepath.Join(dir, "upper"), filepath.Join(dir, "work")
	for _, d := range []string{upper, work} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return "", err
		}
	}
	script := "set -e\n" +
		`mount -t overlay overlay -o "lowerdir=` + filepath.Dir(cliDest) + `,upperdir=$1,workdir=$2" ` + filepath.Dir(cliDest) + "\n" +
		line + "\n" +
		"command -v weavego\n" +
		"weavego version\n"
	out, err := Run(2*time.Minute, "nsenter", "--net="+h.NSPath(), "--", "unshare", "--mount", "--propagation", "private",
		"env", "DOCKER_HOST=unix://"+h.DockerSock, "sh", "-c", script, "sh", upper, work)
	if err != nil {
		return out, fmt.Errorf("%s: %w", h.Name, err)
	}
	return out, nil
}

// InstalledCLI is the path of the command that InstallCLI with dir installed.
func InstalledCLI(dir string) string { return filepath.Join(dir, "upper", filepath.Base(cliDest)) }
