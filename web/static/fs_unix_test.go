//go:build unix

package static

import (
	"errors"
	"testing"

	"golang.org/x/sys/unix"
)

// TestWaitingForDescriptors: an open that fails for want of a descriptor
// is tried again until it succeeds, for a bounded time; any other failure
// is returned at once.
func TestWaitingForDescriptors(t *testing.T) {
	for _, tc := range []struct {
		name      string
		fails     []error // what the calls return before they succeed
		always    error   // what every call returns, when set
		wantCalls int     // 0: more than one, as many as the bound allows
		wantErr   error
	}{
		{"at once", nil, nil, 1, nil},
		{"EMFILE twice, then a descriptor", []error{unix.EMFILE, unix.EMFILE}, nil, 3, nil},
		{"ENFILE, then a descriptor", []error{unix.ENFILE}, nil, 2, nil},
		{"EMFILE wrapped", []error{errors.Join(errors.New("open"), unix.EMFILE)}, nil, 2, nil},
		{"not found: no retry", nil, unix.ENOENT, 1, unix.ENOENT},
		{"permission: no retry", nil, unix.EACCES, 1, unix.EACCES},
		{"EMFILE for good: gives up", nil, unix.EMFILE, 0, unix.EMFILE},
	} {
		t.Run(tc.name, func(t *testing.T) {
			calls := 0
			err := waitingForDescriptors(func() error {
				calls++
				if tc.always != nil {
					return tc.always
				}
				if calls <= len(tc.fails) {
					return tc.fails[calls-1]
				}
				return nil
			})
			if !errors.Is(err, tc.wantErr) || (tc.wantErr == nil) != (err == nil) {
				t.Errorf("err = %v, want %v", err, tc.wantErr)
			}
			if tc.wantCalls > 0 && calls != tc.wantCalls {
				t.Errorf("%d calls, want %d", calls, tc.wantCalls)
			}
			// 1+2+4+...+128 ms then the rest of 250 ms: 9 pauses, 10 calls.
			if tc.wantCalls == 0 && (calls < 5 || calls > 12) {
				t.Errorf("%d calls before giving up, want about 10 (pauses doubling from 1 ms to %v in all)", calls, descriptorWait)
			}
		})
	}
}
