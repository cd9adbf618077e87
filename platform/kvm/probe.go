package kvm

import "golang.org/x/sys/unix"

// Probe reports whether the KVM platform can run here: /dev/kvm opens for this user and
// offers what the platform needs.
func Probe() error {
	m, err := newMachine(nil)
	if err != nil {
		return err
	}
	defer m.close()
	v, err := m.newVCPU()
	if err != nil {
		return err
	}
	v.release()
	return nil
}

var _ = unix.Getpid
