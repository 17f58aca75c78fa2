package iotquery

import (
	"errors"
	"strings"
	"testing"
)

func TestParsePrintsCanonicalText(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{"SELECT * FROM devices", "SELECT * FROM devices"},
		{"select * from DEVICES.Modules", "SELECT * FROM devices.modules"},
		{"SELECT * FROM devices WHERE tags.location.region = 'US'",
			"SELECT * FROM devices WHERE (tags.location.region = 'US')"},
		{"SELECT * FROM devices WHERE tags.location.region = 'US' AND properties.reported.telemetryConfig.sendFrequencyInSecs >= 60",
			"SELECT * FROM devices WHERE ((tags.location.region = 'US') AND (properties.reported.telemetryConfig.sendFrequencyInSecs >= 60))"},
		{"SELECT * FROM devices WHERE properties.reported.connectivity IN ['wired', \"wifi\"]",
			"SELECT * FROM devices WHERE (properties.reported.connectivity IN ['wired', 'wifi'])"},
		{"SELECT * FROM devices WHERE is_defined(properties.reported.connectivity)",
			"SELECT * FROM devices WHERE IS_DEFINED(properties.reported.connectivity)"},
		{"SELECT properties.reported.telemetryConfig.status AS status, COUNT() AS numberOfDevices FROM devices GROUP BY properties.reported.telemetryConfig.status",
			"SELECT properties.reported.telemetryConfig.status AS status, COUNT() AS numberOfDevices FROM devices GROUP BY properties.reported.telemetryConfig.status"},
		{"SELECT COUNT() as totalNumberOfDevices FROM devices", "SELECT COUNT() AS totalNumberOfDevices FROM devices"},
		{"SELECT TOP 3 deviceId, tags.location FROM devices", "SELECT TOP 3 deviceId, tags.location FROM devices"},
		{"SELECT * FROM devices WHERE a OR b AND NOT c", "SELECT * FROM devices WHERE (a OR (b AND NOT (c)))"},
		{"SELECT * FROM devices WHERE a + b * -2 <> 0x10 - -x", "SELECT * FROM devices WHERE ((a + (b * -2)) != (16 - -(x)))"},
		{"SELECT * FROM devices WHERE tags.x NIN [1, -2.5, 1e3, null, true, undefined]",
			"SELECT * FROM devices WHERE (tags.x NIN [1, -2.5, 1000, null, true, undefined])"},
		{"SELECT * FROM devices WHERE startswith(deviceId, 'it\\'s\\u0041')", "SELECT * FROM devices WHERE STARTSWITH(deviceId, 'it\\'sA')"},
		{"SELECT * FROM devices WHERE tags.from = 1", "SELECT * FROM devices WHERE (tags.from = 1)"},
		{"SELECT * FROM devices WHERE properties.desired.$version > 1", "SELECT * FROM devices WHERE (properties.desired.$version > 1)"},
	} {
		q, err := Parse(c.in)
		if err != nil {
			t.Errorf("Parse(%q): %v", c.in, err)
			continue
		}
		if got := q.String(); got != c.want {
			t.Errorf("Parse(%q).String()\n got %s\nwant %s", c.in, got, c.want)
		}
	}
}

