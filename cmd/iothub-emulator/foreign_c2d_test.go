package main

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/hubspec/hubspec/hub"
	"github.com/hubspec/hubspec/hub/device"
	"github.com/hubspec/hubspec/hub/service"
)

// TestForeignC2DSender runs testdata/send_c2d_uamqp.py, the Python service
// SDK's send_c2d_message on uamqp (python3-uamqp, which make setup
// installs), against the binary, and checks that a device receives the
// message with its body and properties. Without /usr/bin/python3 and uamqp
// the test skips, unless HUBSPEC_REQUIRE_FOREIGN_CLIENTS=1.
func TestForeignC2DSender(t *testing.T) {
	if err := exec.Command("/usr/bin/python3", "-c", "import uamqp, azure.core").Run(); err != nil {
		msg := "python3-uamqp not installed (apt-get install python3-uamqp python3-azure): " + err.Error()
		if os.Getenv("HUBSPEC_REQUIRE_FOREIGN_CLIENTS") == "1" {
			t.Fatal(msg + "; HUBSPEC_REQUIRE_FOREIGN_CLIENTS=1 requires it")
		}
		t.Skip(msg)
	}
	bin := buildBinary(t)
	caOut := filepath.Join(t.TempDir(), "ca.pem")
	amqpPort, mqttAddr := freePort(t), "127.0.0.1:"+freePort(t)
	p := start(t, bin, nil, "-https-addr", "127.0.0.1:"+freePort(t), "-mqtt-addr", mqttAddr,
		"-amqp-addr", "127.0.0.1:"+amqpPort, "-ca-out", caOut)
	cs := p.connectionString(t)
	tlsCfg := trusting(t, caOut)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()

	reg, err := service.NewRegistryClient(cs, service.WithTLSConfig(tlsCfg))
	if err != nil {
		t.Fatal(err)
	}
	d, err := reg.CreateDevice(ctx, &hub.Device{DeviceID: "py-c2d"})
	if err != nil {
		t.Fatal(err)
	}
	parsed, _ := hub.ParseConnectionString(cs)
	devCS := hub.ConnectionString{HostName: parsed.HostName, DeviceID: "py-c2d", SharedAccessKey: d.Authentication.SymmetricKey.PrimaryKey}
	dev, err := device.DialDevice(ctx, devCS.String(), device.WithTLSConfig(tlsCfg), device.WithAddress(mqttAddr))
	if err != nil {
		t.Fatal(err)
	}
	defer dev.Close()
	msgs, err := dev.CloudMessages(ctx)
	if err != nil {
		t.Fatal(err)
	}

	out, err := exec.CommandContext(ctx, "/usr/bin/python3", "testdata/send_c2d_uamqp.py", cs, amqpPort, caOut, "py-c2d",
		"hello from uamqp", "messageId=py-1", "contentType=text/plain", "colour=blue").CombinedOutput()
	t.Logf("send_c2d_uamqp.py:\n%s", out)
	if err != nil {
		t.Fatalf("send_c2d_uamqp.py: %v", err)
	}
	select {
	case m := <-msgs:
		if string(m.Body) != "hello from uamqp" || m.MessageID != "py-1" || m.ContentType != "text/plain" || m.Properties["colour"] != "blue" {
			t.Errorf("the device received %+v", m)
		}
	case <-ctx.Done():
		t.Fatal("the message sent with uamqp never reached the device")
	}
}
