package static

import (
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// A watcher vouches for cached entries without a stat(2) per request: it
// watches (inotify) each cached file, every directory from Root down to
// it, and Root's ancestors (for the one name that leads to Root), and
// counts the changes it hears of. An entry found unchanged by a stat at
// generation g stays trusted while the count is still g, and for at most
// trustTTL: inotify does not see writes through a shared mmap(2) or on a
// network file system's server, and those are seen within trustTTL.
//
// The count is only as fresh as the last Refresh: Cached trusts it only
// for a caller that calls Refresh whenever WatchFD is readable before
// serving the requests that arrived after it became so (an epoll loop
// with WatchFD in its set). Anything else stats every time.
type watcher struct {
	fd  int
	gen atomic.Uint64 // changes heard of; starts at 1

	mu      sync.Mutex
	targets map[int32]watchTarget
	buf     [8192]byte
}

// watchTarget is what a watch descriptor stands for.
type watchTarget struct {
	// name: for an ancestor of Root, the one entry in it that matters;
	// "" for Root, directories below it and files, where every event
	// counts.
	name string
}

// trustTTL bounds how long a stat vouches for an entry, for changes
// inotify does not report.
const trustTTL = time.Second

// Events on a cached file, on directories from Root down, and on Root's
// ancestors.
const (
	fileEvents = unix.IN_MODIFY | unix.IN_ATTRIB | unix.IN_CLOSE_WRITE | unix.IN_DELETE_SELF | unix.IN_MOVE_SELF
	dirEvents  = unix.IN_CREATE | unix.IN_DELETE | unix.IN_MOVED_FROM | unix.IN_MOVED_TO | unix.IN_ATTRIB |
		unix.IN_DELETE_SELF | unix.IN_MOVE_SELF | unix.IN_ONLYDIR
)

// trust is the watcher's state of one entry, shared by the entry's copies.
type trust struct {
	state atomic.Int32  // 0: watches not set up yet; 1: watched; 2: cannot be
	gen   atomic.Uint64 // generation of the last stat that found it unchanged
	until atomic.Int64  // unix nanoseconds after which it needs a stat again
}

// WatchFD returns a descriptor that becomes readable when a file the
// handler caches may have changed (an inotify instance), or -1 when
// changes are not watched (inotify unavailable; Root's path holds a
// symbolic link; NoFollowSymlinks). See Cached for its use.
//
// The first call starts the watcher in the background and returns -1:
// setting it up (inotify, a watch on each of Root's ancestors) took
// about 5 ms at a cold start, and the request that asks first must not
// wait for it. Until it is up, requests are served unwatched (a stat(2)
// each), as without a watcher; callers ask again later (an event loop
// once a second).
func (h *Handler) WatchFD() int {
	if !h.watchReady.Load() {
		h.watchKick.Do(func() {
			go func() {
				h.watchOnce.Do(h.startWatch)
				h.watchReady.Store(true)
			}()
		})
		return -1
	}
	if h.watch == nil {
		return -1
	}
	return h.watch.fd
}

// startWatchNow sets the watcher up on the calling goroutine and waits
// for it, for tests that need it up.
func (h *Handler) startWatchNow() {
	h.watchOnce.Do(h.startWatch)
	h.watchReady.Store(true)
}

// Refresh reads what the descriptor of WatchFD has to say. It never
// waits.
func (h *Handler) Refresh() {
	if !h.watchReady.Load() {
		return
	}
	if w := h.watch; w != nil {
		w.drain()
	}
}

func (h *Handler) startWatch() {
	root := strings.TrimSuffix(h.fs.prefix, "/")
	if h.noFollow || root == "" {
		return
	}
	if real, err := filepath.EvalSymlinks(root); err != nil || real != root {
		return
	}
	fd, err := unix.InotifyInit1(unix.IN_NONBLOCK | unix.IN_CLOEXEC)
	if err != nil {
		return
	}
	w := &watcher{fd: fd, targets: make(map[int32]watchTarget)}
	w.gen.Store(1)
	// Root's ancestors: only the entry that leads to Root counts.
	for dir := root; dir != "/"; {
		parent := filepath.Dir(dir)
		if !w.add(parent, dirEvents, filepath.Base(dir)) {
			unix.Close(fd)
			return
		}
		dir = parent
	}
	if !w.add(root, dirEvents, "") {
		unix.Close(fd)
		return
	}
	h.watch = w
}

// add watches path; false if it cannot be.
func (w *watcher) add(path string, mask uint32, name string) bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	wd, err := unix.InotifyAddWatch(w.fd, path, mask)
	if err != nil {
		return false
	}
	w.targets[int32(wd)] = watchTarget{name: name}
	return true
}

