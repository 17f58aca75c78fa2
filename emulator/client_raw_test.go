package emulator_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/hubspec/hubspec/hub/device"
	"github.com/hubspec/hubspec/internal/mqtttest"

	"github.com/hubspec/hubspec/hub"
)

// TestDialSASToken: a given token is what the client presents, so a token
// signed for another resource is refused however good the key.
func TestDialSASToken(t *testing.T) {
	_, _, csText, opts := moduleOnEmulator(t)
	cs, err := hub.ParseConnectionString(csText)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	good, err := hub.BuildSASToken(cs.ResourceURI(), cs.SharedAccessKey, "", time.Now().Add(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	c, err := device.DialModule(ctx, csText, append(opts, mqtttest.WithSASToken(good))...)
	if err != nil {
		t.Fatalf("a good given token: %v", err)
	}
	c.Close()
	foreign, _ := hub.BuildSASToken(cs.ResourceURI()+"x", cs.SharedAccessKey, "", time.Now().Add(time.Hour))
	_, err = device.DialModule(ctx, csText, append(opts, mqtttest.WithSASToken(foreign))...)
	var refused *device.ConnectRefusedError
	if !errors.As(err, &refused) || refused.Code != 5 {
		t.Fatalf("a token for another resource: want CONNACK 5, got %v", err)
	}
}

// TestDialRaw: a bare connection is accepted, reports its loss when a
// second connection of the same identity takes over, and is refused like
// any other with a wrong key.
func TestDialRaw(t *testing.T) {
	_, _, csText, opts := moduleOnEmulator(t)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	lost := make(chan error, 1)
	first, err := mqtttest.DialRaw(ctx, csText, func(err error) { lost <- err }, opts...)
	if err != nil {
		t.Fatal(err)
	}
	defer first.Disconnect(0)
	second, err := mqtttest.DialRaw(ctx, csText, nil, opts...)
	if err != nil {
		t.Fatal(err)
	}
	defer second.Disconnect(0)
	select {
	case <-lost:
	case <-ctx.Done():
		t.Fatal("the first connection was not closed by the second")
	}

	cs, _ := hub.ParseConnectionString(csText)
	cs.SharedAccessKey = "d3Jvbmcga2V5IG9mIHRoZSByaWdodCBzaGFwZSEhISE="
	_, err = mqtttest.DialRaw(ctx, cs.String(), nil, opts...)
	var refused *device.ConnectRefusedError
	if !errors.As(err, &refused) || refused.Code != 5 {
		t.Fatalf("a wrong key: want CONNACK 5, got %v", err)
	}
}
