package abi

import "encoding/binary"

// Dirent64 is the fixed head of struct linux_dirent64 of getdents64(2)
// (include/linux/dirent.h; the C library's struct dirent64 has the same head): the
// record's name follows at SizeofDirent64Head, NUL-terminated, and the record is padded
// to 8 bytes.
type Dirent64 struct {
	Ino    uint64 `c:"d_ino"`
	Off    int64  `c:"d_off"`
	Reclen uint16 `c:"d_reclen"`
	Type   uint8  `c:"d_type"`
}

// SizeofDirent64Head is offsetof(struct linux_dirent64, d_name).
const SizeofDirent64Head = 19

// Dirent64Reclen is the length of the record of a name of n bytes.
func Dirent64Reclen(n int) int { return (SizeofDirent64Head + n + 1 + 7) &^ 7 }

// Encode writes the head to b[:SizeofDirent64Head].
func (d *Dirent64) Encode(b []byte) {
	binary.LittleEndian.PutUint64(b[0:], d.Ino)
	binary.LittleEndian.PutUint64(b[8:], uint64(d.Off))
	binary.LittleEndian.PutUint16(b[16:], d.Reclen)
	b[18] = d.Type
}

// Decode reads the head from b[:SizeofDirent64Head].
func (d *Dirent64) Decode(b []byte) {
	d.Ino, d.Off = binary.LittleEndian.Uint64(b[0:]), int64(binary.LittleEndian.Uint64(b[8:]))
	d.Reclen, d.Type = binary.LittleEndian.Uint16(b[16:]), b[18]
}

// AppendDirent64 appends the record of one entry: the head, the name, its NUL and the
// padding.
func AppendDirent64(buf []byte, ino uint64, off int64, typ uint8, name string) []byte {
	n := Dirent64Reclen(len(name))
	start := len(buf)
	buf = append(buf, make([]byte, n)...)
	(&Dirent64{Ino: ino, Off: off, Reclen: uint16(n), Type: typ}).Encode(buf[start:])
	copy(buf[start+SizeofDirent64Head:], name)
	return buf
}
