package abi

import (
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"
)

// notGuestABI lists the kernel files that may use encoding/binary's byte orders themselves,
// and why: each encodes a format that is not a structure of the app's ABI, so it has no
// place in kernel/abi. Everything the app reads or writes goes through kernel/abi's typed
// structures (or, for a lone scalar or an array of them, its U32/PutU32 helpers).
var notGuestABI = map[string]string{
	"net/netproto/netproto.go": "sbx's own wire protocol between the kernel and the launcher's net broker; both ends are sbx",
	"net/inet/icmp.go":         "ICMP echo packets, in network byte order as the wire carries them (RFC 792/4443), not a C structure",
	"fs/sock/dgram.go":         "sbx's own framing of AF_UNIX datagrams on the host socket pair between two of its sockets; the app never sees it",
	"fs/procfs/net.go":         "formats an address as /proc/net/tcp6 prints it: each 32-bit word in host order; text, not a structure",
}

// TestNoHandEncodingOutsideABI fails when kernel code outside kernel/abi encodes or decodes
// bytes with encoding/binary (a structure by hand, with byte offsets) instead of a typed
// structure of this package, or reads a scalar at a literal non-zero offset
// (abi.U32(b[8:]): a structure's field by hand). New ABI structures belong here, with
// their C layout checked by TestStructuresMatchC.
func TestNoHandEncodingOutsideABI(t *testing.T) {
	root, err := filepath.Abs("..")
	if err != nil {
		t.Fatal(err)
	}
	scalar := map[string]bool{"U16": true, "U32": true, "U64": true, "PutU16": true, "PutU32": true, "PutU64": true}
	var bad []string
	used := map[string]bool{}
	fset := token.NewFileSet()
	err = filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, path)
		if d.IsDir() {
			if rel == "abi" || d.Name() == "testdata" {
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return nil
		}
		f, err := parser.ParseFile(fset, path, nil, 0)
		if err != nil {
			return err
		}
		ast.Inspect(f, func(n ast.Node) bool {
			switch n := n.(type) {
			case *ast.SelectorExpr:
				if x, ok := n.X.(*ast.Ident); ok && x.Name == "binary" && (n.Sel.Name == "LittleEndian" || n.Sel.Name == "BigEndian") {
					if _, ok := notGuestABI[rel]; ok {
						used[rel] = true
						return true
					}
					bad = append(bad, fset.Position(n.Pos()).String()+": binary."+n.Sel.Name+
						" (encode the structure with a kernel/abi type; a lone scalar with abi.U32/PutU32)")
				}
			case *ast.CallExpr:
				sel, ok := n.Fun.(*ast.SelectorExpr)
				if !ok || len(n.Args) == 0 {
					return true
				}
				if x, ok := sel.X.(*ast.Ident); !ok || x.Name != "abi" || !scalar[sel.Sel.Name] {
					return true
				}
				s, ok := n.Args[0].(*ast.SliceExpr)
				if !ok || s.Low == nil {
					return true
				}
				if lit, ok := s.Low.(*ast.BasicLit); ok && lit.Kind == token.INT {
					if v, _ := strconv.Atoi(lit.Value); v != 0 {
						bad = append(bad, fset.Position(n.Pos()).String()+": abi."+sel.Sel.Name+" at offset "+lit.Value+
							" (a structure's field by offset: give the structure a kernel/abi type)")
					}
				}
			}
			return true
		})
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, b := range bad {
		t.Error(b)
	}
	var stale []string
	for f := range notGuestABI {
		if !used[f] {
			stale = append(stale, f)
		}
	}
	sort.Strings(stale)
	for _, f := range stale {
		t.Errorf("notGuestABI lists kernel/%s, which no longer uses encoding/binary: drop the entry", f)
	}
}
