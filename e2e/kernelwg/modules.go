// Package kernelwg tests weavego's tunnel on kernel WireGuard: it boots
// Debian's kernel under qemu with an initramfs whose /init (./guest) runs
// the tunnel package's configuration between two network namespaces.
package kernelwg

import (
	"bytes"
	"debug/elf"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// modules resolves names to module files under dir (lib/modules/VERSION),
// dependencies first, each once; modules built into the kernel need no
// file.
func modules(dir string, names ...string) ([]string, error) {
	files := map[string]string{}
	err := filepath.WalkDir(filepath.Join(dir, "kernel"), func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			if n, ok := moduleName(d.Name()); ok {
				files[n] = p
			}
		}
		return err
	})
	if err != nil {
		return nil, err
	}
	builtin, _ := os.ReadFile(filepath.Join(dir, "modules.builtin"))
	var order []string
	seen := map[string]bool{}
	var visit func(string) error
	visit = func(name string) error {
		name = strings.ReplaceAll(name, "-", "_")
		if seen[name] {
			return nil
		}
		seen[name] = true
		p, ok := files[name]
		if !ok {
			if bytes.Contains(builtin, []byte("/"+strings.ReplaceAll(name, "_", "-")+".ko")) ||
				bytes.Contains(builtin, []byte("/"+name+".ko")) {
				return nil
			}
			return fmt.Errorf("module %s is neither under %s nor built in", name, dir)
		}
		deps, err := depends(p)
		if err != nil {
			return err
		}
		for _, d := range deps {
			if err := visit(d); err != nil {
				return err
			}
		}
		order = append(order, p)
		return nil
	}
	for _, n := range names {
		if err := visit(n); err != nil {
			return nil, err
		}
	}
	return order, nil
}

// moduleName is a module file's name as the kernel spells it.
func moduleName(file string) (string, bool) {
	for _, ext := range []string{".ko", ".ko.xz"} {
		if n, ok := strings.CutSuffix(file, ext); ok {
			return strings.ReplaceAll(n, "-", "_"), true
		}
	}
	return "", false
}

// moduleBytes is a module file, uncompressed.
func moduleBytes(p string) ([]byte, error) {
	if strings.HasSuffix(p, ".xz") {
		out, err := exec.Command("xz", "-dc", p).Output()
		if err != nil {
			return nil, fmt.Errorf("xz -dc %s: %w", p, err)
		}
		return out, nil
	}
	return os.ReadFile(p)
}

// depends reads the "depends=" entry of a module's .modinfo section.
func depends(p string) ([]string, error) {
	b, err := moduleBytes(p)
	if err != nil {
		return nil, err
	}
	f, err := elf.NewFile(bytes.NewReader(b))
	if err != nil {
		return nil, fmt.Errorf("module %s: %w", p, err)
	}
	sec := f.Section(".modinfo")
	if sec == nil {
		return nil, fmt.Errorf("module %s has no .modinfo", p)
	}
	info, err := sec.Data()
	if err != nil {
		return nil, err
	}
	for _, kv := range bytes.Split(info, []byte{0}) {
		if v, ok := bytes.CutPrefix(kv, []byte("depends=")); ok {
			if len(v) == 0 {
				return nil, nil
			}
			return strings.Split(string(v), ","), nil
		}
	}
	return nil, nil
}
