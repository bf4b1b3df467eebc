package systemd

import (
	"os/exec"
	"testing"
)

// TestPidfdID reads real pidfd ids: this process's is the same on every
// call, and another process's differs. systemd >= 256 compares the same
// id through LISTEN_PIDFDID.
func TestPidfdID(t *testing.T) {
	self, ok := selfPidfdID()
	if !ok {
		t.Skip("this kernel has no pidfs (Linux < 6.9): LISTEN_PIDFDID cannot be checked, and is not set by systemd either")
	}
	if again, _ := selfPidfdID(); again != self {
		t.Errorf("own pidfd id %d, then %d", self, again)
	}
	cmd := exec.Command("sleep", "60")
	if err := cmd.Start(); err != nil {
		t.Skipf("no child process to compare with: %v", err)
	}
	defer func() { cmd.Process.Kill(); cmd.Wait() }()
	child, ok := pidfdID(cmd.Process.Pid)
	if !ok {
		t.Fatalf("no pidfd id for child %d", cmd.Process.Pid)
	}
	if child == self {
		t.Errorf("child's pidfd id %d is this process's", child)
	}
}
