// Package abi holds Linux x86-64 ABI constants and structure layouts the kernel and the
// platforms share, spelled as Linux spells them, with the uapi header each comes from.
// It contains no logic beyond encoding and decoding the structures.
//
// Each structure is a Go type whose fields carry their C names in a `c` tag, with padding
// written out as blank fields, an Encode(b []byte) that writes every byte of it (padding
// zeroed) and usually a Decode. TestStructuresMatchC builds C programs from the tags
// (layoutCases) and checks every offsetof and sizeof, the encoding and the zeroed padding
// against the system headers. Lone scalars go through U32/PutU32 and friends.
//
// This is the only kernel package that puts bytes in the app's byte order:
// TestNoHandEncodingOutsideABI fails on encoding/binary elsewhere in kernel/ (except four
// listed files whose formats are not the app's ABI) and on scalar reads at literal offsets.
package abi

import "encoding/binary"

// Auxiliary vector keys (include/uapi/linux/auxvec.h, arch/x86/include/uapi/asm/auxvec.h).
const (
	AT_NULL         = 0
	AT_PHDR         = 3
	AT_PHENT        = 4
	AT_PHNUM        = 5
	AT_PAGESZ       = 6
	AT_BASE         = 7
	AT_FLAGS        = 8
	AT_ENTRY        = 9
	AT_UID          = 11
	AT_EUID         = 12
	AT_GID          = 13
	AT_EGID         = 14
	AT_PLATFORM     = 15
	AT_HWCAP        = 16
	AT_CLKTCK       = 17
	AT_SECURE       = 23
	AT_RANDOM       = 25
	AT_HWCAP2       = 26
	AT_EXECFN       = 31
	AT_SYSINFO_EHDR = 33
	AT_MINSIGSTKSZ  = 51
)

// Scalars in the guest's byte order (x86-64: little endian), for the values that are not
// structures: one option or attribute value, an element of an array of ints.

// U16 reads a 16-bit value from b[:2].
func U16(b []byte) uint16 { return binary.LittleEndian.Uint16(b) }

// U32 reads a 32-bit value from b[:4].
func U32(b []byte) uint32 { return binary.LittleEndian.Uint32(b) }

// U64 reads a 64-bit value from b[:8].
func U64(b []byte) uint64 { return binary.LittleEndian.Uint64(b) }

// PutU16 writes a 16-bit value to b[:2].
func PutU16(b []byte, v uint16) { binary.LittleEndian.PutUint16(b, v) }

// PutU32 writes a 32-bit value to b[:4].
func PutU32(b []byte, v uint32) { binary.LittleEndian.PutUint32(b, v) }

// PutU64 writes a 64-bit value to b[:8].
func PutU64(b []byte, v uint64) { binary.LittleEndian.PutUint64(b, v) }

// AppendU32 appends a 32-bit value to b.
func AppendU32(b []byte, v uint32) []byte { return binary.LittleEndian.AppendUint32(b, v) }

// AppendU64 appends a 64-bit value to b.
func AppendU64(b []byte, v uint64) []byte { return binary.LittleEndian.AppendUint64(b, v) }
