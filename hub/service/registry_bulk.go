package service

import (
	"context"
	"fmt"
	"net/http"

	"github.com/hubspec/hubspec/hub"
)

// BulkUpdate applies up to 100 devices' registry operations in one call
// (POST /devices), each by its ImportMode. A refused request (malformed, a
// device named twice, more than 100) is an error and changed nothing; a
// request the hub took answers a result whose Errors name the devices whose
// operation failed, the others having been applied.
func (c *RegistryClient) BulkUpdate(ctx context.Context, devices []hub.ExportImportDevice) (*hub.BulkRegistryOperationResult, error) {
	var out hub.BulkRegistryOperationResult
	err := c.do(ctx, restCall{method: http.MethodPost, path: "/devices", body: devices, ok: []int{200}, out: &out})
	if err != nil {
		return nil, fmt.Errorf("bulk registry operation on %d devices: %w", len(devices), err)
	}
	return &out, nil
}

// RegistryStatistics reads the device counts (GET /statistics/devices).
func (c *RegistryClient) RegistryStatistics(ctx context.Context) (*hub.RegistryStatistics, error) {
	var out hub.RegistryStatistics
	if err := c.get(ctx, "/statistics/devices", &out); err != nil {
		return nil, fmt.Errorf("registry statistics: %w", err)
	}
	return &out, nil
}

// ServiceStatistics reads the connected device count (GET
// /statistics/service).
func (c *RegistryClient) ServiceStatistics(ctx context.Context) (*hub.ServiceStatistics, error) {
	var out hub.ServiceStatistics
	if err := c.get(ctx, "/statistics/service", &out); err != nil {
		return nil, fmt.Errorf("service statistics: %w", err)
	}
	return &out, nil
}
