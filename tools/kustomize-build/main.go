// Command kustomize-build renders one kustomization the way Flux's kustomize-controller does, confined to an
// artifact root: kustomize's krusty API with LoadRestrictionsNone (so `../sibling` inside the artifact
// works), builtin plugins only (no exec or container KRM functions, no Go or exec plugins, no Helm), on a file
// system that refuses every path outside the root after symlink resolution (fluxcd/pkg/kustomize/filesys).
// Remote bases and remote files are refused too: no HTTP client and no git binary are reachable.
//
// Usage: kustomize-build ROOT DIR
//
// DIR is relative to ROOT (or absolute inside it). The YAML stream goes to stdout; on failure a single line
// goes to stderr with paths relative to ROOT, and the exit code is 1 (2 for bad usage).
package main

import (
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"

	securefs "github.com/fluxcd/pkg/kustomize/filesys"
	"sigs.k8s.io/kustomize/api/krusty"
	"sigs.k8s.io/kustomize/api/types"
)

// refuseRemote is the HTTP transport of this process: kustomize fetches `http(s)://` resources and generator
// files with the default client, and nothing from a repository may reach the network from the engine's host.
type refuseRemote struct{}

func (refuseRemote) RoundTrip(req *http.Request) (*http.Response, error) {
	return nil, fmt.Errorf("remote file %s refused: kedge builds only from files inside the artifact", req.URL.Redacted())
}

func main() {
	if len(os.Args) != 3 {
		fmt.Fprintln(os.Stderr, "usage: kustomize-build ROOT DIR")
		os.Exit(2)
	}
	root, err := filepath.Abs(os.Args[1])
	if err == nil {
		root, err = filepath.EvalSymlinks(root)
	}
	if err != nil {
		fail("", fmt.Errorf("artifact root: %w", err))
	}
	dir := os.Args[2]
	if !filepath.IsAbs(dir) {
		dir = filepath.Join(root, dir)
	}
	out, err := build(root, dir)
	if err != nil {
		fail(root, err)
	}
	if _, err := os.Stdout.Write(out); err != nil {
		fail(root, err)
	}
}

func build(root, dir string) (out []byte, err error) {
	// Kustomize can panic on odd input; report it as a failed build rather than a crash trace.
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("kustomize panicked: %v", r)
		}
	}()
	http.DefaultTransport = refuseRemote{}
	http.DefaultClient = &http.Client{Transport: refuseRemote{}}
	// Remote bases are cloned with the git binary, container functions run docker: leave neither findable.
	if err := os.Setenv("PATH", ""); err != nil {
		return nil, err
	}
	fs, err := securefs.MakeFsOnDiskSecure(root)
	if err != nil {
		return nil, err
	}
	k := krusty.MakeKustomizer(&krusty.Options{
		Reorder:          krusty.ReorderOptionUnspecified,
		LoadRestrictions: types.LoadRestrictionsNone,
		PluginConfig:     types.DisabledPluginConfig(),
	})
	m, err := k.Run(fs, dir)
	if err != nil {
		return nil, err
	}
	return m.AsYaml()
}

// fail prints err on one line with paths relative to root, naming confinement and remote refusals plainly.
func fail(root string, err error) {
	msg := err.Error()
	var ce *securefs.ConstraintError
	if errors.As(err, &ce) || strings.Contains(msg, "fs-security-constraint") {
		msg = strings.ReplaceAll(msg, "fs-security-constraint abs ", "refused to resolve ")
		msg = strings.ReplaceAll(msg, "fs-security-constraint ", "refused to ")
		msg = strings.ReplaceAll(msg, fmt.Sprintf("is not in or below '%s'", root), "is outside the artifact root")
	}
	msg = strings.ReplaceAll(msg, "must specify --enable-helm", "helm chart inflation is refused (kedge builds with plugins and Helm disabled, as Flux does)")
	if strings.Contains(msg, "no 'git' program on path") {
		msg += " (remote bases are refused: kedge builds only from files inside the artifact)"
	}
	if root != "" {
		msg = strings.ReplaceAll(msg, root+string(filepath.Separator), "")
		msg = strings.ReplaceAll(msg, root, ".")
	}
	fmt.Fprintln(os.Stderr, strings.ReplaceAll(msg, "\n", " "))
	os.Exit(1)
}
