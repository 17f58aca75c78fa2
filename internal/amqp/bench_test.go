package amqp_test

import (
	"crypto/tls"
	"testing"

	goamqp "github.com/Azure/go-amqp"

	"github.com/hubspec/hubspec/internal/amqp"
	"github.com/hubspec/hubspec/internal/certtest"
)

// benchPair serves srv over loopback TLS and dials it with go-amqp.
func benchPair(b *testing.B, srv *amqp.Server) *goamqp.Session {
	b.Helper()
	cert, err := certtest.SelfSigned("localhost")
	if err != nil {
		b.Fatal(err)
	}
	ln, err := tls.Listen("tcp", "127.0.0.1:0", &tls.Config{Certificates: []tls.Certificate{cert.TLS()}})
	if err != nil {
		b.Fatal(err)
	}
	go func() { _ = srv.Serve(ln) }()
	b.Cleanup(func() { srv.Close() })
	c, err := goamqp.Dial(ctx(b), "amqps://"+ln.Addr().String(), &goamqp.ConnOptions{
		SASLType:  goamqp.SASLTypeAnonymous(),
		TLSConfig: &tls.Config{InsecureSkipVerify: true}, // the benchmark's own self-signed certificate
	})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { c.Close() })
	return session(b, c)
}

func benchBody() *amqp.Message {
	return &amqp.Message{Data: [][]byte{make([]byte, 256)}, ApplicationProperties: map[string]any{"k": "v"}}
}

// BenchmarkServerToClient: messages/second from the server's sender to a
// go-amqp receiver; settled: pre-settled, streaming within credit;
// unsettled: each Send waits for the receiver's accept.
func BenchmarkServerToClient(b *testing.B) {
	for _, settled := range []bool{true, false} {
		name := map[bool]string{true: "settled", false: "unsettled"}[settled]
		b.Run(name, func(b *testing.B) {
			ls := links(make(chan *amqp.Link, 1))
			s := benchPair(b, &amqp.Server{Attach: ls.attach})
			opts := &goamqp.ReceiverOptions{Credit: 500}
			if settled {
				mode := goamqp.SenderSettleModeSettled
				opts.RequestedSenderSettleMode = &mode
			}
			rcv, err := s.NewReceiver(ctx(b), "out", opts)
			if err != nil {
				b.Fatal(err)
			}
			l := ls.next(b)
			errs := make(chan error, 1)
			b.ResetTimer()
			go func() {
				for range b.N {
					if _, err := l.Send(ctx(b), benchBody()); err != nil {
						errs <- err
						return
					}
				}
				errs <- nil
			}()
			for range b.N {
				m, err := rcv.Receive(ctx(b), nil)
				if err != nil {
					b.Fatal(err)
				}
				if !settled {
					if err := rcv.AcceptMessage(ctx(b), m); err != nil {
						b.Fatal(err)
					}
				}
			}
			if err := <-errs; err != nil {
				b.Fatal(err)
			}
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "msgs/s")
		})
	}
}

// BenchmarkClientToServer: messages/second from a go-amqp sender to the
// server's receiver; settled: pre-settled; unsettled: each Send waits for
// the server's accept.
func BenchmarkClientToServer(b *testing.B) {
	for _, settled := range []bool{true, false} {
		name := map[bool]string{true: "settled", false: "unsettled"}[settled]
		b.Run(name, func(b *testing.B) {
			ls := links(make(chan *amqp.Link, 1))
			s := benchPair(b, &amqp.Server{Attach: ls.attach, LinkCredit: 500})
			opts := &goamqp.SenderOptions{}
			if settled {
				mode := goamqp.SenderSettleModeSettled
				opts.SettlementMode = &mode
			}
			snd, err := s.NewSender(ctx(b), "in", opts)
			if err != nil {
				b.Fatal(err)
			}
			l := ls.next(b)
			errs := make(chan error, 1)
			go func() {
				for range b.N {
					d, err := l.Receive(ctx(b))
					if err == nil && !d.Settled() {
						err = d.Accept()
					}
					if err != nil {
						errs <- err
						return
					}
				}
				errs <- nil
			}()
			b.ResetTimer()
			for range b.N {
				m := goamqp.NewMessage(make([]byte, 256))
				m.ApplicationProperties = map[string]any{"k": "v"}
				if err := snd.Send(ctx(b), m, nil); err != nil {
					b.Fatal(err)
				}
			}
			if err := <-errs; err != nil {
				b.Fatal(err)
			}
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "msgs/s")
		})
	}
}
