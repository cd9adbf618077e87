package syscalls

// conffsEntries are calls added by the file-system conformance sweep: io_pgetevents
// (aio.go).
func conffsEntries() []entry {
	return []entry{
		partial(333, IoPgetevents, "x,d,d,x,x,x", "requests complete inside io_submit"),
	}
}
