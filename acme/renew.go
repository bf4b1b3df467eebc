package acme

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"time"
)

// Renew renews the certificate whenever it is due (RenewAt) until ctx is
// done. A renewal that fails keeps the certificate served before, logs an
// error saying so, makes Problem say so, and is retried: after a tenth of
// the certificate's remaining lifetime, between a second and an hour.
// changed is called after every attempt, so the caller can report Problem
// (to systemd's STATUS=, for example). Renew needs a certificate to start
// from: call Obtain first when HasValidCertificate is false.
func (m *Manager) Renew(ctx context.Context, log *slog.Logger, changed func()) {
	var retry time.Duration // after a failure; 0: wait for RenewAt
	for {
		wait := time.Until(m.RenewAt())
		if retry > 0 {
			wait = retry
		}
		t := time.NewTimer(max(0, wait))
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
		err := m.Obtain(ctx)
		if ctx.Err() != nil {
			return
		}
		names := strings.Join(m.cfg.Hosts, ", ")
		if err != nil {
			old := m.cert.Load()
			left := time.Duration(0)
			until := "none"
			if old != nil && old.Leaf != nil {
				left = time.Until(old.Leaf.NotAfter)
				until = old.Leaf.NotAfter.UTC().Format(time.RFC3339)
			}
			retry = time.Minute
			if left > 0 {
				retry = min(time.Hour, max(time.Second, left/10))
			}
			m.mu.Lock()
			m.problem = fmt.Sprintf("renewing the certificate of %s failed (still serving the one valid until %s): %v", names, until, err)
			m.mu.Unlock()
			log.Error(fmt.Sprintf("Renewing the certificate of %s failed; still serving the one valid until %s; next try in %s: %v",
				names, until, retry.Round(time.Second), err))
		} else {
			retry = 0
			m.mu.Lock()
			m.problem = ""
			m.mu.Unlock()
			c := m.cert.Load()
			log.Info(fmt.Sprintf("Renewed the certificate of %s: serial %x, valid until %s, next renewal at %s.",
				names, c.Leaf.SerialNumber, c.Leaf.NotAfter.UTC().Format(time.RFC3339), m.RenewAt().UTC().Format(time.RFC3339)))
		}
		if changed != nil {
			changed()
		}
	}
}
