//go:build linux

package e2e

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// Everything a run creates carries the prefix wge2e-<id>: its directory under tmpRoot, its namespaces, the cgroup
// parent of its containers, and therefore the command lines of its daemons and shims. The sweep finds leftovers by
// that prefix alone, so it also works after the test process was killed.
const (
	// Prefix starts the name of everything a run creates.
	Prefix  = "wge2e-"
	tmpRoot = "/tmp"
	// NetnsDir holds the named network namespaces (ip netns).
	NetnsDir = "/var/run/netns"
	cgRoot   = "/sys/fs/cgroup"
	// pluginIDsFile, in a host directory, lists the ids of plugins created on that host.
	pluginIDsFile = "plugin-ids"
	// sharedPluginRoot is where Docker 20.10 daemons keep plugin sockets whatever their --exec-root.
	sharedPluginRoot = "/run/docker/plugins"
)

var (
	runIDPattern    = regexp.MustCompile(Prefix + `([0-9a-f]{4})\b`)
	pluginIDPattern = regexp.MustCompile(`^[0-9a-f]{64}$`)
)

func runDir(id string) string { return filepath.Join(tmpRoot, Prefix+id) }

// writeOwner records the current process as the owner of run id, so that sweeps by other test processes leave
// the run alone while it is alive.
func writeOwner(id string) error {
	start, err := procStart(os.Getpid())
	if err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(runDir(id), "owner"), []byte(fmt.Sprintf("%d %s\n", os.Getpid(), start)), 0o644)
}

// ownerOf returns the pid that owns run id, and whether that process is still alive.
func ownerOf(id string) (pid int, alive bool) {
	b, err := os.ReadFile(filepath.Join(runDir(id), "owner"))
	if err != nil {
		// A run whose directory is brand new may not have its owner file yet.
		if fi, serr := os.Stat(runDir(id)); serr == nil && time.Since(fi.ModTime()) < time.Minute {
			return 0, true
		}
		return 0, false
	}
	var start string
	if _, err := fmt.Sscanf(string(b), "%d %s", &pid, &start); err != nil {
		return 0, false
	}
	cur, err := procStart(pid)
	return pid, err == nil && cur == start
}

// procStart returns the start time of pid (field 22 of /proc/pid/stat), which tells a live owner from a reused pid.
func procStart(pid int) (string, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return "", err
	}
	s := string(b)
	fields := strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
	if len(fields) < 20 {
		return "", fmt.Errorf("short /proc/%d/stat", pid)
	}
	return fields[19], nil
}

