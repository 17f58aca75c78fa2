package service

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"

	"github.com/hubspec/hubspec/hub"
)

// Automatic device and module configurations (/configurations), as
// azure-iot-hub's IoTHubConfigurationManager calls them, except that
// updates send the etag quoted: the hub ignores an unquoted If-Match and
// takes the PUT for a create, answering 409.

func configurationPath(id string) string { return "/configurations/" + escapeID(id) }

// CreateConfiguration creates c with PUT and no If-Match (an existing id:
// ErrConfigurationAlreadyExists). It returns the configuration as stored,
// with its etag and times.
func (c *RegistryClient) CreateConfiguration(ctx context.Context, cfg *hub.Configuration) (*hub.Configuration, error) {
	if cfg == nil || cfg.ID == "" {
		return nil, errors.New("create configuration: empty id")
	}
	var out hub.Configuration
	err := c.do(ctx, restCall{method: http.MethodPut, path: configurationPath(cfg.ID), body: cfg, ok: []int{200, 201}, out: &out})
	if err != nil {
		return nil, fmt.Errorf("create configuration %s: %w", cfg.ID, err)
	}
	return &out, nil
}

// UpdateConfiguration replaces cfg's target condition, priority, labels
// and metrics if its etag still matches ("" or "*": unconditionally). Its
// content cannot change.
func (c *RegistryClient) UpdateConfiguration(ctx context.Context, cfg *hub.Configuration, etag string) (*hub.Configuration, error) {
	if cfg == nil || cfg.ID == "" {
		return nil, errors.New("update configuration: empty id")
	}
	var out hub.Configuration
	err := c.do(ctx, restCall{method: http.MethodPut, path: configurationPath(cfg.ID), body: cfg, ifMatch: ifMatch(etag), ok: []int{200, 201}, out: &out})
	if err != nil {
		return nil, fmt.Errorf("update configuration %s: %w", cfg.ID, err)
	}
	return &out, nil
}

// GetConfiguration reads a configuration with its metrics' results.
func (c *RegistryClient) GetConfiguration(ctx context.Context, id string) (*hub.Configuration, error) {
	var out hub.Configuration
	if err := c.get(ctx, configurationPath(id), &out, id); err != nil {
		return nil, fmt.Errorf("get configuration %s: %w", id, err)
	}
	return &out, nil
}

// ListConfigurations lists up to top configurations (top <= 0: all).
func (c *RegistryClient) ListConfigurations(ctx context.Context, top int) ([]*hub.Configuration, error) {
	q := url.Values{}
	if top > 0 {
		q.Set("top", strconv.Itoa(top))
	}
	var out []*hub.Configuration
	if err := c.do(ctx, restCall{method: http.MethodGet, path: "/configurations", query: q, ok: []int{200}, out: &out}); err != nil {
		return nil, fmt.Errorf("list configurations: %w", err)
	}
	return out, nil
}

// DeleteConfiguration deletes a configuration if its etag still matches
// ("" or "*": unconditionally, as azure-iot-hub sends by default).
func (c *RegistryClient) DeleteConfiguration(ctx context.Context, id, etag string) error {
	if err := c.del(ctx, configurationPath(id), etag, id); err != nil {
		return fmt.Errorf("delete configuration %s: %w", id, err)
	}
	return nil
}

// TestConfigurationQueries asks the hub what is wrong with a target
// condition and custom metric queries before they are used.
func (c *RegistryClient) TestConfigurationQueries(ctx context.Context, in hub.ConfigurationQueriesTestInput) (*hub.ConfigurationQueriesTestResponse, error) {
	var out hub.ConfigurationQueriesTestResponse
	err := c.do(ctx, restCall{method: http.MethodPost, path: "/configurations/testQueries", body: in, ok: []int{200}, out: &out})
	if err != nil {
		return nil, fmt.Errorf("test configuration queries: %w", err)
	}
	return &out, nil
}
