package bench

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/hubspec/hubspec/harness"
	"github.com/hubspec/hubspec/hub"
	"github.com/hubspec/hubspec/hub/service"
	"github.com/hubspec/hubspec/internal/mqttconn"
)

// emulatorProcess is the emulator binary (cmd/iothub-emulator) run as a
// process of its own, as Mosquitto is, so that its resident set is its
// own and its clients share no scheduler or garbage collector with it.
type emulatorProcess struct {
	*process
	cs       string // iothubowner's connection string
	host     string // the hub's host name, as connection strings carry it
	mqttAddr string
	caFile   string
	tls      *tls.Config // trusts the emulator's CA, for connections of the bench's own
}

// startEmulator starts bin listening on loopback ports of its choosing and
// waits until it serves: it has printed iothubowner's connection string on
// stdout and its "serving" record, with the MQTT address, on stderr.
func startEmulator(ctx context.Context, bin, dir string) (*emulatorProcess, error) {
	e := &emulatorProcess{caFile: filepath.Join(dir, "emulator-ca.pem")}
	cmd := exec.Command(bin, "-host-name", "localhost", "-https-addr", "127.0.0.1:0", "-mqtt-addr", "127.0.0.1:0",
		"-amqp-addr", "127.0.0.1:0", "-ca-out", e.caFile, "-log-format", "json", "-log-level", "info")
	p, err := startProcess("iothub-emulator", cmd)
	if err != nil {
		return nil, err
	}
	e.process = p
	err = p.awaitReady(ctx, func(line string) bool {
		if cs, ok := strings.CutPrefix(line, "IOTHUB_CONNECTION_STRING="); ok {
			e.cs = cs
		}
		var rec struct{ Msg, Host, MQTT string }
		if json.Unmarshal([]byte(line), &rec) == nil && rec.Msg == "serving" {
			e.host, e.mqttAddr = rec.Host, rec.MQTT
		}
		return e.cs != "" && e.mqttAddr != ""
	})
	if err == nil {
		e.tls, err = trustPEMFile(e.caFile, "localhost")
	}
	if err != nil {
		_ = p.stop()
		return nil, err
	}
	return e, nil
}

// trustPEMFile is a client configuration that trusts the CAs of a PEM
// file and expects serverName in the broker's certificate.
func trustPEMFile(path, serverName string) (*tls.Config, error) {
	pem, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		return nil, fmt.Errorf("no certificate in %s", path)
	}
	return &tls.Config{RootCAs: pool, ServerName: serverName, MinVersion: tls.VersionTLS12}, nil
}

// target is the emulator process as harness's live target sees a hub:
// through its connection string, its CA and its MQTT address.
func (e *emulatorProcess) target(ctx context.Context) (harness.Target, error) {
	return harness.OpenLive(ctx, harness.Config{Target: "live", ConnectionString: e.cs, CAFile: e.caFile, MQTTAddress: e.mqttAddr})
}

// benchKey is the primary key of every device the bench creates itself, so
// that a connection's SAS token is signed without a list of keys.
const benchKey = "aHVic3BlYy1iZW5jaC1kZXZpY2Uta2V5LTAxMjM0NTY3ODk="

// benchDevice names the i-th device of a bench phase.
func benchDevice(phase string, i int) string { return fmt.Sprintf("bench-%s-%05d", phase, i) }

// registryWorkers is how many creates are in flight at once.
const registryWorkers = 16

// createDevices creates n devices named benchDevice(phase, i), all with
// benchKey.
func (e *emulatorProcess) createDevices(ctx context.Context, phase string, n int) error {
	t, err := e.target(ctx)
	if err != nil {
		return err
	}
	defer t.Close()
	reg, err := service.NewRegistryClient(t.ServiceConnectionString(), t.RegistryOptions()...)
	if err != nil {
		return err
	}
	auth := &hub.Authentication{Type: "sas", SymmetricKey: &hub.SymmetricKey{PrimaryKey: benchKey, SecondaryKey: benchKey}}
	work := make(chan int)
	var first error
	var once sync.Once
	var wg sync.WaitGroup
	for range registryWorkers {
		wg.Go(func() {
			for i := range work {
				if _, err := reg.CreateDevice(ctx, &hub.Device{DeviceID: benchDevice(phase, i), Authentication: auth}); err != nil {
					once.Do(func() { first = err })
				}
			}
		})
	}
	for i := range n {
		work <- i
	}
	close(work)
	wg.Wait()
	return first
}

// login is what the i-th device of phase presents in its CONNECT: its
// client id, user name and a SAS token signed with benchKey, valid for an
// hour (longer than a bench runs).
func (e *emulatorProcess) login(phase string, i int) login {
	cs := hub.ConnectionString{HostName: e.host, DeviceID: benchDevice(phase, i), SharedAccessKey: benchKey}
	user, password := mqttconn.Credentials(cs, mqttconn.Settings{TTL: time.Hour, Now: time.Now})
	return login{clientID: cs.DeviceID, user: user, password: password}
}
