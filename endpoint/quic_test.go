package endpoint

import (
	"context"
	"crypto/tls"
	"testing"

	"github.com/quic-go/quic-go"
)

// TestQUICHandshake runs a real QUIC handshake with quic-go over the
// Packet and TLS config a quic endpoint gives.
func TestQUICHandshake(t *testing.T) {
	c := makeCert(t, t.TempDir(), "srv", 7, false, nil)
	l := listen(t, "quic:0:interface=127.0.0.1:privateKey="+escape(c.both))
	ql, err := quic.Listen(l.Packet, l.TLS, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer ql.Close()
	ctx := t.Context()
	accepted := make(chan error, 1)
	go func() {
		conn, err := ql.Accept(ctx)
		if err == nil {
			<-conn.HandshakeComplete()
			defer conn.CloseWithError(0, "")
			<-ctx.Done()
		}
		accepted <- err
	}()
	conn, err := quic.DialAddr(context.Background(), l.Packet.LocalAddr().String(),
		&tls.Config{RootCAs: pool(c.x509), NextProtos: []string{"h3"}}, nil)
	if err != nil {
		t.Fatalf("QUIC handshake: %v", err)
	}
	defer conn.CloseWithError(0, "")
	st := conn.ConnectionState().TLS
	if st.NegotiatedProtocol != "h3" || st.PeerCertificates[0].SerialNumber.Int64() != 7 {
		t.Errorf("negotiated %q with certificate %v", st.NegotiatedProtocol, st.PeerCertificates[0].SerialNumber)
	}
}
