package syscalls

// netEntries are the syscalls the networking work added to the table.
func netEntries() []entry {
	return []entry{
		partial(126, Capset, "x,x", "the caller's own sets only; capabilities can be dropped, never gained"),
	}
}
