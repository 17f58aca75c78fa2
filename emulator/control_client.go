package emulator

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
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

// ControlClient is Controls for an emulator in another process (a
// container, a separate binary): each call is a request to the emulator's
// control plane over HTTPS, signed with a SAS token of the service
// connection string's policy, which must hold RegistryWrite (iothubowner
// does). A call the emulator refuses returns the *hub.Error it answered,
// wrapped with what was asked.
type ControlClient struct {
	cs   hub.ConnectionString
	url  string
	http *http.Client
}

// NewControlClient returns a client of the control plane of the emulator
// that connectionString (a service connection string; its HostName may
// carry a port) names, trusting tlsCfg. It sends nothing until a call.
func NewControlClient(connectionString string, tlsCfg *tls.Config) (*ControlClient, error) {
	cs, err := hub.ParseConnectionString(connectionString)
	if err != nil {
		return nil, fmt.Errorf("emulator control client: %w", err)
	}
	if !cs.IsService() {
		return nil, errors.New("emulator control client: needs a service (shared access policy) connection string")
	}
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.TLSClientConfig = tlsCfg.Clone()
	return &ControlClient{cs: cs, url: "https://" + cs.HostName, http: &http.Client{Transport: tr}}, nil
}

// call posts one control request and decodes its answer; an answer other
// than 200 is the hub-shaped *hub.Error the emulator sent.
func (c *ControlClient) call(ctx context.Context, path string, request, answer any) error {
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
	req.Header.Set("Content-Type", jsonContentType)
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

// FailRegistryCalls is Server.FailRegistryCalls on the remote emulator.
func (c *ControlClient) FailRegistryCalls(ctx context.Context, deviceID string, n int, errorName string) error {
	var ans registryFaultsRequest
	req := registryFaultsRequest{DeviceID: deviceID, Count: n, ErrorName: errorName}
	if err := c.call(ctx, ControlRegistryFaultsPath, req, &ans); err != nil {
		return fmt.Errorf("fail the next %d registry calls of %s with %s: %w", n, deviceID, errorName, err)
	}
	return nil
}

// AwaitConnections is Server.AwaitConnections on the remote emulator: it
// long-polls until the identity has had at least n accepted MQTT
// connections, or ctx ends.
func (c *ControlClient) AwaitConnections(ctx context.Context, deviceID, moduleID string, n int) error {
	id := identity{deviceID: deviceID, moduleID: moduleID}
	have := -1
	for {
		wait := controlPoll
		if dl, ok := ctx.Deadline(); ok {
			// Ask for a little less than is left, so the last answer
			// arrives before ctx ends and the error can say how many.
			wait = min(wait, max(time.Until(dl)-250*time.Millisecond, 0))
		}
		var ans connectionsAnswer
		req := awaitConnectionsRequest{DeviceID: deviceID, ModuleID: moduleID, AtLeast: n, WaitSeconds: wait.Seconds()}
		err := c.call(ctx, ControlAwaitConnectionsPath, req, &ans)
		switch {
		case err == nil && ans.Connections >= n:
			return nil
		case err == nil:
			have = ans.Connections
		case ctx.Err() == nil:
			return fmt.Errorf("await %d connections of %s: %w", n, id, err)
		}
		if err := ctx.Err(); err != nil {
			return fmt.Errorf("await %d connections of %s (last seen: %d): %w", n, id, have, err)
		}
	}
}

// DropConnection is Server.DropConnection on the remote emulator.
func (c *ControlClient) DropConnection(ctx context.Context, deviceID, moduleID string) (bool, error) {
	var ans dropConnectionAnswer
	req := dropConnectionRequest{DeviceID: deviceID, ModuleID: moduleID}
	if err := c.call(ctx, ControlDropConnectionPath, req, &ans); err != nil {
		return false, fmt.Errorf("drop the connection of %s: %w", identity{deviceID: deviceID, moduleID: moduleID}, err)
	}
	return ans.Dropped, nil
}

// DropDesiredPushes is Server.DropDesiredPushes on the remote emulator.
func (c *ControlClient) DropDesiredPushes(ctx context.Context, n int) error {
	var ans dropDesiredPushesRequest
	if err := c.call(ctx, ControlDropDesiredPushesPath, dropDesiredPushesRequest{Count: n}, &ans); err != nil {
		return fmt.Errorf("drop the next %d desired pushes: %w", n, err)
	}
	return nil
}

// RegisterDeviceCA is Server.RegisterDeviceCA on the remote emulator.
func (c *ControlClient) RegisterDeviceCA(ctx context.Context, pem []byte) error {
	var ans deviceCAAnswer
	if err := c.call(ctx, ControlDeviceCAsPath, deviceCARequest{PEM: string(pem)}, &ans); err != nil {
		return fmt.Errorf("register a device CA: %w", err)
	}
	return nil
}

// AwaitDeliveries is Server.AwaitDeliveries on the remote emulator: one long
// poll (see pollFor).
func (c *ControlClient) AwaitDeliveries(ctx context.Context, deviceID, moduleID, marker string) (bool, error) {
	id := identity{deviceID: deviceID, moduleID: moduleID}
	wait := pollFor(ctx)
	var ans deliveriesAnswer
	req := awaitDeliveriesRequest{DeviceID: deviceID, ModuleID: moduleID, Marker: marker, WaitSeconds: wait.Seconds()}
	if err := c.call(ctx, ControlAwaitDeliveriesPath, req, &ans); err != nil {
		return false, fmt.Errorf("await deliveries of %s: %w", id, err)
	}
	if !ans.Settled {
		return false, fmt.Errorf("await deliveries of %s: not settled within %s: %w", id, wait, context.DeadlineExceeded)
	}
	return ans.Marked, nil
}

// AwaitRegistryChange is Server.AwaitRegistryChange on the remote emulator:
// one long poll (see pollFor); an answer not past after is ctx's deadline.
func (c *ControlClient) AwaitRegistryChange(ctx context.Context, after uint64) (uint64, error) {
	var ans changesAnswer
	req := awaitChangeRequest{After: after, WaitSeconds: pollFor(ctx).Seconds()}
	if err := c.call(ctx, ControlAwaitRegistryChangePath, req, &ans); err != nil {
		return 0, fmt.Errorf("await a registry change after %d: %w", after, err)
	}
	if ans.Changes <= after {
		return ans.Changes, fmt.Errorf("await a registry change after %d: none: %w", after, context.DeadlineExceeded)
	}
	return ans.Changes, nil
}

// AdvanceDeviceClock is Server.AdvanceDeviceClock on the remote emulator.
func (c *ControlClient) AdvanceDeviceClock(ctx context.Context, deviceID string, d time.Duration) error {
	var ans advanceDeviceClockRequest
	if err := c.call(ctx, ControlAdvanceDeviceClockPath, advanceDeviceClockRequest{DeviceID: deviceID, Seconds: d.Seconds()}, &ans); err != nil {
		return fmt.Errorf("advance the clock of device %s by %s: %w", deviceID, d, err)
	}
	return nil
}

// pollFor is how long one long poll may wait: a little less than ctx has
// left (a tenth less, at most 250 ms less; at most the control plane's
// 30 s), so that the answer arrives before ctx ends.
func pollFor(ctx context.Context) time.Duration {
	wait := maxControlWait
	if dl, ok := ctx.Deadline(); ok {
		left := time.Until(dl)
		wait = min(wait, max(left-min(left/10, 250*time.Millisecond), 0))
	}
	return wait
}