// knownRuns lists the ids of every run with something left on the machine.
func knownRuns() []string {
	seen := map[string]bool{}
	add := func(s string) {
		for _, m := range runIDPattern.FindAllStringSubmatch(s, -1) {
			seen[m[1]] = true
		}
	}
	for _, g := range []string{tmpRoot + "/" + Prefix + "*", NetnsDir + "/" + Prefix + "*", cgRoot + "/*/" + Prefix + "*"} {
		matches, _ := filepath.Glob(g)
		add(strings.Join(matches, " "))
	}
	if b, err := os.ReadFile("/proc/self/mountinfo"); err == nil {
		add(string(b))
	}
	for _, pid := range PIDs() {
		b, _ := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
		add(strings.ReplaceAll(string(b), "\x00", " "))
	}
	ids := make([]string, 0, len(seen))
	for id := range seen {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	return ids
}

// SweepStale removes the leftovers of runs whose owning test process is gone. It returns what it removed.
func SweepStale() ([]string, error) {
	var done []string
	var errs []error
	for _, id := range knownRuns() {
		if _, alive := ownerOf(id); alive {
			continue
		}
		found, err := sweepRun(id, 5*time.Second)
		done = append(done, found...)
		errs = append(errs, err)
	}
	dirs, _ := filepath.Glob(filepath.Join(tmpRoot, imagesDirPrefix+"*"))
	for _, dir := range dirs {
		var pid int
		var start string
		if _, err := fmt.Sscanf(strings.TrimPrefix(filepath.Base(dir), imagesDirPrefix), "%d-%s", &pid, &start); err == nil {
			if cur, err := procStart(pid); err == nil && cur == start {
				continue
			}
		}
		done = append(done, "directory "+dir)
		errs = append(errs, os.RemoveAll(dir))
	}
	return done, errors.Join(errs...)
}

// sweepOwned removes every run owned by this process (used on signals and on the test timeout).
func sweepOwned(grace time.Duration) error {
	var errs []error
	for _, id := range knownRuns() {
		if pid, _ := ownerOf(id); pid == os.Getpid() {
			_, err := sweepRun(id, grace)
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// sweepRun removes everything of run id: processes (SIGTERM, then SIGKILL after grace), mounts under its
// directory, cgroups, namespaces and the directory. It returns a description of what it found.
func sweepRun(id string, grace time.Duration) ([]string, error) {
	tag := Prefix + id
	var found []string
	var errs []error

	namespaces, _ := filepath.Glob(NetnsDir + "/" + tag + "-*")
	nsInodes := map[uint64]bool{}
	for _, ns := range namespaces {
		var st syscall.Stat_t
		if syscall.Stat(ns, &st) == nil {
			nsInodes[st.Ino] = true
		}
	}
	if victims := runProcesses(tag, nsInodes); len(victims) > 0 {
		found = append(found, fmt.Sprintf("processes of %s: %s", tag, describe(victims)))
		errs = append(errs, terminate(victims, grace))
	}
	errs = append(errs, removePluginDirs(id))
	n, err := unmountUnder(runDir(id) + "/")
	if n > 0 {
		found = append(found, fmt.Sprintf("%d mounts under %s", n, runDir(id)))
	}
	errs = append(errs, err)
	cgs, _ := filepath.Glob(cgRoot + "/*/" + tag + "-*")
	for _, cg := range cgs {
		errs = append(errs, removeCgroup(cg))
	}
	if len(cgs) > 0 {
		found = append(found, fmt.Sprintf("%d cgroups of %s", len(cgs), tag))
	}
	for _, ns := range namespaces {
		found = append(found, "namespace "+filepath.Base(ns))
		if _, err := Run(30*time.Second, "ip", "netns", "delete", filepath.Base(ns)); err != nil {
			// A namespace whose file is still a mount point after its processes died: unmount and remove.
			_ = syscall.Unmount(ns, syscall.MNT_DETACH)
			if rerr := os.Remove(ns); rerr != nil && !os.IsNotExist(rerr) {
				errs = append(errs, err)
			}
		}
	}
	if _, err := os.Stat(runDir(id)); err == nil {
		found = append(found, "directory "+runDir(id))
		errs = append(errs, os.RemoveAll(runDir(id)))
	}
	return found, errors.Join(errs...)
}

// removePluginDirs removes the directories of the run's plugins under sharedPluginRoot, which dockerd removes
// itself only when it stops cleanly.
func removePluginDirs(id string) error {
	lists, _ := filepath.Glob(filepath.Join(runDir(id), "h*", pluginIDsFile))
	var errs []error
	for _, list := range lists {
		b, _ := os.ReadFile(list)
		for _, pid := range strings.Fields(string(b)) {
			if !pluginIDPattern.MatchString(pid) {
				continue
			}
			// Plugin containers get cgroup /<id>, outside the host's --cgroup-parent.
			cgs, _ := filepath.Glob(filepath.Join(cgRoot, "*", pid))
			for _, cg := range cgs {
				errs = append(errs, removeCgroup(cg))
			}
			dir := filepath.Join(sharedPluginRoot, pid)
			if _, err := os.Stat(dir); err != nil {
				continue
			}
			_, err := unmountUnder(dir + "/")
			errs = append(errs, err, syscall.Unmount(dir, syscall.MNT_DETACH), os.RemoveAll(dir))
		}
	}
	return errors.Join(ignoreEINVAL(errs)...)
}

// ignoreEINVAL drops the "not a mount point" errors of unconditional unmounts.
func ignoreEINVAL(errs []error) []error {
	var out []error
	for _, err := range errs {
		if err != nil && !errors.Is(err, syscall.EINVAL) {
			out = append(out, err)
		}
	}
	return out
}

// unmountUnder lazily unmounts every mount point under dir, deepest first, and returns how many it found.
func unmountUnder(dir string) (int, error) {
	var errs []error
	n := 0
	for pass := 0; pass < 5; pass++ {
		mounts := mountsUnder(dir)
		if len(mounts) == 0 {
			return n, nil
		}
		n += len(mounts)
		for _, mp := range mounts {
			if err := syscall.Unmount(mp, syscall.MNT_DETACH); err != nil && err != syscall.EINVAL && err != syscall.ENOENT {
				errs = append(errs, fmt.Errorf("unmount %s: %w", mp, err))
			}
		}
	}
	if left := mountsUnder(dir); len(left) > 0 {
		errs = append(errs, fmt.Errorf("mounts left under %s: %v", dir, left))
	}
	return n, errors.Join(errs...)
}

// mountsUnder lists mount points under dir from /proc/self/mountinfo, deepest first.
func mountsUnder(dir string) []string {
	b, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		return nil
	}
	var out []string
	for _, line := range strings.Split(string(b), "\n") {
		f := strings.Fields(line)
		if len(f) < 5 {
			continue
		}
		if mp := unescapeMount(f[4]); strings.HasPrefix(mp, dir) {
			out = append(out, mp)
		}
	}
	sort.Slice(out, func(i, j int) bool { return len(out[i]) > len(out[j]) })
	return out
}

// unescapeMount undoes the octal escapes (\040 for space) of /proc/self/mountinfo.
func unescapeMount(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+3 < len(s) {
			if v, err := strconv.ParseUint(s[i+1:i+4], 8, 8); err == nil {
				b.WriteByte(byte(v))
				i += 3
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

// removeCgroup removes a cgroup directory tree, children first (cgroup directories are removed with rmdir).
func removeCgroup(dir string) error {
	var dirs []string
	_ = filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err == nil && d.IsDir() {
			dirs = append(dirs, p)
		}
		return nil
	})
	sort.Slice(dirs, func(i, j int) bool { return len(dirs[i]) > len(dirs[j]) })
	var errs []error
	for _, d := range dirs {
		if err := syscall.Rmdir(d); err != nil && err != syscall.ENOENT {
			errs = append(errs, fmt.Errorf("remove cgroup %s: %w", d, err))
		}
	}
	return errors.Join(errs...)
}
