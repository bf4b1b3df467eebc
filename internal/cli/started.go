package cli

import (
	"context"
	"time"

	"github.com/gotwistd/gotwistd/service"
)

// starter is a service that needs to be serving before it is ready, such
// as the web plugin getting its first ACME certificate (the CA's
// validation must reach it). The runner calls WaitStarted after Serve has
// started and reports READY=1 only once it returns nil.
type starter interface {
	WaitStarted(ctx context.Context) error
}

// waitStarted runs the service's WaitStarted as a step of the start
// (extending systemd's start timeout meanwhile). On error it stops the
// service, waiting up to grace for Serve to return.
func waitStarted(sw *startWatch, p service.Plugin, svc service.Service, serveDone <-chan error, grace time.Duration) error {
	st, ok := svc.(starter)
	if !ok {
		return nil
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	err := sw.step(p.Name()+": getting ready (TLS certificates)", func() error { return st.WaitStarted(ctx) })
	if err == nil {
		return nil
	}
	cancel()
	sctx, scancel := context.WithTimeout(context.Background(), grace)
	defer scancel()
	svc.Shutdown(sctx)
	select {
	case <-serveDone:
	case <-sctx.Done():
	}
	return err
}
