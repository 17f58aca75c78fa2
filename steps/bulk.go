package steps

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/cucumber/godog"
	"github.com/hubspec/hubspec/hub"
	"github.com/hubspec/hubspec/steps/internal/vocab"
)

// bulkVocabulary are bulk registry operations (POST /devices): the service
// creates, updates and deletes many devices in one call, and checks which
// of them the hub could not change.
var bulkVocabulary = []vocab.Def{
	step(identities, `^the service applies in bulk:$`, applyBulk,
		"The service sends one bulk registry operation with a row per device: the device's alias (device), the import mode (mode: create, createOrUpdate, update, updateIfMatchETag, delete, deleteIfMatchETag, updateTwin, ...), and, when needed, its status (status: enabled or disabled), the etag it sends (etag: its etag, or a stale etag) and its twin's tags (tags: a JSON object). A refusal of the whole request is left for the next step to check."),
	step(identities, `^the bulk operation succeeds for every device$`, bulkSucceeded,
		"Checks that the hub applied every device's operation of the last bulk call."),
	step(identities, `^the bulk operation fails for:$`, bulkFailedFor,
		"Checks that the hub applied every device's operation of the last bulk call but those of the table's rows, each failing with the IoT Hub error given: one row per device, with the device's alias (device) and the error's name (error)."),
}

// bulkRun is the last bulk registry operation: the alias of each device it
// named, by hub id, and the hub's answer.
type bulkRun struct {
	aliases map[string]string
	result  *hub.BulkRegistryOperationResult
}

func applyBulk(ctx context.Context, table *godog.Table) error {
	w := worldFrom(ctx)
	rows, err := namedColumns(table, "device", "mode")
	if err != nil {
		return err
	}
	run := &bulkRun{aliases: map[string]string{}}
	var devices []hub.ExportImportDevice
	for _, row := range rows {
		d, err := w.bulkDevice(row)
		if err != nil {
			return err
		}
		run.aliases[d.ID] = row["device"]
		devices = append(devices, d)
	}
	w.bulk = nil
	res, err := w.registry.BulkUpdate(ctx, devices)
	if err != nil {
		return w.refused(err)
	}
	run.result, w.bulk = res, run
	return w.bulkApplied(ctx, devices)
}

// bulkDevice is one row's ExportImportDevice.
func (w *world) bulkDevice(row map[string]string) (hub.ExportImportDevice, error) {
	s := w.state(ident{kind: "device", alias: row["device"]})
	d := hub.ExportImportDevice{ID: w.sc.Name(row["device"]), ImportMode: row["mode"], Status: row["status"]}
	if phrase := row["etag"]; phrase != "" {
		etag, err := chooseEtag("with "+phrase, s.etags, latest(s.etags), s.ident.String())
		if err != nil {
			return d, err
		}
		if strings.HasPrefix(d.ImportMode, "updateTwin") {
			etag, err = chooseEtag("with "+phrase, s.twinEtags, latestTwinEtag(s), s.ident.String()+"'s twin")
			if err != nil {
				return d, err
			}
			d.TwinETag = etag
		} else {
			d.ETag = etag
		}
	}
	if tags := row["tags"]; tags != "" {
		if err := json.Unmarshal([]byte(tags), &d.Tags); err != nil {
			return d, fmt.Errorf("the tags of device %q are not a JSON object: %w", row["device"], err)
		}
	}
	return d, nil
}

// latestTwinEtag is the twin etag the service holds of an identity.
func latestTwinEtag(s *identityState) string {
	if s.twin != nil {
		return s.twin.ETag
	}
	return latest(s.twinEtags)
}

// bulkApplied brings what the scenario knows of each device the hub changed
// up to date, reading each until it is visible (a live hub's reads lag its
// writes): a device the bulk call created is deleted after the scenario
// like any other, and one it deleted is gone.
func (w *world) bulkApplied(ctx context.Context, devices []hub.ExportImportDevice) error {
	failed := map[string]bool{}
	for _, e := range w.bulk.result.Errors {
		failed[e.DeviceID] = true
	}
	for _, d := range devices {
		if failed[d.ID] {
			continue
		}
		s := w.state(ident{kind: "device", alias: w.bulk.aliases[d.ID]})
		if strings.HasPrefix(d.ImportMode, "delete") {
			s.gone = true
			continue
		}
		var got *hub.Device
		err := Eventually(ctx, settleWithin, func(ctx context.Context) (err error) {
			got, err = w.registry.GetDevice(ctx, d.ID)
			return err
		})
		if err != nil {
			return fmt.Errorf("read device %q after the bulk call: %w", w.bulk.aliases[d.ID], err)
		}
		if s.created && !s.gone {
			s.seen(got, nil)
			s.etags = sawEtag(s.etags, got.ETag)
		} else {
			s.wasCreated(got, nil)
		}
	}
	return nil
}

func bulkSucceeded(ctx context.Context) error {
	return bulkFailures(ctx, map[string]string{})
}

func bulkFailedFor(ctx context.Context, table *godog.Table) error {
	rows, err := namedColumns(table, "device", "error")
	if err != nil {
		return err
	}
	want := map[string]string{}
	for _, row := range rows {
		want[row["device"]] = row["error"]
	}
	return bulkFailures(ctx, want)
}

// bulkFailures checks that the last bulk call failed for exactly these
// devices (alias to error name), and that the hub said whether it all
// succeeded consistently with them.
func bulkFailures(ctx context.Context, want map[string]string) error {
	w := worldFrom(ctx)
	if w.bulk == nil {
		return errors.New("no bulk operation was answered: run \"the service applies in bulk:\" first (a refused one is checked with \"the hub refuses\")")
	}
	got := map[string]string{}
	for _, e := range w.bulk.result.Errors {
		got[w.bulk.aliases[e.DeviceID]] = e.ErrorCode
	}
	if !maps.Equal(got, want) {
		return fmt.Errorf("the bulk operation failed for %s, want %s", describeFailures(got), describeFailures(want))
	}
	if w.bulk.result.IsSuccessful != (len(want) == 0) {
		return fmt.Errorf("the hub answered isSuccessful %v with %d failures", w.bulk.result.IsSuccessful, len(got))
	}
	return nil
}

func describeFailures(f map[string]string) string {
	if len(f) == 0 {
		return "no device"
	}
	var parts []string
	for _, alias := range slices.Sorted(maps.Keys(f)) {
		parts = append(parts, fmt.Sprintf("%q (%s)", alias, f[alias]))
	}
	return strings.Join(parts, ", ")
}

// namedColumns reads a table whose first row names its columns, requiring
// the named ones; every row becomes a map from column to cell.
func namedColumns(table *godog.Table, required ...string) ([]map[string]string, error) {
	if table == nil || len(table.Rows) < 2 {
		return nil, errors.New("the table needs a header row and at least one row")
	}
	var header []string
	for _, c := range table.Rows[0].Cells {
		header = append(header, strings.TrimSpace(c.Value))
	}
	for _, col := range required {
		if !slices.Contains(header, col) {
			return nil, fmt.Errorf("the table has no %q column (its columns: %s)", col, strings.Join(header, ", "))
		}
	}
	var rows []map[string]string
	for _, r := range table.Rows[1:] {
		row := map[string]string{}
		for i, c := range r.Cells {
			row[header[i]] = strings.TrimSpace(c.Value)
		}
		rows = append(rows, row)
	}
	return rows, nil
}
