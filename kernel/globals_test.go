package kernel_test

import (
	"errors"
	"go/ast"
	"go/parser"
	"go/token"
	"go/types"
	"io/fs"
	"path"
	"path/filepath"
	"sort"
	"strings"
	"testing"
)

// Package-level state in the kernel (issue 10): two kernels in one process must not share
// anything that belongs to a sandbox. TestNoMutablePackageState parses every non-test file
// under kernel/ and finds the package-level variables that are mutable state:
//
//   - declared with a sync or sync/atomic type anywhere in their declaration (a mutex, a
//     Once, an atomic counter, a sync.Map; sync.Pool would count too: a pool of buffers is
//     harmless, but none exists, so none is allowed until one needs a reason), or
//   - written by a function of their package: assigned, incremented, address taken,
//     passed to delete or clear, or the receiver of a method call (which may have a
//     pointer receiver; the check reads syntax, not types).
//
// Allowed without a list: the blank identifier (interface checks), and variables no
// function writes whose declaration names neither sync nor atomic: errors.New sentinels,
// lookup tables, device numbers. What remains must be in hostFacts (facts about the host
// that are the same for every kernel in the process) or in notYetMoved, the list of state
// still to move onto the Kernel; a new variable in neither fails, and so does a listed one
// that is gone, so the list only shrinks.
func TestNoMutablePackageState(t *testing.T) {
	found := mutableGlobals(t, ".")
	var names []string
	for name := range found {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		if _, ok := hostFacts[name]; ok {
			continue
		}
		if _, ok := notYetMoved[name]; ok {
			continue
		}
		t.Errorf("%s: package-level %s is mutable state: keep it on the Kernel (or an object the Kernel owns), not in a package variable", found[name], name)
	}
	for _, list := range []map[string]string{hostFacts, notYetMoved} {
		for name := range list {
			if _, ok := found[name]; !ok {
				t.Errorf("%s is listed in globals_test.go but is no longer mutable package state: remove it from the list", name)
			}
		}
	}
}

// hostFacts are read from the host once and are the same for every kernel in the process.
var hostFacts = map[string]string{
	"kernel/fs/procfs.hostCPUInfo": "/proc/cpuinfo of the host, read before confinement",
	"kernel/loader.hostAuxOnce":    "the host's AT_HWCAP, AT_HWCAP2, AT_MINSIGSTKSZ",
	"kernel/loader.hostAuxVal":     "the host's AT_HWCAP, AT_HWCAP2, AT_MINSIGSTKSZ",
	"kernel/fs/sock.probe":         "a host socket that rounds option values as the host does",
	"kernel/fs/inotify.hostLimits": "the host's /proc/sys/fs/inotify limits, read before confinement",
}

// notYetMoved is the state still to move onto the Kernel (issue 10, item 1), each with
// where it should go. Shrink it; never grow it.
var notYetMoved = map[string]string{}

// mutableGlobals returns the mutable package-level variables under dir, as
// "pkgdir.name" -> position.
func mutableGlobals(t *testing.T, dir string) map[string]string {
	t.Helper()
	fset := token.NewFileSet()
	type decl struct {
		pos     string
		mutable bool
	}
	pkgs := map[string][]*ast.File{}
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && d.Name() == "testdata" {
			return filepath.SkipDir
		}
		if d.IsDir() || !strings.HasSuffix(p, ".go") || strings.HasSuffix(p, "_test.go") {
			return nil
		}
		f, err := parser.ParseFile(fset, p, nil, 0)
		if err != nil {
			return err
		}
		pkgs[filepath.Dir(p)] = append(pkgs[filepath.Dir(p)], f)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	found := map[string]string{}
	for pkgDir, files := range pkgs {
		// Type-check the package on its own to resolve identifiers to objects: imports
		// fail (no importer) and are ignored, which leaves the package's own scope exact.
		info := &types.Info{Defs: map[*ast.Ident]types.Object{}, Uses: map[*ast.Ident]types.Object{}}
		conf := types.Config{Importer: noImports{}, Error: func(error) {}}
		conf.Check(pkgDir, fset, files, info)
		vars := map[types.Object]*decl{}
		for _, f := range files {
			for _, d := range f.Decls {
				g, ok := d.(*ast.GenDecl)
				if !ok || g.Tok != token.VAR {
					continue
				}
				for _, s := range g.Specs {
					vs := s.(*ast.ValueSpec)
					syncTyped := mentionsSync(vs)
					for _, n := range vs.Names {
						if obj := info.Defs[n]; obj != nil && n.Name != "_" {
							vars[obj] = &decl{pos: fset.Position(n.Pos()).String(), mutable: syncTyped}
						}
					}
				}
			}
		}
		written := func(e ast.Expr) {
			if id := rootIdent(e); id != nil {
				if v, ok := vars[info.Uses[id]]; ok {
					v.mutable = true
				}
			}
		}
		for _, f := range files {
			for _, d := range f.Decls {
				fn, ok := d.(*ast.FuncDecl)
				if !ok || fn.Body == nil {
					continue
				}
				ast.Inspect(fn.Body, func(n ast.Node) bool {
					switch n := n.(type) {
					case *ast.AssignStmt:
						for _, l := range n.Lhs {
							written(l)
						}
					case *ast.IncDecStmt:
						written(n.X)
					case *ast.UnaryExpr:
						if n.Op == token.AND {
							written(n.X)
						}
					case *ast.CallExpr:
						// A method called on the variable itself may write it (a pointer
						// receiver, as waiter.Queue's Notify).
						if sel, ok := n.Fun.(*ast.SelectorExpr); ok {
							if _, isVar := sel.X.(*ast.Ident); isVar {
								written(sel.X)
							}
						}
						if id, ok := n.Fun.(*ast.Ident); ok && (id.Name == "delete" || id.Name == "clear") && len(n.Args) > 0 {
							written(n.Args[0])
						}
					}
					return true
				})
			}
		}
		for obj, v := range vars {
			if v.mutable {
				pkg := path.Join("kernel", filepath.ToSlash(pkgDir))
				found[pkg+"."+obj.Name()] = v.pos
			}
		}
	}
	return found
}

// mentionsSync reports whether a declaration names package sync or sync/atomic.
func mentionsSync(vs *ast.ValueSpec) bool {
	seen := false
	ast.Inspect(vs, func(n ast.Node) bool {
		if s, ok := n.(*ast.SelectorExpr); ok {
			if x, ok := s.X.(*ast.Ident); ok && (x.Name == "sync" || x.Name == "atomic") {
				seen = true
			}
		}
		return !seen
	})
	return seen
}

// rootIdent is the variable an expression like v, v.f, v[i], *v or (v) writes to.
func rootIdent(e ast.Expr) *ast.Ident {
	for {
		switch x := e.(type) {
		case *ast.Ident:
			return x
		case *ast.SelectorExpr:
			e = x.X
		case *ast.IndexExpr:
			e = x.X
		case *ast.StarExpr:
			e = x.X
		case *ast.ParenExpr:
			e = x.X
		default:
			return nil
		}
	}
}

// noImports fails every import: mutableGlobals needs only each package's own scope.
type noImports struct{}

func (noImports) Import(path string) (*types.Package, error) {
	return nil, errors.New("not imported")
}
