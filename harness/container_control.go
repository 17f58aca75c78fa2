package harness

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"time"

	"github.com/hubspec/hubspec/hub"
)

// controlPoll is how long one long poll of the control plane may wait; the
// client polls again until its own context ends, so a hung connection costs
// at most this.
const controlPoll = 10 * time.Second

// controlClient calls the emulator's control plane (POST /$hubspec/...,
// JSON in and out; see package emulator) over HTTPS, as the container
// target's way to the emulator-only powers across the process boundary.
// Each call is signed with the service connection string's policy, which
// must hold RegistryWrite (iothubowner does), using hub's SAS builder: the
// emulator verifies with its own code.
type controlClient struct {
	cs   hub.ConnectionString
	url  string
	http *http.Client
}

func newControlClient(connectionString string, tlsCfg *tls.Config) (*controlClient, error) {
	cs, err := hub.ParseConnectionString(connectionString)
	if err != nil {
		return nil, fmt.Errorf("control client: %w", err)
	}
	if !cs.IsService() {
		return nil, fmt.Errorf("control client: needs a service (shared access policy) connection string")
	}
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.TLSClientConfig = tlsCfg.Clone()
	return &controlClient{cs: cs, url: "https://" + cs.HostName, http: &http.Client{Transport: tr}}, nil
}

// call posts one control request and decodes its answer; an answer other
// than 200 is the hub-shaped *hub.Error the emulator sent.
func (c *controlClient) call(ctx context.Context, path string, request, answer any) error {
	body, err := json.Marshal(request)
	if err != nil {
		return err
	}
	token, err := c.cs.SASToken(time.Hour, time.Now())
	if err != nil {
		return err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.url+path, bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", token)
	req.Header.Set("Content-Type", "application/json; charset=utf-8")
	resp, err := c.http.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return fmt.Errorf("read %d answer: %w", resp.StatusCode, err)
	}
	if resp.StatusCode != http.StatusOK {
		return hub.ParseError(resp.StatusCode, resp.Header.Get("iothub-errorcode"), b)
	}
	return json.Unmarshal(b, answer)
}

// AwaitConnections long-polls until the identity has had at least n
// accepted MQTT connections, or ctx ends.
func (c *controlClient) AwaitConnections(ctx context.Context, deviceID, moduleID string, n int) error {
	have := -1
	for {
		wait := controlPoll
		if dl, ok := ctx.Deadline(); ok {
			// Ask for a little less than is left, so the last answer
			// arrives before ctx ends and the error can say how many.
			wait = min(wait, max(time.Until(dl)-250*time.Millisecond, 0))
		}
		var ans struct{ Connections int }
		err := c.call(ctx, "/$hubspec/connections/await", map[string]any{
			"deviceId": deviceID, "moduleId": moduleID, "atLeast": n, "waitSeconds": wait.Seconds(),
		}, &ans)
		switch {
		case err == nil && ans.Connections >= n:
			return nil
		case err == nil:
			have = ans.Connections
		case ctx.Err() == nil:
			return fmt.Errorf("await %d connections of %s: %w", n, identityName(deviceID, moduleID), err)
		}
		if err := ctx.Err(); err != nil {
			return fmt.Errorf("await %d connections of %s (last seen: %d): %w", n, identityName(deviceID, moduleID), have, err)
		}
	}
}

// DropConnection closes the identity's live MQTT connection on the hub's
// side and reports whether there was one.
func (c *controlClient) DropConnection(ctx context.Context, deviceID, moduleID string) (bool, error) {
	var ans struct{ Dropped bool }
	if err := c.call(ctx, "/$hubspec/connections/drop", map[string]string{"deviceId": deviceID, "moduleId": moduleID}, &ans); err != nil {
		return false, fmt.Errorf("drop the connection of %s: %w", identityName(deviceID, moduleID), err)
	}
	return ans.Dropped, nil
}

// FailRegistryCalls makes the next n registry calls naming the device fail
// with the IoT Hub error of that name.
func (c *controlClient) FailRegistryCalls(ctx context.Context, deviceID string, n int, errorName string) error {
	var ans struct{}
	if err := c.call(ctx, "/$hubspec/registry-faults", map[string]any{"deviceId": deviceID, "count": n, "errorName": errorName}, &ans); err != nil {
		return fmt.Errorf("fail the next %d registry calls of %s with %s: %w", n, deviceID, errorName, err)
	}
	return nil
}

func identityName(deviceID, moduleID string) string {
	if moduleID == "" {
		return deviceID
	}
	return deviceID + "/" + moduleID
}