// TestParseRefusesWithThePosition: every refusal is a *SyntaxError whose
// line and column point at the fault.
func TestParseRefusesWithThePosition(t *testing.T) {
	for _, c := range []struct{ in, at, says string }{
		{"", "1:1", "expected SELECT"},
		{"SELECT", "1:7", "end of query"},
		{"SELECT * FROM", "1:14", "devices"},
		{"SELECT * FROM devices WHERE", "1:28", "end of query"},
		{"SELECT * FROM devices WHERE tags.a = ", "1:38", "end of query"},
		{"SELECT * FROM devices WHERE SELECT * FROM devices", "1:29", "'SELECT'"},
		{"SELECT * FROM devices.jobs", "1:23", "not supported"},
		{"SELECT * FROM twins", "1:15", "'twins'"},
		{"SELECT * FROM devices WHERE tags.a = 'open", "1:38", "Unterminated string"},
		{"SELECT * FROM devices WHERE tags.a = 'a\\n'", "1:40", "escape"},
		{"SELECT * FROM devices WHERE tags.a = 12abc", "1:38", "Invalid number"},
		{"SELECT * FROM devices WHERE tags.a = 1e999", "1:38", "Invalid number"},
		{"SELECT * FROM devices WHERE tags.a # 1", "1:36", "Unexpected character"},
		{"SELECT * FROM devices\nWHERE LOWER(deviceId) = 'a'", "2:7", "Unknown function"},
		{"SELECT * FROM devices WHERE COUNT() > 1", "1:29", "only allowed in SELECT"},
		{"SELECT * FROM devices WHERE STARTSWITH(deviceId)", "1:29", "takes 2"},
		{"SELECT * FROM devices WHERE tags.a IN 'x'", "1:39", "array"},
		{"SELECT * FROM devices WHERE tags.a IN [tags.b]", "1:45", "constants only"},
		{"SELECT * FROM devices GROUP BY status", "1:38", "cannot be grouped"},
		{"SELECT status, deviceId FROM devices GROUP BY status", "1:16", "neither aggregated"},
		{"SELECT COUNT() AS n, deviceId FROM devices", "1:22", "neither aggregated"},
		{"SELECT tags.a, properties.desired.a FROM devices", "1:16", "projected twice"},
		{"SELECT deviceId AS from FROM devices", "1:20", "name after AS"},
		{"SELECT TOP 1.5 * FROM devices", "1:12", "whole number"},
		{"SELECT * FROM devices extra", "1:23", "end of the query"},
		{"SELECT * FROM devices WHERE " + strings.Repeat("(", 100) + "a", "1:93", "nests"},
		{"SELECT * FROM devices WHERE " + strings.Repeat("NOT ", 100) + "a", "1:285", "nests"},
		{"SELECT * FROM devices WHERE tags.a = '\xff'", "1:39", "UTF-8"},
		{"SELECT * FROM devices WHERE deviceId = '" + strings.Repeat("x", MaxLength) + "'", "1:8193", "8192"},
	} {
		_, err := Parse(c.in)
		var se *SyntaxError
		if !errors.As(err, &se) {
			t.Errorf("Parse(%.60q) = %v, want a *SyntaxError", c.in, err)
			continue
		}
		if !strings.HasPrefix(se.Error(), "Line "+c.at+" ") || !strings.Contains(se.Error(), c.says) {
			t.Errorf("Parse(%.60q): %v\nwant Line %s ... %s", c.in, se, c.at, c.says)
		}
	}
}

func TestFoldRewritesEveryPath(t *testing.T) {
	fold := func(segs []string) []string {
		if strings.EqualFold(segs[0], "deviceid") {
			segs[0] = "deviceId"
		}
		return segs
	}
	q, err := Parse("SELECT DeviceId, COUNT() AS n FROM devices WHERE DEVICEID != 'x' GROUP BY deviceid", Options{Fold: fold})
	if err != nil {
		t.Fatal(err)
	}
	if got, want := q.String(), "SELECT deviceId, COUNT() AS n FROM devices WHERE (deviceId != 'x') GROUP BY deviceId"; got != want {
		t.Fatalf("got %s\nwant %s", got, want)
	}
}

func TestRestrictToDevices(t *testing.T) {
	q, _ := Parse("SELECT COUNT() AS n FROM devices.modules WHERE tags.a = 1")
	q.RestrictToDevices([]string{"d1", "it's"})
	if got, want := q.String(), "SELECT COUNT() AS n FROM devices.modules WHERE ((deviceId IN ['d1', 'it\\'s']) AND (tags.a = 1))"; got != want {
		t.Fatalf("got %s\nwant %s", got, want)
	}
	q, _ = Parse("SELECT * FROM devices")
	q.RestrictToDevices(nil)
	if got, want := q.String(), "SELECT * FROM devices WHERE false"; got != want {
		t.Fatalf("got %s\nwant %s", got, want)
	}
}
