//go:build !linux

package devrun

import "syscall"

// sysProcAttr puts workerd in its own process group (Stop kills the group).
func sysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true}
}
