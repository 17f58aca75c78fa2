package emulator

import (
	"fmt"
	"testing"

	"github.com/hubspec/hubspec/internal/iotquery"
)

// BenchmarkQuery10000Twins runs queries over a registry of 10,000 device
// twins with tags and desired properties: one that keeps 1% of them, a
// count grouped by a tag, and the first page of SELECT *. Each iteration
// is one page, as POST /devices/query answers it (parse excluded).
func BenchmarkQuery10000Twins(b *testing.B) {
	r := newRegistry(nil)
	for i := range 10_000 {
		id := fmt.Sprintf("device-%05d", i)
		if _, err := r.putDevice(id, []byte(fmt.Sprintf(`{"deviceId":%q}`, id)), parseIfMatch("")); err != nil {
			b.Fatal(err)
		}
		patch := fmt.Sprintf(`{"tags":{"site":"site-%d","floor":%d},"properties":{"desired":{"mode":"eco","interval":%d}}}`, i%10, i%100, i)
		if _, err := r.patchTwin(id, "", []byte(patch), parseIfMatch("")); err != nil {
			b.Fatal(err)
		}
	}
	for _, c := range []struct{ name, query string }{
		{"where-1pct", "SELECT * FROM devices WHERE tags.floor = 42 AND properties.desired.mode = 'eco'"},
		{"count-group-by", "SELECT tags.site AS site, COUNT() AS n FROM devices GROUP BY tags.site"},
		{"select-star-page", "SELECT * FROM devices"},
		{"projection-page", "SELECT deviceId, tags.site FROM devices WHERE STARTSWITH(deviceId, 'device-0')"},
	} {
		q, err := iotquery.Parse(c.query, iotquery.Options{Fold: foldTwinPath})
		if err != nil {
			b.Fatal(err)
		}
		b.Run(c.name, func(b *testing.B) {
			for b.Loop() {
				if _, err := r.query(q, maxPageSize, pageState{Query: queryID(q)}); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
