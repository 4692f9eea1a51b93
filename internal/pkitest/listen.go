package pkitest

import (
	"net"
	"sync/atomic"
	"testing"
)

// Witness is a TCP listener on an address of this machine that is not
// loopback, counting the connections made to it: the proof that a client
// refused to send a token in the clear before dialing.
type Witness struct {
	// URL is http://ADDRESS:PORT.
	URL   string
	conns atomic.Int32
}

// Connections is how many connections the witness accepted.
func (w *Witness) Connections() int { return int(w.conns.Load()) }

// NewWitness listens on the first non-loopback address of this machine's
// interfaces; it returns nil when there is none (a machine with loopback
// only), in which case a test relies on the client's error alone.
func NewWitness(t testing.TB) *Witness {
	t.Helper()
	addrs, err := net.InterfaceAddrs()
	if err != nil {
		return nil
	}
	for _, a := range addrs {
		n, ok := a.(*net.IPNet)
		if !ok || n.IP.IsLoopback() || n.IP.IsLinkLocalUnicast() || n.IP.To4() == nil {
			continue
		}
		ln, err := net.Listen("tcp", net.JoinHostPort(n.IP.String(), "0"))
		if err != nil {
			continue
		}
		w := &Witness{URL: "http://" + ln.Addr().String()}
		done := make(chan struct{})
		go func() {
			defer close(done)
			for {
				c, err := ln.Accept()
				if err != nil {
					return
				}
				w.conns.Add(1)
				c.Close()
			}
		}()
		t.Cleanup(func() { ln.Close(); <-done })
		return w
	}
	return nil
}
