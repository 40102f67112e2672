package devrun

import "syscall"

// sysProcAttr puts workerd in its own process group (Stop kills the group)
// and has the kernel kill it if edgeconf dies first.
func sysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
}
