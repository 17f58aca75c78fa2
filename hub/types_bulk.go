package hub

// Import modes of a bulk registry operation (ExportImportDevice.ImportMode,
// the JSON spellings of the service API's ImportMode).
const (
	ImportCreate                    = "create"
	ImportCreateOrUpdate            = "createOrUpdate"
	ImportCreateOrUpdateIfMatchETag = "createOrUpdateIfMatchETag"
	ImportUpdate                    = "update"
	ImportUpdateIfMatchETag         = "updateIfMatchETag"
	ImportDelete                    = "delete"
	ImportDeleteIfMatchETag         = "deleteIfMatchETag"
	ImportUpdateTwin                = "updateTwin"
	ImportUpdateTwinIfMatchETag     = "updateTwinIfMatchETag"
)

// ExportImportDevice is one device of a bulk registry operation
// (POST /devices): what to do (ImportMode) to which device, with the
// identity's fields and, optionally, the twin's tags and desired properties.
type ExportImportDevice struct {
	ID             string              `json:"id"`
	ETag           string              `json:"eTag,omitempty"`
	ImportMode     string              `json:"importMode"`
	Status         string              `json:"status,omitempty"`
	StatusReason   *string             `json:"statusReason,omitempty"`
	Authentication *Authentication     `json:"authentication,omitempty"`
	Capabilities   *DeviceCapabilities `json:"capabilities,omitempty"`
	TwinETag       string              `json:"twinETag,omitempty"`
	Tags           map[string]any      `json:"tags,omitempty"`
	Properties     *TwinProperties     `json:"properties,omitempty"`
}

// BulkRegistryOperationResult is the hub's answer to a bulk registry
// operation: IsSuccessful is false when any device's operation failed, and
// Errors says which and why; the others were applied.
type BulkRegistryOperationResult struct {
	IsSuccessful bool                             `json:"isSuccessful"`
	Errors       []DeviceRegistryOperationError   `json:"errors"`
	Warnings     []DeviceRegistryOperationWarning `json:"warnings"`
}

// DeviceRegistryOperationError is one device's failure in a bulk
// operation: ErrorCode is the hub error's name (e.g. "DeviceAlreadyExists").
type DeviceRegistryOperationError struct {
	DeviceID    string `json:"deviceId"`
	ErrorCode   string `json:"errorCode"`
	ErrorStatus string `json:"errorStatus"`
}

// DeviceRegistryOperationWarning is one device's warning in a bulk
// operation.
type DeviceRegistryOperationWarning struct {
	DeviceID      string `json:"deviceId"`
	WarningCode   string `json:"warningCode"`
	WarningStatus string `json:"warningStatus"`
}

// RegistryStatistics is GET /statistics/devices.
type RegistryStatistics struct {
	TotalDeviceCount    int64 `json:"totalDeviceCount"`
	EnabledDeviceCount  int64 `json:"enabledDeviceCount"`
	DisabledDeviceCount int64 `json:"disabledDeviceCount"`
}

// ServiceStatistics is GET /statistics/service.
type ServiceStatistics struct {
	ConnectedDeviceCount int64 `json:"connectedDeviceCount"`
}
