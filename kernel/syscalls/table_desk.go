package syscalls

// desktopEntries are the calls of the desktop session's pieces: inotify.
func desktopEntries() []entry {
	return []entry{
		sup(253, InotifyInit, ""), sup(294, InotifyInit1, "x"),
		sup(254, InotifyAddWatch, "f,p,x"), sup(255, InotifyRmWatch, "f,d"),
	}
}