// drain reads the pending events, counting those that matter.
func (w *watcher) drain() {
	w.mu.Lock()
	defer w.mu.Unlock()
	for {
		// A raw read (the descriptor does not block): Refresh runs on
		// the engine's event loops and accepting goroutine, where a
		// system call the scheduler is told of wakes its monitor thread.
		r, _, e := unix.RawSyscall(unix.SYS_READ, uintptr(w.fd), uintptr(unsafe.Pointer(&w.buf[0])), uintptr(len(w.buf)))
		n := int(r)
		if n <= 0 || e != 0 {
			return
		}
		changed := false
		for off := 0; off+unix.SizeofInotifyEvent <= n; {
			ev := (*unix.InotifyEvent)(unsafe.Pointer(&w.buf[off]))
			nameBytes := w.buf[off+unix.SizeofInotifyEvent : off+unix.SizeofInotifyEvent+int(ev.Len)]
			off += unix.SizeofInotifyEvent + int(ev.Len)
			if ev.Mask&unix.IN_Q_OVERFLOW != 0 {
				changed = true
				continue
			}
			t, ok := w.targets[ev.Wd]
			if ev.Mask&unix.IN_IGNORED != 0 {
				delete(w.targets, ev.Wd)
				changed = true
				continue
			}
			if !ok {
				continue
			}
			if t.name != "" {
				name := nameBytes
				if i := indexZero(name); i >= 0 {
					name = name[:i]
				}
				if string(name) != t.name && ev.Mask&(unix.IN_DELETE_SELF|unix.IN_MOVE_SELF) == 0 {
					continue
				}
			}
			changed = true
		}
		if changed {
			w.gen.Add(1)
		}
	}
}

func indexZero(b []byte) int {
	for i, c := range b {
		if c == 0 {
			return i
		}
	}
	return -1
}

func (w *watcher) generation() uint64 { return w.gen.Load() }

// set records that a stat at generation gen, at unix nanoseconds now,
// found the entry unchanged.
func (t *trust) set(gen uint64, now int64) {
	t.gen.Store(gen)
	t.until.Store(now + int64(trustTTL))
}

// vouch reports whether e's trust holds: watched, no change heard of since
// the last stat found it unchanged, and not older than trustTTL.
func (w *watcher) vouch(t *trust, now int64) bool {
	return t.state.Load() == 1 && t.gen.Load() == w.gen.Load() && now < t.until.Load()
}

// track sets up the watches of the entry for rel, once: the file and each
// directory down to it, provided none of them is a symbolic link.
func (h *Handler) track(w *watcher, t *trust, rel string) bool {
	switch t.state.Load() {
	case 1:
		return true
	case 2:
		return false
	}
	ok := true
	path := strings.TrimSuffix(h.fs.prefix, "/")
	for rest := rel; ok; {
		seg, next, more := strings.Cut(rest, "/")
		path += "/" + seg
		var st unix.Stat_t
		if err := unix.Lstat(path, &st); err != nil || st.Mode&unix.S_IFMT == unix.S_IFLNK {
			ok = false
			break
		}
		mask := uint32(dirEvents)
		if !more {
			mask = fileEvents
		}
		ok = w.add(path, mask, "")
		if !more {
			break
		}
		rest = next
	}
	if ok {
		t.state.Store(1)
	} else {
		t.state.Store(2)
	}
	return ok
}
